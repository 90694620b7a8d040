#include "runtime/exec_join.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "common/process.h"
#include "common/scope_exit.h"
#include "runtime/capabilities.h"
#include "runtime/child.h"
#include "runtime/container.h"
#include "runtime/exec.h"
#include "runtime/fd_hygiene.h"
#include "runtime/monitor.h"
#include "runtime/pty.h"
#include "runtime/seccomp.h"
#include "runtime/signal_forwarding.h"
#include "common/user_namespace.h"
#include "runtime/user_lookup.h"
#include "runtime/stdio.h"

namespace imgbuild::runtime {
namespace {

// The order nsenter uses: the user namespace first (it grants the rights for the others),
// mnt last among those joined by the child (after it, host paths are gone).
struct NsEntry {
    const char* name;
    int flag;
};
constexpr NsEntry kJoinOrder[] = {
    {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"mnt", CLONE_NEWNS},
};

bool same_namespace(pid_t pid, const char* name) {
    struct stat a, b;
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
    std::string ours = std::string("/proc/self/ns/") + name;
    if (::stat(theirs.c_str(), &a) != 0) throw_errno("stat", theirs);
    if (::stat(ours.c_str(), &b) != 0) return false;
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

struct Joined {
    struct Ns {
        unique_fd fd;
        int flag;
        const char* name;
    };
    std::vector<Ns> namespaces;
    unique_fd root;
};

Joined open_namespaces(pid_t pid) {
    Joined j;
    for (const auto& ns : kJoinOrder) {
        if (same_namespace(pid, ns.name)) continue;
        std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns.name;
        j.namespaces.push_back({open_or_throw(path, O_RDONLY | O_CLOEXEC), ns.flag, ns.name});
    }
    std::string root = "/proc/" + std::to_string(pid) + "/root";
    j.root = open_or_throw(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return j;
}

struct ChildArgs {
    const ExecSpec* spec;
    Joined* joined;
    int report_fd;
    int tty_socket;
    uint64_t capabilities;
    int last_capability;
    const std::vector<sock_filter>* seccomp;
};

int raw_setresgid(gid_t g) { return static_cast<int>(::syscall(SYS_setresgid, g, g, g)); }
int raw_setresuid(uid_t u) { return static_cast<int>(::syscall(SYS_setresuid, u, u, u)); }
int raw_setgroups(const std::vector<gid_t>& groups) {
    return static_cast<int>(::syscall(SYS_setgroups, groups.size(), groups.data()));
}

// The fds the child needs until execve (CVE-2024-21626: nothing else of the caller's may
// reach the container, not even before execve).
std::vector<int> fds_to_keep(const ChildArgs& a) {
    std::vector<int> keep = {0, 1, 2, a.report_fd, a.tty_socket, a.spec->stdin_fd, a.spec->stdout_fd, a.spec->stderr_fd,
                             a.joined->root.get()};
    for (const auto& ns : a.joined->namespaces) keep.push_back(ns.fd.get());
    return keep;
}

// The cgroups first, while the host's /sys/fs/cgroup is reachable: v1 "tasks" moves this
// single-threaded process without the threadgroup lock (30 us instead of 5-15 ms), v2 has
// only cgroup.procs.
void join_cgroups(const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) {
        fs::path file = fs::path(dir) / "tasks";
        if (::access(file.c_str(), W_OK) != 0) file = fs::path(dir) / "cgroup.procs";
        auto fd = open_or_throw(file, O_WRONLY | O_CLOEXEC);
        if (::write(fd.get(), "0", 1) != 1) throw_errno("write 0 to", file.string());
    }
}

void child(const ChildArgs& a) {
    const ExecSpec& spec = *a.spec;
    close_fds_except(fds_to_keep(a));
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_DUMPABLE)", "");
    if (!spec.detach && ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_PDEATHSIG)", "");
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::setsid() < 0) throw_errno("setsid", "");
    if (!spec.tty) dup_onto_stdio(spec.stdin_fd, spec.stdout_fd, spec.stderr_fd);
    join_cgroups(spec.cgroup_dirs);
    for (const auto& ns : a.joined->namespaces)
        if (::setns(ns.fd.get(), ns.flag) != 0) throw_errno("setns", std::string(ns.name) + " namespace of the container");
    if (::fchdir(a.joined->root.get()) != 0) throw_errno("fchdir", "container root");
    if (::chroot(".") != 0) throw_errno("chroot", "container root");
    if (spec.tty) {
        unique_fd master = open_container_pty();
        send_pty_master(a.tty_socket, master.get());
    }
    ResolvedUser user = resolve_user_in_current_root(spec.user);
    // The working dir resolved inside the container's root (symlinks stay in it, /proc magic
    // links lead nowhere), as for the container's own command; it must exist (docker exec -w).
    unique_fd cwd;
    {
        auto root = open_or_throw("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        cwd = open_in_root(root.get(), spec.cwd, O_PATH | O_DIRECTORY);
    }
    drop_bounding_set(a.capabilities, a.last_capability);
    if (raw_setgroups(user.groups) != 0 && !(in_user_namespace() && errno == EPERM))  // single-id map: denied
        throw_errno("setgroups", "user " + spec.user);
    if (raw_setresgid(user.gid) != 0) throw_errno("setresgid", std::to_string(user.gid));
    if (raw_setresuid(user.uid) != 0) throw_errno("setresuid", std::to_string(user.uid));
    if (user.uid == 0) set_capabilities(a.capabilities);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_NO_NEW_PRIVS)", "");
    if (::fchdir(cwd.get()) != 0) throw_errno("chdir (working dir)", spec.cwd);
    cwd.reset();
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/')
        throw Error("working dir " + spec.cwd + " is outside the container root; refusing to exec");
    std::vector<std::string> env = container_environment(spec.env, user.home);
    ::umask(022);
    install_seccomp(*a.seccomp);
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) throw_errno("close_range", "3..");
    int err = exec_command(spec.argv, env);
    int status = exec_failure_status(err);
    std::string what = status == exit_not_found && spec.argv[0].find('/') == std::string::npos
                           ? "exec: \"" + spec.argv[0] + "\": executable file not found in $PATH"
                           : "exec " + spec.argv[0] + ": " + std::strerror(err);
    std::string line = "imgbuild: " + what + "\n";
    (void)!::write(2, line.data(), line.size());
    report_and_exit(a.report_fd, status, what);
}

