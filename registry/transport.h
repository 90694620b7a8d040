#pragma once
// The project's one HTTP client (libcurl, loaded on first use): connections reused through a
// pool of curl handles, TLS per host (tls.h), proxies from the environment, timeouts, and
// retries with backoff on connection errors, 5xx and 429 (retry.h). Bodies stream: a response
// body goes to a sink as it arrives, a request body is read from a file range as it is sent.
// Redirects are followed by hand so that an Authorization header never goes to another host.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "registry/retry.h"
#include "registry/tls.h"

namespace imgbuild::registry {

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;          // "Name: value"
    std::optional<std::string> authorization;  // Authorization value: sent to this URL's host only
    // Body: `body` bytes, or `body_size` bytes of `body_fd` from `body_offset`.
    std::optional<std::string> body;
    int body_fd = -1;
    uint64_t body_offset = 0, body_size = 0;
    // The body of a 2xx response goes here as it arrives (else it is buffered, up to
    // max_buffered). May throw: the transfer stops and perform() rethrows, never retrying.
    std::function<void(const char*, size_t)> sink;
    // Called before a retry sends the request again: a sink starts over.
    std::function<void()> restart;
    // Extra headers computed for each attempt (a Range that resumes an interrupted download).
    std::function<std::vector<std::string>()> attempt_headers;
    // The status of a 2xx response, before its first body byte reaches the sink (a resumed
    // download learns whether the server sent the rest, 206, or everything again, 200).
    std::function<void(long status)> on_success;
    // Upload progress: bytes of the body sent so far in this attempt.
    std::function<void(uint64_t)> sent;
    bool follow_redirects = true;
    size_t max_buffered = 4 << 20;
};

struct Response {
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    std::string body;                                          // when no sink took it
    std::string url;                                           // after redirects
    [[nodiscard]] std::string header(std::string_view name) const;  // "" when absent
    [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

// A failure below HTTP (connect, TLS, reset); `code` is the CURLcode.
class TransportError : public Error {
public:
    TransportError(int code, const std::string& what) : Error(what), code_(code) {}
    [[nodiscard]] int code() const { return code_; }
    [[nodiscard]] bool tls_verification_failed() const;
    [[nodiscard]] bool not_tls() const;  // the server answered TLS with plain HTTP

private:
    int code_;
};

class Transport {
public:
    explicit Transport(bool tls_verify = true);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Hosts (host:port) whose certificates are not verified (--tls-verify=false for them).
    void skip_verify(const std::string& authority);
    // One request with retries; returns the last response (any status) or throws
    // TransportError after the last attempt failed below HTTP.
    Response perform(const Request& req);
    // One attempt, redirects followed; no retries.
    Response perform_once(const Request& req);

private:
    struct Pool;
    const TlsSettings& tls_for(const std::string& authority);
    std::unique_ptr<Pool> pool_;
    bool tls_verify_;
    RetryPolicy retry_;
    std::mutex mu_;
    std::set<std::string> skip_verify_;
    std::map<std::string, std::unique_ptr<TlsSettings>> tls_;
};

// "host:port" of a URL, the port made explicit (80 for http, 443 for https).
[[nodiscard]] std::string url_authority(const std::string& url);
// "%xx" escaping of a query value.
[[nodiscard]] std::string url_escape(std::string_view s);
// "status reason" ("401 Unauthorized").
[[nodiscard]] std::string status_text(long status);

}  // namespace imgbuild::registry
