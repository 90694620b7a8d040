#pragma once
// `build --secret` and `build --ssh`: what the build may hand to RUN --mount=type=secret|ssh.
// A secret's value is read only when a RUN mounts it and never appears in a message, a
// log, the cache key or the store; these forms follow docker buildx:
//   --secret id=ID[,src=FILE|source=FILE][,env=VAR][,type=file|env]
//   --secret id=ID               the env var ID when set, else the file ID
//   --ssh default|ID[=SOCKET]    an agent socket; none given: $SSH_AUTH_SOCK
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imgbuild::builder {

struct SecretSource {
    std::string id;
    std::string file;  // path of the file holding the value ("" when none)
    std::string env;   // name of the environment variable holding it ("" when none)
};

struct SshSource {
    std::string id;
    std::filesystem::path socket;  // the agent's socket
};

// Throw UsageError naming the flag (never a value) on a malformed one.
[[nodiscard]] SecretSource parse_secret_flag(const std::string& text);
// `ssh_auth_sock`: the caller's $SSH_AUTH_SOCK (nullptr when unset).
[[nodiscard]] SshSource parse_ssh_flag(const std::string& text, const char* ssh_auth_sock);

// The largest secret accepted (BuildKit's limit).
inline constexpr size_t kMaxSecretSize = 500 * 1024;

// The value of a secret given with --secret: from its env var (when set) or its file.
// nullopt for `--secret id=X` when neither X exists; otherwise a missing or unreadable
// file is an Error naming the id and the file, never the value.
[[nodiscard]] std::optional<std::string> read_secret(const SecretSource& source);

}  // namespace imgbuild::builder
