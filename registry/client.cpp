#include "registry/client.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "oci/image.h"
#include "registry/reference.h"

namespace imgbuild::registry {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The registry's error document ({"errors": [{"code", "message"}]}) as "CODE: message".
std::string error_detail(const Response& r) {
    if (r.body.empty()) return {};
    try {
        json j = json::parse(r.body);
        std::string out;
        if (j.is_object() && j.contains("errors") && j["errors"].is_array())
            for (const auto& e : j["errors"]) {
                if (!e.is_object()) continue;
                if (!out.empty()) out += "; ";
                out += e.value("code", "") + (e.contains("message") ? ": " + e.value("message", "") : "");
            }
        if (!out.empty()) return out;
        if (j.is_object() && j.contains("details")) return j.value("details", "");
    } catch (const json::exception&) {
    }
    std::string line = r.body.substr(0, r.body.find('\n'));
    return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
        if (x == s) return true;
    return false;
}

}  // namespace

void add_registry_config_file(RegistryOptions& opts) {
    const char* env = std::getenv("IMGBUILD_REGISTRIES_CONF");
    fs::path file = env && *env ? fs::path(env) : fs::path("/etc/imgbuild/registries.json");
    std::error_code ec;
    if (!fs::exists(file, ec)) return;
    json j = oci::parse_json(read_file(file), file.string());
    auto list = [&](const char* key, std::vector<std::string>& out) {
        auto it = j.find(key);
        if (it == j.end()) return;
        if (!it->is_array()) throw Error(file.string() + ": \"" + key + "\" is not a list");
        for (const auto& v : *it) {
            if (!v.is_string()) throw Error(file.string() + ": \"" + key + "\" holds a non-string");
            out.push_back(v.get<std::string>());
        }
    };
    list("registry-mirrors", opts.mirrors);
    list("insecure-registries", opts.insecure);
}

std::string pull_scope(const std::string& repository) { return "repository:" + repository + ":pull"; }
std::string push_scope(const std::string& repository) { return "repository:" + repository + ":pull,push"; }

Client::Client(Transport& transport, std::string registry, const RegistryOptions& opts, std::string base_url)
    : transport_(transport), registry_(std::move(registry)), opts_(opts), base_(std::move(base_url)) {
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
    // A mirror gets its own host's credentials, never those of the registry it mirrors.
    creds_for_ = registry_;
    if (!base_.empty()) {
        std::string a = base_.substr(base_.find("://") == std::string::npos ? 0 : base_.find("://") + 3);
        creds_for_ = a.substr(0, a.find('/'));
    }
    if (!opts_.tls_verify || contains(opts_.insecure, registry_)) transport_.skip_verify(url_authority("https://" + api_host(registry_)));
}

void Client::use_credentials(Credentials c) {
    std::lock_guard<std::mutex> l(mu_);
    creds_ = std::move(c);
    creds_loaded_ = true;
    tokens_.clear();
}

const std::optional<Credentials>& Client::credentials() {
    if (!creds_loaded_) {
        creds_ = find_credentials(opts_.auth, creds_for_);
        creds_loaded_ = true;
    }
    return creds_;
}

void Client::ping() {
    std::lock_guard<std::mutex> l(mu_);
    if (pinged_) return;
    const std::string host = api_host(registry_);
    bool http_allowed = !opts_.tls_verify || is_loopback_registry(registry_) || contains(opts_.insecure, registry_);
    std::vector<std::string> bases;
    if (!base_.empty()) bases = {base_};
    else if (http_allowed) bases = {"https://" + host, "http://" + host};
    else bases = {"https://" + host};
    Response r;
    for (size_t i = 0; i < bases.size(); ++i) {
        Request req;
        req.url = bases[i] + "/v2/";
        bool last = i + 1 == bases.size();
        try {
            // Where http may follow, https is a probe (one try, as Docker's); the last base
            // gets the retries.
            r = last ? transport_.perform(req) : transport_.perform_once(req);
            base_ = bases[i];
            break;
        } catch (const TransportError& e) {
            if (e.tls_verification_failed() && (opts_.tls_verify || last))
                throw Error(registry_ + ": TLS certificate not trusted (" + e.what() + "): put its CA in /etc/docker/certs.d/" +
                            registry_ + "/ca.crt (or /etc/containers/certs.d/), or use --tls-verify=false");
            // A registry where http is allowed and https fails (no TLS spoken there, or no
            // https route at all, e.g. only an http proxy) is reached over http, as Docker does.
            if (!last) {
                log::debug(registry_ + ": https failed (" + std::string(e.what()) + "), trying http");
                continue;
            }
            throw;
        }
    }
    if (r.status == 401) {
        for (auto& ch : parse_www_authenticate(r.header("www-authenticate")))
            if (ch.scheme == "bearer" || ch.scheme == "basic") {
                challenge_ = ch;
                break;
            }
    } else if (r.status == 404) {
        throw RegistryError(404, base_ + "/v2/: 404 Not Found: not an OCI distribution (v2) registry");
    } else if (!r.ok() && r.status != 403) {
        fail(r, "GET " + base_ + "/v2/");
    }
    log::debug("registry " + registry_ + ": " + base_ + (challenge_ ? " (" + challenge_->scheme + " auth)" : ""));
    pinged_ = true;
}

