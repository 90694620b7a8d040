#include "registry/transport.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <random>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "registry/curl_library.h"

namespace imgbuild::registry {

namespace {

constexpr long kConnectTimeoutSeconds = 30;
constexpr long kStallSeconds = 60;  // a transfer that moves no byte for this long is dead
constexpr long kBufferSize = 256 << 10;
constexpr int kMaxRedirects = 10;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

long stall_seconds() {
    if (const char* e = std::getenv("IMGBUILD_HTTP_TIMEOUT")) {
        long v = std::strtol(e, nullptr, 10);
        if (v > 0) return v;
    }
    return kStallSeconds;
}

// What one attempt collects from curl's callbacks.
struct Exchange {
    const Request* req;
    Response resp;
    long status = 0;
    std::exception_ptr sink_error;
    uint64_t sent = 0;
    bool announced = false;  // on_success called for this response
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* x = static_cast<Exchange*>(user);
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue too): start over
        x->resp.headers.clear();
        x->announced = false;
        auto sp = line.find(' ');
        x->status = sp == std::string_view::npos ? 0 : std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
        return size * n;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    std::string value(line.substr(colon + 1));
    value.erase(0, value.find_first_not_of(" \t"));
    x->resp.headers.emplace_back(lower(std::string(line.substr(0, colon))), value);
    return size * n;
}

bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* x = static_cast<Exchange*>(user);
    size_t len = size * n;
    if (x->status >= 200 && x->status < 300 && x->req->sink) {
        try {
            if (!x->announced && x->req->on_success) x->req->on_success(x->status);
            x->announced = true;
            x->req->sink(data, len);
        } catch (...) {
            x->sink_error = std::current_exception();
            return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
        }
        return len;
    }
    if (x->resp.body.size() < x->req->max_buffered)
        x->resp.body.append(data, std::min(len, x->req->max_buffered - x->resp.body.size()));
    return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
    auto* x = static_cast<Exchange*>(user);
    const Request& r = *x->req;
    uint64_t total = r.body ? r.body->size() : r.body_size;
    size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, total - x->sent));
    if (want == 0) return 0;
    if (r.body) {
        std::copy_n(r.body->data() + x->sent, want, buf);
    } else {
        ssize_t got = ::pread(r.body_fd, buf, want, static_cast<off_t>(r.body_offset + x->sent));
        if (got <= 0) return CURL_READFUNC_ABORT;
        want = static_cast<size_t>(got);
    }
    x->sent += want;
    if (r.sent) r.sent(x->sent);
    return want;
}

bool retryable_code(int code) {
    switch (code) {
        case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
            return true;  // not a name that does not resolve: that is a typo far more often than a blip
        default: return false;
    }
}

}  // namespace

bool TransportError::tls_verification_failed() const { return code_ == CURLE_PEER_FAILED_VERIFICATION; }
bool TransportError::not_tls() const { return code_ == CURLE_SSL_CONNECT_ERROR; }

std::string Response::header(std::string_view name) const {
    std::string n = lower(std::string(name));
    for (const auto& [k, v] : headers)
        if (k == n) return v;
    return {};
}

std::string url_authority(const std::string& url) {
    auto scheme_end = url.find("://");
    std::string scheme = scheme_end == std::string::npos ? "https" : lower(url.substr(0, scheme_end));
    size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    std::string auth = url.substr(start, url.find_first_of("/?#", start) - start);
    if (auto at = auth.rfind('@'); at != std::string::npos) auth = auth.substr(at + 1);
    auth = lower(auth);
    bool has_port = !auth.empty() && auth.front() == '[' ? auth.find("]:") != std::string::npos
                                                         : auth.find(':') != std::string::npos;
    if (!has_port) auth += scheme == "http" ? ":80" : ":443";
    return auth;
}

std::string url_escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            append_hex(out, c, true);
        }
    }
    return out;
}

