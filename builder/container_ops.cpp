#include "builder/container_ops.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/process.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "common/time.h"
#include "layerstore/background_remove.h"
#include "layerstore/layer_stamp_check.h"
#include "runtime/container_log.h"
#include "runtime/container_procs.h"
#include "runtime/detached.h"
#include "common/user_namespace.h"
#include "runtime/freezer.h"
#include "runtime/start_ahead.h"
#include "runtime/overlay.h"
#include "runtime/port_forward.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using layerstore::ContainerConfig;
using layerstore::Containers;
using layerstore::ContainerState;
using layerstore::ContainerStatus;

namespace {

constexpr std::pair<int, const char*> kSignals[] = {
    {SIGHUP, "HUP"},   {SIGINT, "INT"},     {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},   {SIGTRAP, "TRAP"},
    {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},     {SIGFPE, "FPE"},   {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},
    {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},   {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},
    {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},   {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"}, {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"}, {SIGURG, "URG"},     {SIGXCPU, "XCPU"}, {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"},
    {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"}, {SIGIO, "IO"},     {SIGPWR, "PWR"},   {SIGSYS, "SYS"},
};

bool is_live(ContainerStatus s) { return s == ContainerStatus::running || s == ContainerStatus::paused; }

unique_fd pidfd_open(pid_t pid) {
    if (pid <= 0) return unique_fd();
    return unique_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// Waits until the process behind `fd` has exited; false on timeout (ms, -1 = forever).
bool wait_exit(int fd, int timeout_ms) {
    if (fd < 0) return true;
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        int n = ::poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        return n != 0;
    }
}

// The monitor's end of a container: record how it ended, remove what the runtime does not
// (a v1 freezer cgroup), and the whole container with --rm. With `store` (a foreground
// run), the record's tree is deleted by a background remover once it is out of sight.
void finish(const Containers& containers, const layerstore::Volumes& volumes, const ContainerConfig& config,
            int status, const std::string& error, const layerstore::Store* store = nullptr,
            unique_fd mount_ns = {}) {
    auto record_end = [&] {
        return containers.update_state(config.id, [&](ContainerState& s) {
            s.status = ContainerStatus::exited;
            s.exit_code = status;
            s.pid = 0;
            s.finished_at = created_timestamp();
            s.error = error;
        });
    };
    // A record set aside at once (--rm in the foreground, below) is not rewritten first:
    // the end is recorded only if setting it aside fails. Its mount namespace (with `store`)
    // goes with it to the remover; otherwise its mounts go here, before anything is removed.
    const bool goes_now = config.auto_remove && store;
    if (!goes_now) mount_ns.reset();
    ContainerState st = goes_now ? containers.state(config.id) : record_end();
    try {
        runtime::remove_cgroup_dirs(st.cgroup_dirs);
    } catch (const std::exception& e) {
        log::warn(e.what());
    }
    if (!config.auto_remove) return;
    if (goes_now) {
        fs::path doomed;
        try {
            doomed = containers.set_aside(config.id);
        } catch (const std::exception&) {
            (void)record_end();
            throw;
        }
        layerstore::remove_tree_in_background(*store, doomed, std::move(mount_ns));
    } else {
        containers.remove(config.id);
    }
    for (const auto& m : config.mounts)
        if (m.type == "volume" && m.anonymous) {
            try {
                layerstore::Volumes(volumes).remove(m.source);
            } catch (const std::exception&) {
            }
        }
}

std::vector<runtime::Forward> open_listeners(const ContainerConfig& config, std::vector<layerstore::PortRecord>& bound) {
    std::vector<runtime::Forward> out;
    for (auto p : config.ports) {
        if (p.protocol != "tcp") throw UsageError("publishing " + p.protocol + " ports is not supported (tcp only)");
        runtime::Forward f;
        f.listener = runtime::listen_tcp(p.host_ip, p.host_port, &p.host_port);
        f.container_port = p.container_port;
        out.push_back(std::move(f));
        bound.push_back(p);
    }
    return out;
}

void record_started(const Containers& containers, const ContainerConfig& config, pid_t pid, pid_t monitor,
                    const std::vector<layerstore::PortRecord>& ports) {
    containers.update_state(config.id, [&](ContainerState& s) {
        s.status = ContainerStatus::running;
        s.pid = pid;
        s.monitor_pid = monitor;
        s.monitor_start_time = process_start_time(monitor);
        s.exit_code = 0;
        s.error.clear();
        s.started_at = created_timestamp();
        s.finished_at.clear();
        s.cgroup_dirs = runtime::process_cgroup_dirs(pid, cgroup_name(config.id));
        s.ports = ports;
    });
}

void check_startable(const Containers& containers, const std::string& id) {
    auto st = current_state(containers, id);
    if (is_live(st.status)) throw UsageError("container " + id.substr(0, 12) + " is already running");
}

}  // namespace

std::string cgroup_name(const std::string& id) { return "imgbuild-" + id.substr(0, 24); }

ContainerState current_state(const Containers& containers, const std::string& id) {
    ContainerState st = containers.state(id);
    if (!is_live(st.status)) return st;
    if (st.monitor_pid > 0 && process_start_time(st.monitor_pid) == st.monitor_start_time) return st;
    return containers.update_state(id, [](ContainerState& s) {
        if (!is_live(s.status)) return;
        s.status = ContainerStatus::exited;
        s.exit_code = 137;
        s.pid = 0;
        s.finished_at = created_timestamp();
        s.error = "the container's monitor died";
    });
}

ContainerState running_state(const Containers& containers, const std::string& id) {
    auto st = current_state(containers, id);
    if (!is_live(st.status)) throw Error("container " + id.substr(0, 12) + " is not running");
    return st;
}

runtime::ContainerSpec spec_from_record(const layerstore::Store& store, const ContainerConfig& c,
                                        std::vector<layerstore::LayerInfo>* unchecked) {
    std::vector<fs::path> lowers;
    for (const auto& id : c.layers) {
        auto layer = store.layer(id);
        if (!layer) throw Error("container " + c.id.substr(0, 12) + ": layer " + id + " is missing from the store");
        if (unchecked) {
            lowers.push_back(layer->diff_dir);
            unchecked->push_back(*layer);
        } else {
            lowers.push_back(layerstore::verify_layer_for_use(store, *layer).diff_dir);
        }
    }
    RunOptions o;
    o.argv = c.argv;
    o.env = c.env;
    o.workdir = c.cwd;
    o.user = c.user;
    o.hostname = c.hostname;
    o.network = runtime::parse_network_mode(c.network);
    o.limits.cpu_period_us = c.cpu_period;
    o.limits.cpu_quota_us = c.cpu_quota;
    o.limits.memory_bytes = c.memory;
    o.limits.pids = c.pids_limit;
    layerstore::Volumes volumes(store);
    for (const auto& m : c.mounts) {
        if (m.type == "tmpfs") {
            o.tmpfs.push_back({m.destination, m.tmpfs_options, m.read_only});
            continue;
        }
        runtime::BindMount b;
        b.target = m.destination;
        b.read_only = m.read_only;
        if (m.type == "volume") {
            b.source = volumes.data_dir(m.source);
            if (!fs::is_directory(b.source)) throw Error("volume " + m.source + " is missing: " + b.source.string());
        } else {
            b.source = m.source;
        }
        o.binds.push_back(b);
    }
    o.tty = c.tty;
    o.interactive = c.interactive;
    o.init = c.init;
    auto spec = make_container_spec(lowers, c.image_config, o, layerstore::Containers(store).dir(c.id),
                                    store.short_links_dir());
    spec.cgroup_name = cgroup_name(c.id);
    spec.shared_init_layer = store.init_layer_dir();
    spec.shared_init_staging_dir = store.tmp_dir();
    return spec;
}

StartOutcome start_detached_container(const layerstore::Store& store, const std::string& id) {
    Containers containers(store);
    check_startable(containers, id);
    ContainerConfig config = containers.config(id);
    runtime::ContainerSpec spec = spec_from_record(store, config);
    std::vector<layerstore::PortRecord> bound;
    runtime::DetachedOptions opt;
    opt.forwards = open_listeners(config, bound);
    opt.log_path = containers.log_path(id).string();
    layerstore::Volumes volumes(store);
    opt.on_started = [containers, config, bound](pid_t pid, pid_t monitor) {
        record_started(containers, config, pid, monitor, bound);
    };
    opt.on_exit = [containers, volumes, config](int status, const std::string& error) {
        finish(containers, volumes, config, status, error);
    };
    auto r = runtime::start_detached(spec, std::move(opt));
    return {r.started, r.status, r.error};
}

namespace {

// What `run` made before the record (runtime/start_ahead.h), when it is what the spec asks for.
void use_made_ahead(runtime::StartAhead& ahead, runtime::ContainerSpec& spec) {
    if (spec.network == runtime::NetworkMode::none && ahead.request().network) spec.join_netns_fd = ahead.network_fd();
    if (ahead.request().cgroup_name == spec.cgroup_name && ahead.request().limits == spec.limits)
        spec.cgroup = ahead.cgroup();
}

}  // namespace

int run_foreground_container(const layerstore::Store& store, const std::string& id, bool log, bool attach_stdout,
                             bool attach_stderr, runtime::StartAhead* ahead) {
    Containers containers(store);
    check_startable(containers, id);
    ContainerConfig config = containers.config(id);
    // The lowers' stamps are checked while the child sets up its root (before_exec): a
    // layer that changed stops the start before anything ran, and the start is made
    // again over lowers verified (re-hashed, repaired, or a CorruptError) the slow way.
    std::vector<layerstore::LayerInfo> unchecked;
    runtime::ContainerSpec spec = spec_from_record(store, config, &unchecked);
    struct LowersChanged {};
    spec.before_exec = [&unchecked] {
        for (const auto& layer : unchecked)
            if (!layerstore::stamp_matches(layer)) throw LowersChanged{};
    };
    std::vector<layerstore::PortRecord> bound;
    std::vector<runtime::Forward> forwards = open_listeners(config, bound);
    layerstore::Volumes volumes(store);
    std::optional<runtime::LogWriter> writer;
    if (log && !spec.tty) writer.emplace(containers.log_path(id).string());
    spec.stdin_fd = config.interactive ? 0 : -1;
    if (!attach_stdout) spec.stdout_fd = -1;
    if (!attach_stderr) spec.stderr_fd = -1;
    if (writer) {
        spec.on_output = [&](int stream, std::string_view data) {
            writer->write(stream, data);
            if ((stream == 1 && !attach_stdout) || (stream == 2 && !attach_stderr)) return;
            int fd = stream == 2 ? 2 : 1;
            while (!data.empty()) {
                ssize_t n = ::write(fd, data.data(), data.size());
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;  // the reader went away: keep logging
                data.remove_prefix(static_cast<size_t>(n));
            }
        };
    }
    spec.on_started = [&](pid_t pid) {
        record_started(containers, config, pid, ::getpid(), bound);
        runtime::start_port_forwarding(pid, std::move(forwards));
    };
    unique_fd mount_ns;  // its unmounts are left to the --rm remover (runtime/container.h)
    if (config.auto_remove) spec.keep_mount_namespace = &mount_ns;
    int status;
    try {
        // Inside the try: a namespace or cgroup that could not be made ends the start as its
        // making inside run_container would have (recorded, and the record gone with --rm).
        if (ahead) {
            ahead->join();
            if (!spec.rootless) use_made_ahead(*ahead, spec);
        }
        try {
            status = runtime::run_container(spec);
        } catch (const LowersChanged&) {
            spec.lower_dirs = spec_from_record(store, config).lower_dirs;
            spec.before_exec = nullptr;
            status = runtime::run_container(spec);
        }
    } catch (const std::exception& e) {
        finish(containers, volumes, config, runtime::exit_runtime_failure, e.what());
        throw;
    }
    finish(containers, volumes, config, status, "", &store, std::move(mount_ns));
    return status;
}

int parse_signal(std::string_view text) {
    std::string t(text);
    if (!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        int n = std::stoi(t);
        if (n > 0 && n < NSIG) return n;
    }
    for (auto& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (t.rfind("SIG", 0) == 0) t = t.substr(3);
    for (const auto& [sig, name] : kSignals)
        if (t == name) return sig;
    throw UsageError("invalid signal: \"" + std::string(text) + "\"");
}

std::string signal_name(int sig) {
    for (const auto& [s, name] : kSignals)
        if (s == sig) return std::string("SIG") + name;
    return std::to_string(sig);
}

void kill_container(const Containers& containers, const std::string& id, int sig) {
    auto st = running_state(containers, id);
    auto fd = pidfd_open(st.pid);
    if (!fd) throw_errno("pidfd_open", "container " + id.substr(0, 12) + " (pid " + std::to_string(st.pid) + ")");
    if (::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) != 0)
        throw_errno("kill " + signal_name(sig), "container " + id.substr(0, 12));
}

void stop_container(const Containers& containers, const std::string& id, std::optional<int> timeout) {
    auto st = current_state(containers, id);
    if (!is_live(st.status)) return;
    ContainerConfig config = containers.config(id);
    if (st.status == ContainerStatus::paused) unpause_container(containers, id);
    auto pid = pidfd_open(st.pid);
    auto monitor = pidfd_open(st.monitor_pid);
    int sig = parse_signal(config.stop_signal.empty() ? "SIGTERM" : config.stop_signal);
    if (pid) (void)::syscall(SYS_pidfd_send_signal, pid.get(), sig, nullptr, 0);
    int seconds = timeout.value_or(config.stop_timeout);
    if (pid && !wait_exit(pid.get(), seconds * 1000))
        (void)::syscall(SYS_pidfd_send_signal, pid.get(), SIGKILL, nullptr, 0);
    // The monitor records the exit and cleans up; it is done when it is gone.
    if (!wait_exit(monitor.get(), 30000)) throw Error("container " + id.substr(0, 12) + ": its monitor did not finish");
}

int wait_container(const Containers& containers, const std::string& id) {
    auto st = current_state(containers, id);
    if (st.status == ContainerStatus::created) throw Error("container " + id.substr(0, 12) + " has not been started");
    if (is_live(st.status)) {
        auto monitor = pidfd_open(st.monitor_pid);
        (void)wait_exit(monitor.get(), -1);
    }
    return current_state(containers, id).exit_code;
}

void remove_container(const layerstore::Store& store, const std::string& id, bool force, bool volumes) {
    Containers containers(store);
    ContainerConfig config = containers.config(id);
    auto st = current_state(containers, id);
    if (is_live(st.status)) {
        if (!force)
            throw UsageError("cannot remove running container " + id.substr(0, 12) + ": stop it first or use rm -f");
        auto pid = pidfd_open(st.pid);
        auto monitor = pidfd_open(st.monitor_pid);
        if (pid) (void)::syscall(SYS_pidfd_send_signal, pid.get(), SIGKILL, nullptr, 0);
        // SIGKILL does not end a task frozen by the v1 freezer until it is thawed.
        if (st.status == ContainerStatus::paused) {
            try {
                runtime::thaw_container(st.pid, st.cgroup_dirs);
            } catch (const std::exception&) {
            }
        }
        if (!wait_exit(monitor.get(), 30000)) throw Error("container " + id.substr(0, 12) + ": its monitor did not finish");
        if (!fs::exists(containers.dir(id) / "config.json")) return;  // --rm: the monitor removed it
        st = containers.state(id);
    }
    runtime::remove_cgroup_dirs(st.cgroup_dirs);
    // The short link a read-only view of the container made for its upper dir (container_fs.h).
    std::error_code ec;
    fs::remove(store.short_links_dir() / runtime::short_link_name(containers.dir(id) / "upper"), ec);
    containers.remove(id);
    if (!volumes) return;
    layerstore::Volumes vols(store);
    for (const auto& m : config.mounts)
        if (m.type == "volume" && m.anonymous && vols.find(m.source)) vols.remove(m.source);
}

void pause_container(const Containers& containers, const std::string& id) {
    auto st = running_state(containers, id);
    if (st.status == ContainerStatus::paused) throw Error("container " + id.substr(0, 12) + " is already paused");
    // Rootless without a delegated cgroup of its own, no freezer could be made (a v1 freezer
    // dir needs root): refused clearly rather than with the mkdir's EACCES.
    if (in_user_namespace() && st.cgroup_dirs.empty())
        throw Error("pause " + id.substr(0, 12) +
                    ": pausing a rootless container needs cgroup v2 delegation (it has no cgroup to freeze)");
    std::vector<std::string> dirs = st.cgroup_dirs;
    runtime::freeze_container(st.pid, cgroup_name(id), dirs);
    containers.update_state(id, [&](ContainerState& s) {
        s.status = ContainerStatus::paused;
        s.cgroup_dirs = dirs;
    });
}

void unpause_container(const Containers& containers, const std::string& id) {
    auto st = running_state(containers, id);
    if (st.status != ContainerStatus::paused) throw Error("container " + id.substr(0, 12) + " is not paused");
    runtime::thaw_container(st.pid, st.cgroup_dirs);
    containers.update_state(id, [](ContainerState& s) { s.status = ContainerStatus::running; });
}

void with_container_paused(const Containers& containers, const std::string& id, bool pause, const std::function<void()>& f) {
    auto st = current_state(containers, id);
    if (!pause || st.status != ContainerStatus::running) {
        f();
        return;
    }
    if (in_user_namespace() && st.cgroup_dirs.empty()) {
        // Rootless without a cgroup of its own: no freezer can hold it (docker's --pause=false).
        log::warn("container " + id.substr(0, 12) + " runs rootless without a cgroup: committed without pausing it");
        f();
        return;
    }
    pause_container(containers, id);
    scope_exit thaw([&] {
        try {
            unpause_container(containers, id);
        } catch (const std::exception& e) {
            log::warn(e.what());
        }
    });
    f();
}

}  // namespace imgbuild::builder
