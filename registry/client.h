#pragma once
// One registry (or a mirror of one) as the distribution API sees it: the scheme decided once
// (https; plain http only for loopback, insecure-listed registries or --tls-verify=false,
// when the server does not speak TLS), the auth challenge learnt from GET /v2/, and every
// request sent with the right Authorization: Basic from the stored credentials, or a Bearer
// token from the challenge's realm for the request's scopes (anonymous when there are no
// credentials), reused per scope until it expires.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "registry/auth_config.h"
#include "registry/transport.h"
#include "registry/www_authenticate.h"

namespace imgbuild::registry {

struct RegistryOptions {
    bool tls_verify = true;                  // --tls-verify=false: no verification, http allowed
    std::vector<std::string> mirrors;        // docker.io mirrors (--registry-mirror, config file)
    std::vector<std::string> insecure;       // registries like loopback: http allowed
    std::string platform;                    // "os/arch[/variant]"; empty: the host's
    std::string progress = "auto";           // auto, plain, tty, json, quiet
    AuthLocations auth = auth_locations_from_env();
};

// Adds the config file's entries ($IMGBUILD_REGISTRIES_CONF, default
// /etc/imgbuild/registries.json: {"registry-mirrors": [URL...], "insecure-registries": [HOST...]},
// the keys of Docker's daemon.json) to `opts`.
void add_registry_config_file(RegistryOptions& opts);

// A response that is not what the protocol wants, as one line: "401 Unauthorized: run
// imgbuild login HOST", "404 Not Found: MANIFEST_UNKNOWN: manifest unknown".
class RegistryError : public Error {
public:
    RegistryError(long status, const std::string& what) : Error(what), status_(status) {}
    [[nodiscard]] long status() const { return status_; }

private:
    long status_;
};

class Client {
public:
    // `registry` as in a reference ("docker.io", "127.0.0.1:5000"); `base_url` overrides where
    // it is reached ("https://mirror.example" for a mirror).
    Client(Transport& transport, std::string registry, const RegistryOptions& opts, std::string base_url = "");

    [[nodiscard]] const std::string& registry() const { return registry_; }
    // Credentials for this client instead of the auth files (login checks them this way).
    void use_credentials(Credentials c);

    // Sends `req` (its url a path "/v2/..." on this registry, or an absolute URL the registry
    // gave, e.g. an upload Location) with authorization for `scopes`
    // ("repository:app:pull,push"). A 401 with a new challenge is answered once.
    Response send(Request req, const std::vector<std::string>& scopes);

    // Throws RegistryError describing a failed response; `what` names the request.
    [[noreturn]] void fail(const Response& r, const std::string& what) const;

    // GET /v2/ (once): decides the scheme and learns the challenge. Throws on TLS trouble
    // with the certs.d hint, or when the server is not a registry.
    void ping();

private:
    std::optional<std::string> authorization(const std::vector<std::string>& scopes, bool refresh);
    std::string bearer_token(const Challenge& ch, const std::vector<std::string>& scopes, bool refresh);
    const std::optional<Credentials>& credentials();

    Transport& transport_;
    std::string registry_;
    std::string creds_for_;      // whose credentials: the registry's, or a mirror's own host
    const RegistryOptions& opts_;
    std::string base_;           // "https://host:port"
    std::mutex mu_;
    bool pinged_ = false;
    std::optional<Challenge> challenge_;
    bool creds_loaded_ = false;
    std::optional<Credentials> creds_;
    struct Token {
        std::string value;
        std::chrono::steady_clock::time_point expires;
    };
    std::map<std::string, Token> tokens_;  // by scope list
};

// "repository:NAME:pull" and friends.
[[nodiscard]] std::string pull_scope(const std::string& repository);
[[nodiscard]] std::string push_scope(const std::string& repository);

}  // namespace imgbuild::registry
