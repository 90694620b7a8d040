#include "runtime/port_forward.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <thread>

#include "common/error.h"

namespace imgbuild::runtime {
namespace {

sockaddr_in ipv4_address(const std::string& ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) throw UsageError("not an IPv4 address: \"" + ip + "\"");
    return a;
}

bool write_fully(int fd, const char* data, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Copies both ways until both directions reached EOF (a half-close is passed on).
void proxy(unique_fd a, unique_fd b) {
    pollfd fds[2] = {{a.get(), POLLIN, 0}, {b.get(), POLLIN, 0}};
    int open_dirs = 2;
    char buf[65536];
    while (open_dirs > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; ++i) {
            if (!fds[i].revents) continue;
            int from = fds[i].fd, to = i == 0 ? b.get() : a.get();
            ssize_t n = ::recv(from, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ::shutdown(to, SHUT_WR);
                fds[i].fd = -1;
                --open_dirs;
                if (n < 0) return;  // reset: drop the connection
                continue;
            }
            if (!write_fully(to, buf, static_cast<size_t>(n))) return;
        }
    }
}

void forward_loop(unique_fd netns, std::vector<Forward> forwards) {
    // This thread, and the connections' threads started from it, live in the container's
    // network namespace; the listeners stay in the host's.
    if (::setns(netns.get(), CLONE_NEWNET) != 0) return;
    netns.reset();
    std::vector<pollfd> fds;
    for (const auto& f : forwards) fds.push_back({f.listener.get(), POLLIN, 0});
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            unique_fd client(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
            if (!client) continue;
            unique_fd inside(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (!inside) continue;
            sockaddr_in to = ipv4_address("127.0.0.1", forwards[i].container_port);
            if (::connect(inside.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) continue;
            std::thread(proxy, std::move(client), std::move(inside)).detach();
        }
    }
}

}  // namespace

unique_fd listen_tcp(const std::string& ip, uint16_t port, uint16_t* bound) {
    std::string what = ip + ":" + std::to_string(port);
    sockaddr_in a = ipv4_address(ip, port);
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket", "listen " + what);
    int one = 1;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_errno("bind", what);
    if (::listen(fd.get(), 128) != 0) throw_errno("listen", what);
    socklen_t len = sizeof a;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw_errno("getsockname", what);
    if (bound) *bound = ntohs(a.sin_port);
    return fd;
}

void start_port_forwarding(pid_t pid, std::vector<Forward> forwards) {
    if (forwards.empty()) return;
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    unique_fd netns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) throw_errno("open", path);
    std::thread(forward_loop, std::move(netns), std::move(forwards)).detach();
}

}  // namespace imgbuild::runtime
