#include "cli/container_create.h"

#include <unistd.h>

#include <iostream>
#include <set>

#include "builder/container_fs.h"
#include "builder/container_ops.h"
#include "builder/container_spec.h"
#include "builder/run_flags.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/time.h"
#include "common/user_namespace.h"
#include "layerstore/containers.h"
#include "layerstore/volumes.h"
#include "runtime/cgroup.h"
#include "runtime/container_procs.h"
#include "runtime/limits.h"
#include "runtime/network_private.h"

namespace imgbuild::cli {

using nlohmann::json;

runtime::Limits parse_limits(const CreateArgs& a) {
    runtime::Limits l;
    if (!a.cpus.empty()) {
        if (a.cpu_quota || a.cpu_period) throw UsageError("--cpus and --cpu-period/--cpu-quota cannot be combined");
        runtime::apply_cpus(l, a.cpus);
    }
    if (a.cpu_period) l.cpu_period_us = *a.cpu_period;
    if (a.cpu_quota) l.cpu_quota_us = *a.cpu_quota;
    if (!a.memory.empty()) {
        l.memory_bytes = runtime::parse_byte_size(a.memory);
        if (*l.memory_bytes < (6 << 20)) throw UsageError("minimum memory limit allowed is 6MB");
    }
    l.pids = a.pids_limit;
    return l;
}

namespace {

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ' ' || c == '\t') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

// Volumes: named ones are created when missing, anonymous ones made for this container;
// a new (empty) volume is filled with the image's content at its mount point, as docker does.
void prepare_volumes(layerstore::Store& store, const layerstore::Image& image, std::vector<layerstore::MountRecord>& mounts) {
    layerstore::Volumes volumes(store);
    for (auto& m : mounts) {
        if (m.type == "bind") {
            if (!fs::exists(m.source)) throw UsageError("bind mount source does not exist: " + m.source);
            continue;
        }
        if (m.type != "volume") continue;
        bool created = false;
        auto v = volumes.create(m.anonymous ? "" : m.source, m.anonymous, json::object(), &created);
        m.source = v.name;
        if (created || fs::is_empty(v.mountpoint)) builder::fill_volume_from_image(store, image.layers, m.destination, v.mountpoint);
    }
}

}  // namespace

void add_create_flags(CLI::App& cmd, CreateArgs& a) {
    cmd.add_flag("--rm", a.rm, "remove the container (and its anonymous volumes) when it exits");
    cmd.add_option("-e,--env", a.env, "set an environment variable (K=V, or K to copy the host's)")->allow_extra_args(false);
    cmd.add_option("-w,--workdir", a.workdir, "working directory inside the container");
    cmd.add_option("-u,--user", a.user, "user[:group] (names from the image's /etc/passwd)");
    cmd.add_option("--hostname", a.hostname, "container host name");
    cmd.add_option("--network,--net", a.network, "none, host or private (default)");
    cmd.add_option("--cpu-period", a.cpu_period, "CFS period in microseconds");
    cmd.add_option("--cpu-quota", a.cpu_quota, "CFS quota in microseconds");
    cmd.add_option("--cpus", a.cpus, "number of CPUs (e.g. 0.5)");
    cmd.add_option("-m,--memory", a.memory, "memory limit (e.g. 512m)");
    cmd.add_option("--pids-limit", a.pids_limit, "maximum number of processes (default 2048 where a pids controller exists; -1 or 0: unlimited)");
    cmd.add_option("-v,--volume", a.volumes, "bind mount /SRC:DST[:ro], named volume NAME:DST[:ro], or anonymous volume DST")
        ->allow_extra_args(false);
    cmd.add_option("--mount", a.mounts, "type=bind|volume|tmpfs,source=..,target=..[,readonly]")->allow_extra_args(false);
    cmd.add_option("-p,--publish", a.publish, "publish [IP:][HOST:]CTR[/tcp]")->allow_extra_args(false);
    cmd.add_flag("-P,--publish-all", a.publish_all, "publish every exposed port to a free host port");
    cmd.add_option("-l,--label", a.labels, "container label K=V")->allow_extra_args(false);
    cmd.add_option("-a,--attach", a.attach, "attach stdout and/or stderr (default both)")->allow_extra_args(false);
    cmd.add_flag("-i,--interactive", a.interactive, "keep stdin open");
    cmd.add_flag("-t,--tty", a.tty, "allocate a pseudo-terminal");
    cmd.add_flag("--init", a.init, "run a tiny init as PID 1 that reaps zombies");
    cmd.add_option("--name", a.name, "container name");
    cmd.add_option("--entrypoint", a.entrypoint, "replace the image's entrypoint (\"\" clears it)")
        ->each([&a](const std::string&) { a.entrypoint_set = true; });
    cmd.add_option("--stop-signal", a.stop_signal, "signal that stops the container (default the image's STOPSIGNAL or SIGTERM)");
    cmd.add_option("--stop-timeout", a.stop_timeout, "seconds to wait after the stop signal before SIGKILL (default 10)");
    // IMAGE and everything after it (the command and its own flags) are left unparsed.
    cmd.fallthrough(false);
    cmd.prefix_command();
}

void check_no_unknown_option(const std::vector<std::string>& rest, const std::string& verb) {
    if (!rest.empty() && rest[0].size() > 1 && rest[0][0] == '-')
        throw UnknownOptionError(verb + ": unknown option " + rest[0]);
}

