#include "runtime/network_private.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/user_namespace.h"
#include "common/process.h"
#include "common/strings.h"

namespace imgbuild::runtime {
namespace {

constexpr const char* kHelper = "slirp4netns";
constexpr int kReadyTimeoutMs = 10000;
// Fixed fd numbers in the helper: it gets these and 0, 1, 2, nothing else.
constexpr int kReadyFd = 3, kExitFd = 4;

std::string find_on_path(const char* name) {
    const char* env = std::getenv("PATH");
    for (std::string_view dir : split(env && *env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
        if (dir.empty()) continue;
        std::string candidate = std::string(dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

struct Helper {
    std::string path;     // empty when the private network cannot be made
    std::string problem;  // why, when it cannot
};

const Helper& helper() {
    static const Helper h = [] {
        Helper out;
        out.path = find_on_path(kHelper);
        if (out.path.empty()) {
            out.problem = "slirp4netns not found on PATH (install slirp4netns)";
        } else if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
            // slirp4netns opens the tun device inside the container's namespaces with our
            // rights; rootless, a device kept 0600 for the host's root is out of reach (that
            // root is not mapped in our user namespace, so no capability overrides the mode).
            // Rootless podman fails the same way here; pasta opens the same device.
            out.problem = "/dev/net/tun: " + describe_errno(errno) + ": slirp4netns cannot make its tap device" +
                          (in_user_namespace() ? " rootless (the device must be mode 0666, Debian's default)" : "");
            out.path.clear();
        }
        return out;
    }();
    return h;
}

// In the forked helper, before execve: only async-signal-safe calls.
[[noreturn]] void exec_helper(char* const argv[], pid_t parent, int null_fd, int log_fd, int ready_fd, int exit_fd) {
    // Die with the thread that started us, and not later than it if it is already gone.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // run_container blocks the forwarded signals
    // Its own process group: a Ctrl-C on the terminal is for the container (imgbuild
    // forwards it), not for the container's network.
    if (::setpgid(0, 0) != 0) _exit(127);
    // Move the four fds above the target numbers first so that no dup2 clobbers another.
    int src[4] = {null_fd, log_fd, ready_fd, exit_fd};
    int high[4];
    for (int i = 0; i < 4; ++i)
        if ((high[i] = ::fcntl(src[i], F_DUPFD, 10)) < 0) _exit(127);
    if (::dup2(high[0], 0) < 0 || ::dup2(high[0], 1) < 0 || ::dup2(high[1], 2) < 0 || ::dup2(high[2], kReadyFd) < 0 ||
        ::dup2(high[3], kExitFd) < 0)
        _exit(127);
    // Nothing else of imgbuild or of the container reaches the helper.
    if (::syscall(SYS_close_range, kExitFd + 1, ~0U, 0) != 0) _exit(127);
    ::execv(argv[0], argv);
    _exit(127);
}

// Helpers that were sent SIGKILL but may still be exiting. Their exit closes tap0, and the
// kernel's unregistering of it waits for RCU grace periods (20-30 ms here): waiting for
// that in the destructor made every RUN that much slower. A SIGKILLed process runs no more
// code, so it is reaped later instead: by the next PrivateNetwork, or by init once
// imgbuild has exited.
class DyingHelpers {
public:
    void add(unique_fd pidfd) {
        std::lock_guard lock(mutex_);
        reap_finished_locked();
        if (!reap_if_ended(pidfd.get())) fds_.push_back(std::move(pidfd));
    }
    void reap_finished() {
        std::lock_guard lock(mutex_);
        reap_finished_locked();
    }

private:
    void reap_finished_locked() {
        std::erase_if(fds_, [](const unique_fd& fd) { return reap_if_ended(fd.get()); });
    }
    std::mutex mutex_;
    std::vector<unique_fd> fds_;
};

DyingHelpers& dying_helpers() {
    static DyingHelpers* helpers = new DyingHelpers;  // never destroyed: used until exit
    return *helpers;
}

}  // namespace

std::string private_network_problem() { return helper().problem; }

bool private_network_available() {
    const Helper& h = helper();
    // Said once per process. Not std::call_once: that is pthread_once, a C frame an exception
    // must not cross with the static unwinder (cmake/libraries.cmake).
    static std::atomic<bool> noted{false};
    if (!h.problem.empty() && !noted.exchange(true))
        std::fputs(("imgbuild: note: network \"private\" (the default of run and of RUN steps) falls back to "
                    "\"none\" (only lo; published ports still work): " + h.problem + "\n").c_str(),
                   stderr);
    return h.problem.empty();
}

NetworkMode resolve_run_network(std::string_view flag, std::string_view problem) {
    if (flag.empty()) return problem.empty() ? NetworkMode::private_ : NetworkMode::none;
    NetworkMode mode = parse_network_mode(flag);
    if (mode == NetworkMode::private_ && !problem.empty())
        throw UsageError("--network private: " + std::string(problem) + "; use --network none (published ports still "
                         "work) or host, or leave --network out to fall back to none");
    return mode;
}

std::string private_resolv_conf(const std::string& host_conf) {
    std::string out;
    std::stringstream lines(host_conf);
    std::string line;
    while (std::getline(lines, line))
        if (line.rfind("search", 0) == 0 || line.rfind("domain", 0) == 0 || line.rfind("options", 0) == 0)
            out += line + "\n";
    return out + "nameserver " + kPrivateDns + "\n";
}

PrivateNetwork::PrivateNetwork(pid_t pid, const std::filesystem::path& log_file) : log_(log_file) {
    const std::string& path = helper().path;
    if (path.empty()) throw Error("network private: " + helper().problem);
    std::vector<std::string> args = {path,
                                     "--configure",
                                     "--mtu=65520",
                                     "--disable-host-loopback",
                                     "--enable-sandbox",
                                     "--enable-seccomp",
                                     "--ready-fd=" + std::to_string(kReadyFd),
                                     "--exit-fd=" + std::to_string(kExitFd),
                                     std::to_string(pid),
                                     "tap0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    dying_helpers().reap_finished();
    Pipe ready = make_pipe("slirp4netns ready pipe");
    Pipe exit_pipe = make_pipe("slirp4netns exit pipe");
    unique_fd null_fd = open_or_throw("/dev/null", O_RDWR | O_CLOEXEC);
    unique_fd log_fd = open_or_throw(log_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t parent = ::getpid();
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork", "slirp4netns");
    if (child == 0) exec_helper(argv.data(), parent, null_fd.get(), log_fd.get(), ready.write.get(), exit_pipe.read.get());
    pid_ = child;
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    if (pidfd < 0) {
        int err = errno;
        (void)::kill(child, SIGKILL);
        (void)::waitpid(child, nullptr, 0);
        throw_errno(err, "pidfd_open", "slirp4netns");
    }
    pidfd_.reset(pidfd);
    ready_ = std::move(ready.read);
    exit_ = std::move(exit_pipe.write);
}

void PrivateNetwork::wait_ready() {
    pollfd p{ready_.get(), POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, kReadyTimeoutMs)) < 0 && errno == EINTR) {
    }
    if (n < 0) throw_errno("poll", "slirp4netns ready pipe");
    char c = 0;
    ssize_t got = n == 0 ? 0 : ::read(ready_.get(), &c, 1);
    if (got == 1 && c == '1') return;
    std::string log;
    try {
        log = read_file(log_);
    } catch (const std::exception&) {
    }
    while (!log.empty() && log.back() == '\n') log.pop_back();
    throw Error(std::string("network private: slirp4netns ") + (n == 0 ? "not ready after 10 s" : "failed") +
                (log.empty() ? "" : ": " + log));
}

PrivateNetwork::~PrivateNetwork() {
    exit_.reset();  // asks it to exit; SIGKILL makes sure
    (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    dying_helpers().add(std::move(pidfd_));
}

}  // namespace imgbuild::runtime
