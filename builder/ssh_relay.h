#pragma once
// RUN --mount=type=ssh: a listening socket that relays every connection to an ssh agent's
// socket, as BuildKit's session proxy does. The RUN gets our socket (owned and moded as the
// mount asks) instead of the user's, whose path and permissions stay unseen.
#include <sys/types.h>

#include <filesystem>
#include <memory>

namespace imgbuild::builder {

class SshRelay {
public:
    // Listens at `socket_path` (must not exist; its parent dir must) with `mode`, uid:gid;
    // each accepted connection is joined with a new connection to `agent`. Error naming the
    // path on failure.
    SshRelay(const std::filesystem::path& socket_path, const std::filesystem::path& agent, mode_t mode, uid_t uid, gid_t gid);
    // Stops accepting, closes every relayed connection, removes the socket.
    ~SshRelay();
    SshRelay(const SshRelay&) = delete;
    SshRelay& operator=(const SshRelay&) = delete;

    struct State;

private:
    std::unique_ptr<State> state_;
};

}  // namespace imgbuild::builder
