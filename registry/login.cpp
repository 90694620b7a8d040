#include "registry/login.h"

#include "registry/reference.h"

namespace imgbuild::registry {

std::string registry_of(const std::string& server) {
    std::string s = server;
    if (auto p = s.find("://"); p != std::string::npos) s = s.substr(p + 3);
    s = s.substr(0, s.find('/'));
    if (s.empty() || s == "index.docker.io" || s == "registry-1.docker.io") return kDockerHub;
    return s;
}

void check_credentials(const std::string& registry, const RegistryOptions& opts, const Credentials& creds) {
    Transport transport(opts.tls_verify);
    Client c(transport, registry, opts);
    c.use_credentials(creds);
    Request req;
    req.url = "/v2/";
    Response r;
    try {
        r = c.send(req, {});
    } catch (const RegistryError& e) {
        if (e.status() == 401 || e.status() == 403)
            throw RegistryError(e.status(), status_text(e.status()) + ": wrong username or password");
        throw;
    }
    if (r.status == 401 || r.status == 403)
        throw RegistryError(r.status, status_text(r.status) + ": wrong username or password");
    if (!r.ok()) c.fail(r, "GET /v2/");
}

}  // namespace imgbuild::registry
