#pragma once
// ADD <url>: downloads through the registry transport (registry/transport.h: retries, proxies,
// certs.d, redirects) into a file, streaming, with the digest computed on the way.
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "common/digest.h"

namespace imgbuild::builder {

struct Download {
    Digest digest;
    uint64_t size = 0;
    std::string file_name;  // the last path component of the URL ("" when it has none)
    std::optional<timespec> last_modified;  // the Last-Modified header, when the server sent one
};

// Fetches `url` (http or https, redirects followed) into `dest`. Throws Error naming the URL
// on a network failure or an HTTP status >= 400.
Download fetch_url(const std::string& url, const std::filesystem::path& dest);

[[nodiscard]] bool is_url(const std::string& source);

}  // namespace imgbuild::builder