std::string status_text(long status) {
    static const std::pair<long, const char*> reasons[] = {
        {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"}, {206, "Partial Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {307, "Temporary Redirect"}, {400, "Bad Request"},
        {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
        {408, "Request Timeout"}, {409, "Conflict"}, {413, "Payload Too Large"}, {416, "Range Not Satisfiable"},
        {429, "Too Many Requests"}, {500, "Internal Server Error"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
    for (auto [code, text] : reasons)
        if (code == status) return std::to_string(status) + " " + text;
    return "HTTP " + std::to_string(status);
}

// Idle curl handles; each keeps its connection cache, so a handle taken again reuses the
// connection to the same registry.
struct Transport::Pool {
    std::mutex mu;
    std::vector<CURL*> idle;
    ~Pool() {
        if (idle.empty()) return;
        const CurlLibrary& c = curl_library();
        for (CURL* h : idle) c.easy_cleanup(h);
    }
    CURL* take() {
        {
            std::lock_guard<std::mutex> l(mu);
            if (!idle.empty()) {
                CURL* h = idle.back();
                idle.pop_back();
                return h;
            }
        }
        CURL* h = curl_library().easy_init();
        if (!h) throw Error("libcurl: curl_easy_init failed");
        return h;
    }
    void give(CURL* h) {
        std::lock_guard<std::mutex> l(mu);
        idle.push_back(h);
    }
};

Transport::Transport(bool tls_verify)
    : pool_(std::make_unique<Pool>()), tls_verify_(tls_verify), retry_(retry_policy_from_env()) {}
Transport::~Transport() = default;

void Transport::skip_verify(const std::string& authority) {
    std::lock_guard<std::mutex> l(mu_);
    skip_verify_.insert(authority);
    tls_.erase(authority);
}

const TlsSettings& Transport::tls_for(const std::string& authority) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tls_.find(authority);
    if (it != tls_.end()) return *it->second;
    bool verify = tls_verify_ && !skip_verify_.count(authority);
    // certs.d names dirs "host:port", and "host" for the default port.
    std::string dir = authority;
    if (dir.size() > 4 && dir.compare(dir.size() - 4, 4, ":443") == 0) dir.resize(dir.size() - 4);
    auto settings = std::make_unique<TlsSettings>(tls_settings_for(dir, verify));
    if (dir != authority) {
        TlsSettings with_port = tls_settings_for(authority, verify);
        if (!with_port.sources.empty()) *settings = with_port;
    }
    return *tls_.emplace(authority, std::move(settings)).first->second;
}

Response Transport::perform_once(const Request& req_in) {
    const CurlLibrary& c = curl_library();
    Request req = req_in;
    const std::string origin = url_authority(req.url);
    for (int hop = 0;; ++hop) {
        CURL* h = pool_->take();
        struct Give {
            Pool& p;
            CURL* h;
            ~Give() { p.give(h); }
        } give{*pool_, h};
        c.easy_reset(h);
        Exchange x{&req, {}, 0, nullptr, 0, false};
        curl_slist* headers = nullptr;
        struct FreeList {
            const CurlLibrary& c;
            curl_slist*& l;
            ~FreeList() { c.slist_free_all(l); }
        } free_list{c, headers};
        for (const auto& hd : req.headers) headers = c.slist_append(headers, hd.c_str());
        if (req.attempt_headers)
            for (const auto& hd : req.attempt_headers()) headers = c.slist_append(headers, hd.c_str());
        // Credentials go to the host they were meant for only (a redirect to blob storage
        // elsewhere gets none), whatever curl's own policy is.
        if (req.authorization && url_authority(req.url) == origin)
            headers = c.slist_append(headers, ("Authorization: " + *req.authorization).c_str());
        bool has_body = req.body || req.body_fd >= 0 || req.method == "PUT" || req.method == "POST" || req.method == "PATCH";
        if (has_body) headers = c.slist_append(headers, "Expect:");
        char errbuf[CURL_ERROR_SIZE] = "";
        c.easy_setopt(h, CURLOPT_URL, req.url.c_str());
        c.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        c.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        c.easy_setopt(h, CURLOPT_USERAGENT, "imgbuild/0.1");
        c.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        c.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
        c.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        c.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_seconds());
        c.easy_setopt(h, CURLOPT_BUFFERSIZE, kBufferSize);
        c.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        c.easy_setopt(h, CURLOPT_HEADERDATA, &x);
        c.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        c.easy_setopt(h, CURLOPT_WRITEDATA, &x);
        c.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        // libcurl reads http_proxy, https_proxy, all_proxy and no_proxy itself; it ignores an
        // upper-case HTTP_PROXY (a CGI hazard) unless we pass it on.
        if (req.url.rfind("http://", 0) == 0 && !std::getenv("http_proxy"))
            if (const char* p = std::getenv("HTTP_PROXY")) c.easy_setopt(h, CURLOPT_PROXY, p);
        if (req.method == "HEAD") {
            c.easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (has_body) {
            uint64_t size = req.body ? req.body->size() : (req.body_fd >= 0 ? req.body_size : 0);
            c.easy_setopt(h, CURLOPT_UPLOAD, 1L);
            c.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
            c.easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            c.easy_setopt(h, CURLOPT_READDATA, &x);
            if (req.method != "PUT") c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        } else if (req.method != "GET") {
            c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        }
        if (req.url.rfind("https://", 0) == 0) {
            const TlsSettings& tls = tls_for(url_authority(req.url));
            c.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
            c.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
            curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_COPY};
            if (!tls.ca_pem.empty()) c.easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
            if (!tls.client_cert.empty()) {
                c.easy_setopt(h, CURLOPT_SSLCERT, tls.client_cert.c_str());
                c.easy_setopt(h, CURLOPT_SSLKEY, tls.client_key.c_str());
            }
        }
        CURLcode rc = c.easy_perform(h);
        if (x.sink_error) std::rethrow_exception(x.sink_error);
        if (rc != CURLE_OK)
            throw TransportError(rc, req.method + " " + req.url + ": " + (errbuf[0] ? errbuf : c.easy_strerror(rc)));
        x.resp.status = x.status;
        x.resp.url = req.url;
        if (!req.follow_redirects || !is_redirect(x.status)) return std::move(x.resp);
        char* next = nullptr;
        c.easy_getinfo(h, CURLINFO_REDIRECT_URL, &next);
        if (!next || !*next) return std::move(x.resp);
        if (hop >= kMaxRedirects) throw Error(req_in.method + " " + req_in.url + ": more than 10 redirects");
        std::string next_url = next;
        if (next_url.rfind("http://", 0) != 0 && next_url.rfind("https://", 0) != 0)
            throw Error(req_in.method + " " + req_in.url + ": redirect to a non-HTTP URL refused");
        log::debug("redirect " + req.url + " -> " + next_url);
        req.url = next_url;
        if (x.status == 303 || ((x.status == 301 || x.status == 302) && req.method == "POST")) {
            req.method = "GET";
            req.body.reset();
            req.body_fd = -1;
        }
    }
}

Response Transport::perform(const Request& req) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    for (int attempt = 1;; ++attempt) {
        std::string problem;
        std::optional<std::chrono::seconds> retry_after;
        try {
            Response r = perform_once(req);
            if (!retryable_status(r.status) || attempt >= retry_.max_attempts) return r;
            problem = status_text(r.status);
            retry_after = parse_retry_after(r.header("retry-after"), std::time(nullptr));
            problem = req.method + " " + req.url + ": " + problem;
        } catch (const TransportError& e) {
            if (!retryable_code(e.code()) || attempt >= retry_.max_attempts) throw;
            problem = e.what();  // names the method and URL already
        }
        auto wait = backoff_delay(retry_, attempt, retry_after, jitter(rng));
        log::warn(problem + "; retrying in " +
                  std::to_string(static_cast<double>(wait.count()) / 1000.0).substr(0, 4) + "s (attempt " +
                  std::to_string(attempt + 1) + " of " + std::to_string(retry_.max_attempts) + ")");
        std::this_thread::sleep_for(wait);
        if (req.restart) req.restart();
    }
}

}  // namespace imgbuild::registry
