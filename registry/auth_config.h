#pragma once
// Registry credentials where the Docker CLI and podman keep them:
//  - $DOCKER_CONFIG/config.json (default ~/.docker/config.json): "auths" {host: {"auth":
//    base64(user:pass)}}, "credHelpers" {host: helper}, "credsStore" helper, where a helper is
//    the program docker-credential-<helper> (get/store/erase, JSON on stdin/stdout);
//  - podman's $REGISTRY_AUTH_FILE and ${XDG_RUNTIME_DIR}/containers/auth.json (same "auths").
// Lookup order: $REGISTRY_AUTH_FILE, the Docker config, then podman's runtime auth.json: what
// `imgbuild login` wrote (the Docker config) wins over a podman login left in the runtime dir.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imgbuild::registry {

struct Credentials {
    std::string username;
    std::string password;  // or an identity token when username is "<token>"
};

struct AuthLocations {
    std::filesystem::path docker_config;            // .../config.json
    std::vector<std::filesystem::path> read_also;   // podman's files, in lookup order
    std::optional<std::filesystem::path> first;     // $REGISTRY_AUTH_FILE
};

// From $DOCKER_CONFIG, $HOME, $REGISTRY_AUTH_FILE and $XDG_RUNTIME_DIR.
[[nodiscard]] AuthLocations auth_locations_from_env();

// The key a registry has in "auths": docker.io's is "https://index.docker.io/v1/".
[[nodiscard]] std::string auth_key(const std::string& registry);

// Credentials for `registry`, or nullopt. Throws Error naming the file or helper when one is
// unreadable or malformed.
[[nodiscard]] std::optional<Credentials> find_credentials(const AuthLocations& where, const std::string& registry);

// login: into the credential helper configured for `registry` (credHelpers, credsStore), else
// into "auths" of the Docker config (written atomically, mode 0600; other fields kept).
// Returns where the credentials went (a file path or "docker-credential-NAME").
std::string store_credentials(const AuthLocations& where, const std::string& registry, const Credentials& creds);

// logout: removes them from the helper or the Docker config (and from podman's files we
// read). Returns false when there was nothing to remove.
bool erase_credentials(const AuthLocations& where, const std::string& registry);

[[nodiscard]] std::string base64_encode(std::string_view in);
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view in);

}  // namespace imgbuild::registry