std::string Client::bearer_token(const Challenge& ch, const std::vector<std::string>& scopes, bool refresh) {
    std::string key;
    for (const auto& s : scopes) key += s + " ";
    auto now = std::chrono::steady_clock::now();
    if (!refresh)
        if (auto it = tokens_.find(key); it != tokens_.end() && it->second.expires > now) return it->second.value;
    std::string realm = ch.param("realm");
    if (realm.empty()) throw Error(registry_ + ": Bearer challenge without a realm");
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    url += "service=" + url_escape(ch.param("service"));
    for (const auto& s : scopes) url += "&scope=" + url_escape(s);
    Request req;
    req.url = url;
    const auto& creds = credentials();
    // The token server is where credentials are meant to go (the registry named it).
    if (creds) req.authorization = "Basic " + base64_encode(creds->username + ":" + creds->password);
    Response r = transport_.perform(req);
    if (r.status == 401 || r.status == 403)
        throw RegistryError(r.status, status_text(r.status) + ": " +
                                          (creds ? "the token server refused the credentials: run imgbuild login " + registry_
                                                 : "run imgbuild login " + registry_));
    if (!r.ok()) fail(r, "token from " + realm);
    json j = oci::parse_json(r.body, "token from " + realm);
    std::string token = j.value("token", "");
    if (token.empty()) token = j.value("access_token", "");
    if (token.empty()) throw Error("token from " + realm + ": the answer holds no token");
    long expires_in = j.contains("expires_in") && j["expires_in"].is_number() ? j["expires_in"].get<long>() : 60;
    if (expires_in < 60) expires_in = 60;  // the token spec's minimum
    // Renew a little early: a token that expires in flight costs a 401 round trip.
    tokens_[key] = {token, now + std::chrono::seconds(expires_in) - std::chrono::seconds(10)};
    return token;
}

std::optional<std::string> Client::authorization(const std::vector<std::string>& scopes, bool refresh) {
    std::lock_guard<std::mutex> l(mu_);
    if (!challenge_) return std::nullopt;
    if (challenge_->scheme == "basic") {
        const auto& creds = credentials();
        if (!creds) return std::nullopt;
        return "Basic " + base64_encode(creds->username + ":" + creds->password);
    }
    return "Bearer " + bearer_token(*challenge_, scopes, refresh);
}

Response Client::send(Request req, const std::vector<std::string>& scopes) {
    ping();
    if (!req.url.empty() && req.url.front() == '/') req.url = base_ + req.url;
    req.authorization = authorization(scopes, false);
    Response r = transport_.perform(req);
    if (r.status != 401) return r;
    // A first challenge (the ping answered 200), or a token that no longer does: once more.
    bool had_challenge = false;
    {
        std::lock_guard<std::mutex> l(mu_);
        had_challenge = challenge_.has_value();
        for (auto& ch : parse_www_authenticate(r.header("www-authenticate")))
            if (ch.scheme == "bearer" || ch.scheme == "basic") {
                ch.params.erase("scope");
                ch.params.erase("error");
                challenge_ = ch;
                break;
            }
        if (!challenge_ || (challenge_->scheme == "basic" && !credentials())) return r;
    }
    if (had_challenge && challenge_->scheme == "basic") return r;  // the credentials were wrong
    auto auth = authorization(scopes, true);
    if (!auth) return r;
    if (req.restart) req.restart();
    req.authorization = auth;
    return transport_.perform(req);
}

void Client::fail(const Response& r, const std::string& what) const {
    if (r.status == 401 || r.status == 403) {
        std::string detail = error_detail(r);
        throw RegistryError(r.status, status_text(r.status) + ": run imgbuild login " + registry_ +
                                          (detail.empty() || r.status == 401 ? "" : " (" + detail + ")"));
    }
    std::string detail = error_detail(r);
    throw RegistryError(r.status, what + ": " + status_text(r.status) + (detail.empty() ? "" : ": " + detail));
}

}  // namespace imgbuild::registry
