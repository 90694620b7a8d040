#include "builder/url_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "common/error.h"
#include "common/fs.h"
#include "registry/transport.h"

namespace imgbuild::builder {

namespace {

// "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 7231 IMF-fixdate).
std::optional<timespec> parse_http_date(const std::string& value) {
    std::tm tm{};
    const char* end = ::strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    return timespec{::timegm(&tm), 0};
}

}  // namespace

bool is_url(const std::string& source) { return source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0; }

// The registry transport: its retries, proxies, TLS settings (certs.d) and redirect policy.
Download fetch_url(const std::string& url, const std::filesystem::path& dest) {
    unique_fd fd = open_or_throw(dest, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    auto hash = std::make_unique<Sha256>();
    registry::Request req;
    req.url = url;
    req.sink = [&](const char* data, size_t n) {
        hash->update(data, n);
        write_all(fd.get(), std::string_view(data, n), dest);
    };
    req.restart = [&] {
        if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("truncate", dest.string());
        hash = std::make_unique<Sha256>();
    };
    registry::Response r;
    try {
        registry::Transport transport;
        r = transport.perform(req);
    } catch (const Error& e) {
        throw Error("ADD " + url + ": download failed: " + e.what());
    }
    if (!r.ok()) throw Error("ADD " + url + ": download failed: " + registry::status_text(r.status));
    Download d;
    d.size = hash->bytes();
    d.digest = hash->finish();
    d.last_modified = parse_http_date(r.header("last-modified"));  // the file's mtime, as Docker sets it
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
