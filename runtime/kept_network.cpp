#include "runtime/kept_network.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/network_private.h"

namespace imgbuild::runtime {
namespace {

constexpr int kReadyFd = 3, kReleaseFd = 4;

// lo up, with raw syscalls: the holder is a fork of a possibly multi-threaded process.
bool loopback_up() {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ifreq req{};
    std::memcpy(req.ifr_name, "lo", 3);
    bool ok = ::ioctl(fd, SIOCGIFFLAGS, &req) == 0;
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
    ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &req) == 0;
    ::close(fd);
    return ok;
}

// The holder: in its new network namespace from clone3 on; only async-signal-safe calls.
// It keeps nothing of imgbuild's open (a pipe it held would keep a reader waiting), says
// "1" once lo is up and waits for its release pipe to close.
[[noreturn]] void holder_main(pid_t parent, int null_fd, int ready_fd, int release_fd) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != parent) _exit(1);
    (void)::setpgid(0, 0);  // a Ctrl-C on the terminal is for the container, not its network
    int high_ready = ::fcntl(ready_fd, F_DUPFD, 10), high_release = ::fcntl(release_fd, F_DUPFD, 10);
    if (high_ready < 0 || high_release < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(null_fd, 1) < 0 ||
        ::dup2(null_fd, 2) < 0 || ::dup2(high_ready, kReadyFd) < 0 || ::dup2(high_release, kReleaseFd) < 0)
        _exit(1);
    if (::syscall(SYS_close_range, kReleaseFd + 1, ~0U, 0) != 0) _exit(1);
    if (!loopback_up() || ::write(kReadyFd, "1", 1) != 1) _exit(1);
    ::close(kReadyFd);
    char c;
    while (::read(kReleaseFd, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

void reap(int pidfd) {
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
    }
}

}  // namespace

KeptNetwork::KeptNetwork(NetworkMode mode, const std::filesystem::path& log_file) {
    if (mode == NetworkMode::host) throw std::logic_error("KeptNetwork: the host network is not a namespace to keep");
    unique_fd null_fd = open_or_throw("/dev/null", O_RDWR | O_CLOEXEC);
    Pipe ready = make_pipe("network holder ready pipe");
    Pipe release = make_pipe("network holder release pipe");
    const pid_t parent = ::getpid();
    int pidfd = -1;
    clone_args args{};
    args.flags = CLONE_NEWNET | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) throw_errno("clone3", "network namespace holder (net)");
    if (pid == 0) holder_main(parent, null_fd.get(), ready.write.get(), release.read.get());
    holder_pidfd_.reset(pidfd);
    holder_release_ = std::move(release.write);
    ready.write.reset();
    // From here on the destructor's work is needed on failure too.
    try {
        char c = 0;
        ssize_t n;
        while ((n = ::read(ready.read.get(), &c, 1)) < 0 && errno == EINTR) {
        }
        if (n != 1) throw Error("network namespace holder: could not bring up lo in its new network namespace");
        std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
        netns_ = open_or_throw(path, O_RDONLY | O_CLOEXEC);
        // Still alive after the open: the pid was not reused, the namespace is the holder's.
        if (::syscall(SYS_pidfd_send_signal, holder_pidfd_.get(), 0, nullptr, 0) != 0)
            throw Error("network namespace holder: exited before its namespace was opened");
        if (mode == NetworkMode::private_ && private_network_available())
            slirp_ = std::make_unique<PrivateNetwork>(static_cast<pid_t>(pid), log_file);
    } catch (...) {
        close();
        throw;
    }
}

KeptNetwork::~KeptNetwork() { close(); }

int KeptNetwork::fd() {
    if (!ready_ && slirp_) slirp_->wait_ready();  // throws with slirp4netns's log; not ready stays false
    ready_ = true;
    return netns_.get();
}

void KeptNetwork::close() {
    slirp_.reset();
    netns_.reset();
    holder_release_.reset();  // the holder exits at EOF
    if (holder_pidfd_) {
        reap(holder_pidfd_.get());
        holder_pidfd_.reset();
    }
}

}  // namespace imgbuild::runtime
