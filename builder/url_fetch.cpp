#include "builder/url_fetch.h"

#include <curl/curl.h>
#include <fcntl.h>

#include "common/error.h"
#include "common/fs.h"
#include "registry/curl_library.h"

namespace imgbuild::builder {

namespace {

struct Sink {
    int fd;
    Sha256 hash;
    std::filesystem::path path;
};

size_t on_data(char* data, size_t size, size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    size_t len = size * n;
    sink->hash.update(data, len);
    write_all(sink->fd, std::string_view(data, len), sink->path);
    return len;
}

}  // namespace

bool is_url(const std::string& source) { return source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0; }

Download fetch_url(const std::string& url, const std::filesystem::path& dest) {
    const registry::CurlLibrary& c = registry::curl_library();
    unique_fd fd = open_or_throw(dest, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    Sink sink{fd.get(), Sha256(), dest};
    CURL* curl = c.easy_init();
    if (!curl) throw Error("ADD " + url + ": libcurl failed to initialise");
    char errbuf[CURL_ERROR_SIZE] = "";
    c.easy_setopt(curl, CURLOPT_URL, url.c_str());
    c.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    c.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    c.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    c.easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    c.easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    c.easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    c.easy_setopt(curl, CURLOPT_FILETIME, 1L);  // Last-Modified: the file's mtime, as Docker sets it
    CURLcode rc = c.easy_perform(curl);
    long status = 0;
    curl_off_t filetime = -1;
    c.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    c.easy_getinfo(curl, CURLINFO_FILETIME_T, &filetime);
    c.easy_cleanup(curl);
    if (rc != CURLE_OK)
        throw Error("ADD " + url + ": download failed: " + (errbuf[0] ? errbuf : c.easy_strerror(rc)) +
                    (status ? " (HTTP " + std::to_string(status) + ")" : ""));
    Download d;
    d.size = sink.hash.bytes();
    d.digest = sink.hash.finish();
    if (filetime >= 0) d.last_modified = timespec{static_cast<time_t>(filetime), 0};
    std::string path = url.substr(url.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    auto slash = path.find('/');
    if (slash != std::string::npos) {
        std::string tail = path.substr(path.rfind('/') + 1);
        d.file_name = tail;
    }
    return d;
}

}  // namespace imgbuild::builder
