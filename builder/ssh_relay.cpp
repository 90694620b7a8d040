#include "builder/ssh_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

sockaddr_un unix_address(const fs::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.native().size() >= sizeof addr.sun_path)
        throw Error("ssh socket path " + path.string() + " is longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
    std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
    return addr;
}

unique_fd unix_socket(const fs::path& path_for_errors) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("socket", path_for_errors.string());
    return unique_fd(fd);
}

// Copies what one side has to the other; false when a side closed.
bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += w;
    }
    return true;
}

}  // namespace

struct SshRelay::State {
    fs::path socket_path, agent;
    unique_fd listener;
    int stop_pipe[2] = {-1, -1};
    std::thread acceptor;
    std::mutex mu;
    std::vector<std::thread> connections;

    void relay(unique_fd client) {
        unique_fd upstream = unix_socket(agent);
        sockaddr_un addr = unix_address(agent);
        if (::connect(upstream.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;  // client sees EOF
        pollfd fds[3] = {{client.get(), POLLIN, 0}, {upstream.get(), POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 3, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[2].revents) return;
            if (fds[0].revents && !pump(client.get(), upstream.get())) return;
            if (fds[1].revents && !pump(upstream.get(), client.get())) return;
        }
    }

    void accept_loop() {
        pollfd fds[2] = {{listener.get(), POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[1].revents) return;
            int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::lock_guard<std::mutex> lock(mu);
            connections.emplace_back([this, c] {
                try {
                    relay(unique_fd(c));
                } catch (const std::exception&) {  // the client sees its connection close
                }
            });
        }
    }
};

SshRelay::SshRelay(const fs::path& socket_path, const fs::path& agent, mode_t mode, uid_t uid, gid_t gid)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.socket_path = socket_path;
    s.agent = agent;
    s.listener = unix_socket(socket_path);
    sockaddr_un addr = unix_address(socket_path);
    if (::bind(s.listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind", socket_path.string());
    if (::chown(socket_path.c_str(), uid, gid) != 0) throw_errno("chown", socket_path.string());
    if (::chmod(socket_path.c_str(), mode & 07777) != 0) throw_errno("chmod", socket_path.string());
    if (::listen(s.listener.get(), 16) != 0) throw_errno("listen", socket_path.string());
    if (::pipe2(s.stop_pipe, O_CLOEXEC) != 0) throw_errno("pipe", socket_path.string());
    s.acceptor = std::thread([&s] { s.accept_loop(); });
}

SshRelay::~SshRelay() {
    State& s = *state_;
    if (s.stop_pipe[1] >= 0) (void)::write(s.stop_pipe[1], "x", 1);  // wakes every poll: the pipe stays readable
    if (s.acceptor.joinable()) s.acceptor.join();
    for (auto& t : s.connections) t.join();
    for (int fd : s.stop_pipe)
        if (fd >= 0) ::close(fd);
    ::unlink(s.socket_path.c_str());
}

}  // namespace imgbuild::builder
