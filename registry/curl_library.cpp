#include "registry/curl_library.h"

#include <dlfcn.h>

#include <string>

#include "common/error.h"

namespace imgbuild::registry {

namespace {

template <typename F>
void bind(void* lib, const char* name, F& out) {
    void* sym = ::dlsym(lib, name);
    if (!sym) throw Error(std::string("load libcurl.so.4: symbol ") + name + " missing");
    out = reinterpret_cast<F>(sym);
}

CurlLibrary load() {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw Error(std::string("load libcurl.so.4: ") + ::dlerror() + " (install libcurl4)");
    CurlLibrary c{};
    CURLcode (*global_init)(long) = nullptr;
    bind(lib, "curl_global_init", global_init);
    bind(lib, "curl_easy_init", c.easy_init);
    bind(lib, "curl_easy_setopt", c.easy_setopt);
    bind(lib, "curl_easy_perform", c.easy_perform);
    bind(lib, "curl_easy_getinfo", c.easy_getinfo);
    bind(lib, "curl_easy_cleanup", c.easy_cleanup);
    bind(lib, "curl_easy_strerror", c.easy_strerror);
    bind(lib, "curl_easy_reset", c.easy_reset);
    bind(lib, "curl_slist_append", c.slist_append);
    bind(lib, "curl_slist_free_all", c.slist_free_all);
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl: curl_global_init failed");
    return c;  // the library stays loaded for the life of the process
}

}  // namespace

const CurlLibrary& curl_library() {
    // A function-local static, not std::call_once (pthread_once: a C frame that load()'s
    // exception must not cross with the static unwinder, cmake/libraries.cmake). As with
    // call_once, a load that throws is tried again by the next call.
    static const CurlLibrary lib = load();
    return lib;
}

}  // namespace imgbuild::registry
