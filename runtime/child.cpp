#include "runtime/child.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "runtime/capabilities.h"
#include "runtime/exec.h"
#include "runtime/fd_passing.h"
#include "runtime/fd_hygiene.h"
#include "runtime/init.h"
#include "runtime/mounts_apply.h"
#include "runtime/namespaces.h"
#include "runtime/network_private.h"
#include "runtime/pty.h"
#include "runtime/seccomp.h"
#include "runtime/user_lookup.h"
#include "runtime/stdio.h"

namespace imgbuild::runtime {
namespace {

// execve keeps ignored signals ignored and the mask as is: start the command clean.
void reset_signals() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

// v1: "0" into each hierarchy's tasks file moves this (single-threaded) process without
// the global threadgroup lock that a cgroup.procs write takes (an RCU grace period, 5-15
// ms, per container); 30 us instead. Then our own cgroup becomes the namespace root.
void join_cgroup(const ChildContext& ctx) {
    for (int fd : ctx.cgroup_procs_fds) {
        if (::write(fd, "0", 1) != 1) throw_errno("write 0 to", "cgroup tasks");
        ::close(fd);
    }
    if (::unshare(CLONE_NEWCGROUP) != 0) throw_errno("unshare", "cgroup namespace");
}

// Raw syscalls, not glibc's setres[ug]id/setgroups: those broadcast the change to every
// thread glibc believes the process has (SIGSETXID), and this child of clone3 inherited the
// parent's thread list without its threads. A parent thread that had not yet first run at
// clone time (the builder's tty ticker, under load) made the child wait for it forever.
// The kernel applies credentials per thread; this process has one.
int raw_setresgid(gid_t g) { return static_cast<int>(::syscall(SYS_setresgid, g, g, g)); }
int raw_setresuid(uid_t u) { return static_cast<int>(::syscall(SYS_setresuid, u, u, u)); }
int raw_setgroups(const std::vector<gid_t>& groups) {
    return static_cast<int>(::syscall(SYS_setgroups, groups.size(), groups.data()));
}

void wait_for_id_maps(const ChildContext& ctx) {
    if (ctx.sync_fd < 0) return;
    char go = 0;
    if (::read(ctx.sync_fd, &go, 1) != 1) throw Error("parent died before writing the uid/gid maps");
    ::close(ctx.sync_fd);
    if (raw_setresgid(0) != 0) throw_errno("setresgid", "0");
    if (raw_setresuid(0) != 0) throw_errno("setresuid", "0");
}

// Before the root is mounted: its /sys then shows the joined namespace's interfaces.
void join_kept_network(const ChildContext& ctx) {
    if (ctx.join_netns_fd < 0) return;
    if (::setns(ctx.join_netns_fd, CLONE_NEWNET) != 0) throw_errno("setns", "the prepared network namespace");
    ::close(ctx.join_netns_fd);
}

void set_up_root(const ChildContext& ctx) {
    const ContainerSpec& spec = *ctx.spec;
    make_mounts_private();
    // Made by the parent meanwhile (container.cpp), unless it could not be: then here.
    unique_fd made;
    if (ctx.overlay_socket >= 0) {
        made = receive_fd(ctx.overlay_socket, "overlay mount from the parent");
        ::close(ctx.overlay_socket);
    }
    if (made) {
        attach_overlay(made.get(), spec.merged_dir);
    } else {
        mount_overlay(ctx.overlay, spec.merged_dir);
    }
    apply_mount_plan(ctx.plan, spec.merged_dir);
    if (ctx.new_netns) bring_up_loopback();
    if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) throw_errno("sethostname", spec.hostname);
    pivot_into(spec.merged_dir);
}

// The working dir, created (as root) if missing, resolved inside the container's root
// as every path of the image is: symlinks stay in the root and /proc magic links (such as
// /proc/self/fd/N) lead nowhere outside it.
unique_fd open_cwd(const std::string& cwd) {
    auto root = open_or_throw("/", O_PATH | O_DIRECTORY);
    return mkdirs_in_root(root.get(), cwd, 0755);
}

// fchdir, then check that the kernel agrees the cwd is below our root: getcwd fails
// (ENOENT, "(unreachable)") for a directory of another mount namespace (runc 1.1.12).
void enter_cwd(const unique_fd& dir, const std::string& cwd) {
    if (::fchdir(dir.get()) != 0) throw_errno("chdir (working dir)", cwd);
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/')
        throw Error("working dir " + cwd + " is outside the container root; refusing to start");
}

// The fds the child needs until execve; every other inherited fd is closed at once.
std::vector<int> fds_to_keep(const ChildContext& ctx) {
    // Every fd field of ChildContext: a new one must be added here too.
    std::vector<int> keep = {0, 1, 2, ctx.report_fd, ctx.sync_fd, ctx.net_sync_fd, ctx.exec_gate_fd, ctx.join_netns_fd, ctx.tty_socket,
                             ctx.overlay_socket,
                             ctx.stdin_fd, ctx.stdout_fd, ctx.stderr_fd};
    keep.insert(keep.end(), ctx.cgroup_procs_fds.begin(), ctx.cgroup_procs_fds.end());
    return keep;
}

void switch_user(const ChildContext& ctx, const ResolvedUser& user) {
    drop_bounding_set(ctx.capabilities, ctx.last_capability);
    // Rootless with a single-id map, setgroups is denied (EPERM): the groups stay as they are.
    if (raw_setgroups(user.groups) != 0 && !(ctx.spec->rootless && errno == EPERM))
        throw_errno("setgroups", "user " + ctx.spec->user);
    if (raw_setresgid(user.gid) != 0) throw_errno("setresgid", std::to_string(user.gid));
    if (raw_setresuid(user.uid) != 0) throw_errno("setresuid", std::to_string(user.uid));
    // A non-root uid has lost every capability with setresuid; root keeps Docker's set.
    if (user.uid == 0) set_capabilities(ctx.capabilities);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_NO_NEW_PRIVS)", "");
}

