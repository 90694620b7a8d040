// run_container: the parent side of the start sequence (DESIGN.md §5). Prepares every
// piece of data the child needs, clones it into its namespaces, learns from the report
// pipe whether the command was exec'ed, then monitors it until it is gone.
#include "runtime/container.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/scope_exit.h"
#include "runtime/capabilities.h"
#include "runtime/cgroup.h"
#include "runtime/child.h"
#include "runtime/monitor.h"
#include "runtime/mount_plan.h"
#include "runtime/namespaces.h"
#include "runtime/network_private.h"
#include "runtime/fd_passing.h"
#include "runtime/overlay.h"
#include "runtime/pty.h"
#include "runtime/seccomp.h"
#include "runtime/signal_forwarding.h"

namespace imgbuild::runtime {
namespace {

constexpr std::pair<NetworkMode, std::string_view> kNetworkNames[] = {
    {NetworkMode::none, "none"}, {NetworkMode::host, "host"}, {NetworkMode::private_, "private"},
};

void validate(const ContainerSpec& spec) {
    if (spec.argv.empty()) throw UsageError("no command specified");
    static constexpr std::pair<fs::path ContainerSpec::*, const char*> kRequiredDirs[] = {
        {&ContainerSpec::upper_dir, "upper_dir"},
        {&ContainerSpec::work_dir, "work_dir"},
        {&ContainerSpec::merged_dir, "merged_dir"},
        {&ContainerSpec::init_dir, "init_dir"},
    };
    for (const auto& [member, name] : kRequiredDirs)
        if ((spec.*member).empty()) throw Error(std::string("container spec: ") + name + " is not set");
    if (spec.cwd.empty() || spec.cwd[0] != '/') throw UsageError("working directory must be absolute: \"" + spec.cwd + "\"");
    if (spec.hostname.size() > 64) throw UsageError("hostname longer than 64 characters: " + spec.hostname);
}

// clone3 with fork semantics (no new stack) and a pidfd for the child.
pid_t clone_child(unsigned long flags, int* pidfd, int cgroup_fd) {
    clone_args args{};
    args.flags = flags | CLONE_PIDFD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) throw_errno("clone3", "container (" + describe_namespaces(flags) + ")");
    return static_cast<pid_t>(pid);
}

// Reads the child's report: nullopt on EOF (the command was exec'ed).
std::optional<ChildReport> read_report(int fd) {
    ChildReport r;
    size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(&r);
    while (got < sizeof r) {
        ssize_t n = ::read(fd, bytes + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", "container start report");
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got == 0) return std::nullopt;
    if (got != sizeof r) throw Error("container start report: truncated");
    return r;
}

int reap(int pidfd) { return wait_for_pidfd(pidfd, "container"); }

// Starts slirp4netns for the child's netns and tells the child to go on. When that fails,
// the child's own report wins if it failed first (its netns may be gone by then).
void start_private_network(std::optional<PrivateNetwork>& net, pid_t pid, const ContainerSpec& spec, int sync_fd,
                           int report_fd) {
    try {
        net.emplace(pid, spec.init_dir / "slirp4netns.log");
        net->wait_ready();
        if (::send(sync_fd, "1", 1, MSG_NOSIGNAL) == 1) return;
    } catch (const Error&) {
        ::shutdown(sync_fd, SHUT_RDWR);
        auto r = read_report(report_fd);
        if (r && std::string_view(r->message) != kNetworkGaveUp)
            throw Error(std::string("start container: ") + r->message);
        throw;
    }
    // The child is gone: its report says why.
    auto r = read_report(report_fd);
    throw Error(std::string("start container: ") + (r ? r->message : "the container exited before its network was up"));
}

}  // namespace

NetworkMode parse_network_mode(std::string_view text) {
    for (const auto& [mode, name] : kNetworkNames)
        if (name == text) return mode;
    throw UsageError("unknown network mode \"" + std::string(text) + "\" (none, host or private)");
}

std::string_view to_string(NetworkMode mode) {
    for (const auto& [m, name] : kNetworkNames)
        if (m == mode) return name;
    return "?";
}

int run_container(const ContainerSpec& spec) {
    validate(spec);
    const CgroupVersion version = detect_cgroup_version();
    const bool cgroup2 = version == CgroupVersion::v2;

    // ---- everything the child needs, prepared while errors are still plain exceptions
    fs::path init_layer = prepare_init_dir(spec);
    ensure_short_links(spec.lower_dirs, init_layer, spec.short_links_dir);
    ChildContext ctx;
    ctx.spec = &spec;
    ctx.plan = build_mount_plan(plan_input_from_spec(spec, cgroup2));
    ctx.overlay = overlay_options(spec.lower_dirs, init_layer, spec.upper_dir, spec.work_dir, spec.short_links_dir,
                                  spec.rootless, spec.volatile_overlay);
    clear_volatile_marker(spec.work_dir);
    // As root the overlay is made here after the clone, beside the child's first steps, and
    // sent to it; rootless it must be made inside the container's user namespace: the child's.
    SocketPair overlay_handoff;
    if (!spec.rootless) {
        overlay_handoff = make_socket_pair("overlay handoff");
        ctx.overlay_socket = overlay_handoff.child.get();
    }
    ctx.capabilities = default_capability_mask();
    ctx.last_capability = last_capability();
    ctx.seccomp = &default_seccomp_program();

    std::unique_ptr<Cgroup> own_cgroup;  // removed (after the container) when it was made here
    const Cgroup* cgroup = spec.cgroup;
    if (!cgroup) {
        own_cgroup = create_container_cgroup(spec);
        cgroup = own_cgroup.get();
    }
    std::vector<unique_fd> procs = cgroup ? cgroup->open_procs() : std::vector<unique_fd>{};
    for (const auto& fd : procs) ctx.cgroup_procs_fds.push_back(fd.get());

    const unsigned long flags = clone_namespace_flags(spec);
    const bool join_netns = joins_kept_network(spec, flags);
    if (join_netns) ctx.join_netns_fd = spec.join_netns_fd;
    ctx.new_netns = (flags & CLONE_NEWNET) != 0;
    Pipe report = make_pipe("container start report");
    ctx.report_fd = report.write.get();
    SocketPair gate;  // a socket, not a pipe: a send to a dead child is EPIPE, not SIGPIPE
    if (spec.before_exec) {
        gate = make_socket_pair("exec gate");
        ctx.exec_gate_fd = gate.child.get();
    }
    std::optional<Pipe> sync;
    if (flags & CLONE_NEWUSER) {
        sync = make_pipe("uid/gid map sync");
        ctx.sync_fd = sync->read.get();
    }
    // Private network: slirp4netns is started once the child exists and set up while the
    // child mounts its root; the child waits for its byte on this socket before exec.
    SocketPair net_sync;
    if (spec.network == NetworkMode::private_ && !join_netns && private_network_available()) {
        net_sync = make_socket_pair("network sync");
        ctx.net_sync_fd = net_sync.child.get();
    }
    SocketPair tty;
    if (spec.tty) {
        tty = make_socket_pair("pty");
        ctx.tty_socket = tty.child.get();
    }
    MonitorIo io;
    ctx.stdin_fd = spec.stdin_fd;
    ctx.stdout_fd = spec.stdout_fd;
    ctx.stderr_fd = spec.stderr_fd;
    std::optional<Pipe> out_pipe, err_pipe;
    if (spec.on_output && !spec.tty) {
        out_pipe = make_pipe("container stdout");
        err_pipe = make_pipe("container stderr");
        ctx.stdout_fd = out_pipe->write.get();
        ctx.stderr_fd = err_pipe->write.get();
    }

    SignalForwarding signals(spec.forward_signals);
    io.signal_fd = signals.fd();

    // ---- clone
    int pidfd_raw = -1;
    pid_t pid = clone_child(flags, &pidfd_raw, cgroup ? cgroup->clone_into_fd() : -1);
    if (pid == 0) child_main(ctx);
    unique_fd pidfd(pidfd_raw);
    // Opened at once, while the child sets up its root; none when it is gone already (its
    // exit has unmounted then, as without a holder).
    unique_fd mount_ns;
    if (spec.keep_mount_namespace && !spec.rootless)
        mount_ns.reset(::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    report.write.reset();
    tty.child.reset();
    net_sync.child.reset();
    procs.clear();
    overlay_handoff.child.reset();
    if (out_pipe) {
        out_pipe->write.reset();
        err_pipe->write.reset();
        io.outputs.push_back({std::move(out_pipe->read), 1});
        io.outputs.push_back({std::move(err_pipe->read), 2});
        io.on_output = spec.on_output;
    }
    // From here on, any exception must not leave the child running.
    scope_exit kill_child([&] {
        (void)::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        (void)reap(pidfd.get());
    });

    if (overlay_handoff.parent) {
        // No mount made: the child mounts and reports why not. A failed send: the child is
        // gone, its report says why.
        unique_fd overlay = make_detached_overlay(ctx.overlay);
        (void)send_fd(overlay_handoff.parent.get(), overlay.get());
        overlay_handoff.parent.reset();
    }
    if (sync) {
        write_id_maps(pid, spec);
        if (::write(sync->write.get(), "1", 1) != 1) throw_errno("write", "uid/gid map sync");
        sync->read.reset();
    }
    if (gate.parent) {
        gate.child.reset();
        spec.before_exec();  // a throw: kill_child, before the child has exec'ed
        // EPIPE: the child is gone already; its report says why.
        (void)::send(gate.parent.get(), "1", 1, MSG_NOSIGNAL);
        gate.parent.reset();
    }
    std::optional<PrivateNetwork> net;  // declared after kill_child: SIGKILLed before the child is
    if (net_sync.parent) start_private_network(net, pid, spec, net_sync.parent.get(), report.read.get());
    io.pidfd = pidfd.get();
    if (auto r = read_report(report.read.get())) {
        // The child is exiting; still deliver what it wrote (the exec error) to the caller.
        io.signal_fd = -1;
        (void)monitor_container(io);
        kill_child.dismiss();
        if (r->status == exit_runtime_failure) throw Error(std::string("start container: ") + r->message);
        return r->status;
    }
    std::optional<RawTerminal> raw;
    if (spec.tty) connect_terminal(io, tty.parent.get(), spec.stdin_fd, spec.stdout_fd, spec.interactive, raw);
    if (spec.on_started) spec.on_started(pid);
    int status = monitor_container(io);
    kill_child.dismiss();
    if (spec.keep_mount_namespace) *spec.keep_mount_namespace = std::move(mount_ns);
    return status;
}

}  // namespace imgbuild::runtime
