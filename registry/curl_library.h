#pragma once
// libcurl, loaded the first time HTTP is needed. Linking it would make every imgbuild command
// (run, images, a cached build) pay ~5 ms of start-up for its ~25 dependent libraries (GnuTLS,
// Kerberos, LDAP, ...), while only ADD <url> and the registry client use it.
#include <curl/curl.h>

namespace imgbuild::registry {

struct CurlLibrary {
    CURL* (*easy_init)();
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    void (*easy_cleanup)(CURL*);
    const char* (*easy_strerror)(CURLcode);
    void (*easy_reset)(CURL*);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
};

// Loads libcurl.so.4 and runs curl_global_init, once per process. Throws Error naming the
// library and dlerror() when it cannot (install libcurl4).
[[nodiscard]] const CurlLibrary& curl_library();

}  // namespace imgbuild::registry