std::optional<ChildReport> read_report(int fd) {
    ChildReport r;
    size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(&r);
    while (got < sizeof r) {
        ssize_t n = ::read(fd, bytes + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    if (got != sizeof r) return std::nullopt;
    return r;
}

}  // namespace

int exec_in_container(const ExecSpec& spec) {
    if (spec.argv.empty()) throw UsageError("exec: no command specified");
    if (spec.cwd.empty() || spec.cwd[0] != '/') throw UsageError("exec: working directory must be absolute: \"" + spec.cwd + "\"");
    Joined joined = open_namespaces(spec.target);
    if (!same_namespace(spec.target, "pid")) {
        std::string path = "/proc/" + std::to_string(spec.target) + "/ns/pid";
        auto fd = open_or_throw(path, O_RDONLY | O_CLOEXEC);
        if (::setns(fd.get(), CLONE_NEWPID) != 0) throw_errno("setns", path);
    }
    ChildArgs args{&spec, &joined, -1, -1, default_capability_mask(), last_capability(), &default_seccomp_program()};
    int rp[2];
    if (::pipe2(rp, O_CLOEXEC) != 0) throw_errno("pipe2", "exec report");
    unique_fd report_read(rp[0]), report_write(rp[1]);
    args.report_fd = report_write.get();
    SocketPair tty;
    if (spec.tty) {
        tty = make_socket_pair("pty");
        args.tty_socket = tty.child.get();
    }
    SignalForwarding signals(!spec.detach);

    clone_args ca{};
    int pidfd_raw = -1;
    ca.flags = CLONE_PIDFD;
    ca.pidfd = reinterpret_cast<uint64_t>(&pidfd_raw);
    ca.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) throw_errno("clone3", "exec process");
    if (pid == 0) {
        try {
            child(args);
        } catch (const std::exception& e) {
            report_and_exit(args.report_fd, exit_runtime_failure, e.what());
        }
        _exit(exit_runtime_failure);
    }
    unique_fd pidfd(pidfd_raw);
    report_write.reset();
    tty.child.reset();
    auto report = read_report(report_read.get());
    MonitorIo io;
    io.pidfd = pidfd.get();
    io.signal_fd = signals.fd();
    if (report) {
        (void)wait_for_pidfd(pidfd.get(), "exec process");
        if (report->status == exit_runtime_failure) throw Error(std::string("exec: ") + report->message);
        return report->status;
    }
    if (spec.detach) return 0;
    std::optional<RawTerminal> raw;
    if (spec.tty) connect_terminal(io, tty.parent.get(), spec.stdin_fd, spec.stdout_fd, spec.interactive, raw);
    return monitor_container(io);
}

}  // namespace imgbuild::runtime