[[noreturn]] void exec_or_report(const ChildContext& ctx, const std::vector<std::string>& env) {
    int err = exec_command(ctx.spec->argv, env);
    int status = exec_failure_status(err);
    std::string what = status == exit_not_found && ctx.spec->argv[0].find('/') == std::string::npos
                           ? "exec: \"" + ctx.spec->argv[0] + "\": executable file not found in $PATH"
                           : "exec " + ctx.spec->argv[0] + ": " + std::strerror(err);
    std::string line = "imgbuild: " + what + "\n";
    (void)!::write(2, line.data(), line.size());
    report_and_exit(ctx.report_fd, status, what);
}

void make_non_dumpable() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_DUMPABLE)", "");
}

// A parent killed between the clone and the prctl above leaves no one to kill this process
// (a `run --rm` killed at that moment left a container running its command to the end).
// getppid() cannot tell (0 in the new pid namespace); the report pipe can: its only read
// end is the parent's, held until the exec, so a closed one (POLLERR) means it is gone.
void exit_if_parent_gone(int report_fd) {
    pollfd p{report_fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) ::_exit(exit_runtime_failure);
}

// Blocks until the parent's one byte on `fd` (then closes it); EOF means the parent gave up
// (and is about to kill this process): throws `gave_up`. No-op for fd < 0.
void wait_for_go(int fd, const char* gave_up) {
    if (fd < 0) return;
    char go = 0;
    ssize_t n;
    while ((n = ::read(fd, &go, 1)) < 0 && errno == EINTR) {
    }
    ::close(fd);
    if (n != 1) throw Error(gave_up);
}

void start(const ChildContext& ctx) {
    const ContainerSpec& spec = *ctx.spec;
    // Before anything else: no fd of the caller's may be used from inside (CVE-2024-21626).
    close_fds_except(fds_to_keep(ctx));
    // Until execve, this process is the host binary: nothing in the container may ptrace
    // it or open its /proc/<pid>/exe (CVE-2019-5736). execve makes it dumpable again.
    // Rootless, this binary's memory belongs to the initial user namespace (it was exec'ed
    // there), so once non-dumpable even slirp4netns could not open /proc/<pid>/ns/net: it is
    // made non-dumpable once the network is up instead (no container process exists before).
    if (!spec.rootless) make_non_dumpable();
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_PDEATHSIG)", "");
    exit_if_parent_gone(ctx.report_fd);
    reset_signals();
    if (::setsid() < 0) throw_errno("setsid", "");
    ::umask(0);
    if (!spec.tty) dup_onto_stdio(ctx.stdin_fd, ctx.stdout_fd, ctx.stderr_fd);
    wait_for_id_maps(ctx);
    join_kept_network(ctx);
    join_cgroup(ctx);
    set_up_root(ctx);
    if (spec.tty) {
        unique_fd master = open_container_pty();
        send_pty_master(ctx.tty_socket, master.get());
    }
    ResolvedUser user = resolve_user_in_current_root(spec.user);
    unique_fd cwd = open_cwd(spec.cwd);
    switch_user(ctx, user);
    enter_cwd(cwd, spec.cwd);
    cwd.reset();
    std::vector<std::string> env = container_environment(spec.env, user.home);
    ::umask(022);
    wait_for_go(ctx.net_sync_fd, kNetworkGaveUp);  // slirp4netns started meanwhile (container.cpp)
    wait_for_go(ctx.exec_gate_fd, "container start: the parent gave up before exec");  // spec.before_exec
    if (spec.rootless) make_non_dumpable();
    install_seccomp(*ctx.seccomp);
    // Only 0, 1, 2 survive execve; the report pipe closes on success, which is the signal.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) throw_errno("close_range", "3..");
    if (spec.init) {
        sigset_t previous;
        block_all_signals(&previous);
        pid_t pid = ::fork();
        if (pid < 0) throw_errno("fork", "command under init");
        if (pid > 0) {
            ::close(ctx.report_fd);
            run_init(pid);
        }
        sigprocmask(SIG_SETMASK, &previous, nullptr);
    }
    exec_or_report(ctx, env);
}

}  // namespace

[[noreturn]] void report_and_exit(int report_fd, int status, const std::string& message) {
    ChildReport r;
    r.status = status;
    std::strncpy(r.message, message.c_str(), sizeof r.message - 1);
    (void)!::write(report_fd, &r, sizeof r);
    _exit(status);
}

void child_main(const ChildContext& ctx) {
    try {
        start(ctx);
    } catch (const std::exception& e) {
        report_and_exit(ctx.report_fd, exit_runtime_failure, e.what());
    }
    report_and_exit(ctx.report_fd, exit_runtime_failure, "container start returned");
}

}  // namespace imgbuild::runtime