std::string create_container(layerstore::Store& store, const CreateArgs& a, const std::vector<std::string>& rest,
                             bool owned, const std::string& given_id) {
    check_no_unknown_option(rest, "run");
    if (rest.empty()) throw UsageError("IMAGE is required");
    if (!a.name.empty() && !layerstore::valid_container_name(a.name))
        throw UsageError("invalid container name \"" + a.name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    layerstore::Containers containers(store);
    if (!a.name.empty())
        if (auto other = containers.id_of_name(a.name))
            throw UsageError("container name \"" + a.name + "\" is already in use by container " + *other);
    for (const auto& s : a.attach)
        if (s != "stdout" && s != "stderr" && s != "stdin") throw UsageError("invalid --attach \"" + s + "\" (stdout, stderr)");
    auto image = store.resolve_image(rest[0]);
    const json& cfg = image.config.contains("config") && image.config["config"].is_object() ? image.config["config"]
                                                                                              : json::object();
    std::string id = given_id.empty() ? random_hex(32) : given_id;

    builder::RunOptions o;
    if (a.entrypoint_set) o.entrypoint = split_words(a.entrypoint);
    o.cmd = std::vector<std::string>(rest.begin() + 1, rest.end());
    o.extra_env = a.env;
    o.workdir = a.workdir;
    if (!a.user.empty()) o.user = a.user;
    o.hostname = a.hostname;
    o.hostname_default = id.substr(0, 12);
    // Not given: private, or none (with a note) where slirp4netns cannot work; an explicit
    // `--network private` that cannot be had is refused rather than quietly made none.
    const bool wants_private = a.network.empty() || a.network == "private";
    o.network = runtime::resolve_run_network(a.network, wants_private ? runtime::private_network_problem() : "");
    if (wants_private && o.network == runtime::NetworkMode::none) (void)runtime::private_network_available();
    o.limits = parse_limits(a);
    // Rootless, a limit the delegation cannot hold is refused now, before the record exists
    // (refused only at start, a run -d would leave a dead container holding its name).
    if (in_user_namespace() && runtime::asks_for_limits(o.limits))
        runtime::refuse_rootless_limits(o.limits, runtime::find_own_cgroup_delegation());

    layerstore::ContainerConfig c;
    c.id = id;
    c.name = a.name;
    c.image = rest[0];
    c.image_id = image.config_digest.str();
    c.created = created_timestamp();
    for (const auto& l : image.layers) c.layers.push_back(l.id);
    // The spec decides command, env, cwd and user once; the record keeps the outcome.
    {
        // (upper/ work/ merged/ are made in the container's dir; the record itself counts
        // only once config.json is written.)
        auto spec = builder::make_container_spec({}, cfg, o, containers.dir(id), {});
        c.argv = spec.argv;
        c.env = spec.env;
        c.cwd = spec.cwd;
        c.user = spec.user;
        c.hostname = spec.hostname;
    }
    c.network = std::string(runtime::to_string(o.network));  // what it gets, after a fallback too
    c.cpu_period = o.limits.cpu_period_us;
    c.cpu_quota = o.limits.cpu_quota_us;
    c.memory = o.limits.memory_bytes;
    c.pids_limit = o.limits.pids;
    c.tty = a.tty;
    c.interactive = a.interactive;
    c.init = a.init;
    c.auto_remove = a.rm;
    c.stop_signal = !a.stop_signal.empty() ? a.stop_signal : cfg.value("StopSignal", "SIGTERM");
    (void)builder::parse_signal(c.stop_signal);
    c.stop_timeout = a.stop_timeout.value_or(10);
    c.image_config = cfg;
    for (const auto& kv : a.labels) {
        auto eq = kv.find('=');
        c.image_config["Labels"][kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }

    std::set<std::string> destinations;
    for (const auto& v : a.volumes) c.mounts.push_back(builder::parse_volume_flag(v));
    for (const auto& m : a.mounts) c.mounts.push_back(builder::parse_mount_flag(m));
    for (const auto& m : c.mounts)
        if (!destinations.insert(fs::path(m.destination).lexically_normal().string()).second)
            throw UsageError("duplicate mount point: " + m.destination);
    // VOLUME in the image: an anonymous volume where no mount covers the path.
    if (auto it = cfg.find("Volumes"); it != cfg.end() && it->is_object()) {
        for (const auto& [path, _] : it->items()) {
            if (destinations.count(fs::path(path).lexically_normal().string())) continue;
            layerstore::MountRecord m;
            m.type = "volume";
            m.anonymous = true;
            m.destination = path;
            c.mounts.push_back(m);
        }
    }
    for (const auto& p : a.publish) c.ports.push_back(builder::parse_publish_flag(p));
    if (a.publish_all)
        for (const auto& p : builder::publish_all(cfg.value("ExposedPorts", json::object()))) c.ports.push_back(p);
    if (!c.ports.empty() && o.network == runtime::NetworkMode::host)
        throw UsageError("published ports cannot be used with --network host (the container uses the host's ports)");
    for (const auto& p : c.ports)
        if (p.protocol != "tcp") throw UsageError("publishing " + p.protocol + " ports is not supported (tcp only)");
    prepare_volumes(store, image, c.mounts);
    // The owner from the first state on: if this process is killed before the container
    // starts, the next store open removes the cgroup dirs it may have made by then (the
    // real ones replace these at start), and a --rm record (container_cleanup.h).
    layerstore::ContainerState initial;
    if (owned) {
        initial.monitor_pid = ::getpid();
        initial.monitor_start_time = process_start_time(::getpid());
        initial.cgroup_dirs = runtime::planned_cgroup_dirs(builder::cgroup_name(id));
    }
    containers.create(c, initial);
    return id;
}

int with_container_exit_codes(const std::function<int()>& verb) {
    try {
        return verb();
    } catch (const UnknownOptionError& e) {
        std::cerr << "imgbuild: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "imgbuild: " << e.what() << "\n";
        return runtime::exit_runtime_failure;
    }
}

}  // namespace imgbuild::cli
