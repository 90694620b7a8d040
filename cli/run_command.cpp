// `imgbuild run [--rm] [-e K=V] [-w DIR] [-u USER] [--hostname H] [--network none|host|private]
//               [--cpu-period N --cpu-quota N | --cpus F] [-m SIZE] [--pids-limit N]
//               [-v SRC:DST[:ro]|-v DST] [-i] [-t] [--init] [--name N] IMAGE [CMD...]`
// Resolves the image from the store into a ContainerSpec, keeps the container's state in
// <store>/containers/<id>/ and runs it in the foreground. Exit status: the container's,
// 125 when imgbuild failed, 126/127 when the command cannot be run / is not found.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/store_access.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "runtime/container.h"
#include "runtime/limits.h"

namespace imgbuild::cli {
namespace {

using nlohmann::json;

struct RunArgs {
    bool rm = false, interactive = false, tty = false, init = false;
    std::vector<std::string> env, volumes;
    std::string workdir, user, hostname, network = "private", name;
    std::optional<uint64_t> cpu_period, cpu_quota;
    std::string cpus, memory;
    std::optional<int64_t> pids_limit;
};

std::vector<std::string> string_list(const json& config, const char* key) {
    std::vector<std::string> out;
    auto it = config.find(key);
    if (it == config.end() || !it->is_array()) return out;
    for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::string string_field(const json& config, const char* key) {
    auto it = config.find(key);
    return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Image env, then HOSTNAME, then -e (K=V sets, a bare K copies the host's value if any).
std::vector<std::string> merge_env(const std::vector<std::string>& image_env, const std::string& hostname,
                                   const std::vector<std::string>& flags) {
    std::vector<std::string> order;
    std::map<std::string, std::string> values;
    auto set = [&](const std::string& kv) {
        auto eq = kv.find('=');
        std::string key = kv.substr(0, eq);
        if (key.empty()) throw UsageError("invalid environment variable: \"" + kv + "\"");
        if (!values.count(key)) order.push_back(key);
        values[key] = kv;
    };
    set("HOSTNAME=" + hostname);
    for (const auto& kv : image_env) set(kv);
    for (const auto& kv : flags) {
        if (kv.find('=') != std::string::npos) {
            set(kv);
        } else if (const char* host = std::getenv(kv.c_str())) {
            set(kv + "=" + host);
        }
    }
    std::vector<std::string> out;
    for (const auto& k : order) out.push_back(values[k]);
    return out;
}

struct Volume {
    runtime::BindMount bind;
    std::optional<fs::path> anonymous_dir;  // volumes/<id>, removed with --rm
};

Volume parse_volume(const std::string& text, const layerstore::Store& store) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t colon = text.find(':', start);
        parts.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    Volume v;
    if (parts.size() == 1) {
        fs::path dir = store.volumes_dir() / random_hex(32);
        make_dirs(dir / "_data");
        v.anonymous_dir = dir;
        v.bind = {dir / "_data", parts[0], false};
        return v;
    }
    if (parts.size() > 3 || (parts.size() == 3 && parts[2] != "ro" && parts[2] != "rw"))
        throw UsageError("invalid volume \"" + text + "\" (SRC:DST[:ro|rw] or DST)");
    if (!fs::path(parts[0]).is_absolute())
        throw UsageError("volume source must be an absolute path (named volumes are not supported yet): \"" + parts[0] + "\"");
    if (!fs::exists(parts[0])) throw UsageError("volume source does not exist: " + parts[0]);
    v.bind = {parts[0], parts[1], parts.size() == 3 && parts[2] == "ro"};
    return v;
}

runtime::Limits parse_limits(const RunArgs& a) {
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

std::string now_rfc3339() {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

// Container state is rewritten a few times per run and is worthless after a host crash
// (the container is gone too): rename for atomicity, no fsync (each costs milliseconds).
void write_state_file(const fs::path& path, const json& doc) {
    fs::path tmp = path;
    tmp += ".tmp";
    {
        auto fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        write_all(fd.get(), doc.dump(2), tmp);
    }
    rename_or_throw(tmp, path);
}

void check_name_free(const layerstore::Store& store, const std::string& name) {
    if (name.empty()) return;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store.containers_dir(), ec)) {
        try {
            auto cfg = json::parse(read_file(entry.path() / "config.json"));
            if (cfg.value("name", "") == name)
                throw UsageError("container name \"" + name + "\" is already in use by " + entry.path().filename().string());
        } catch (const json::exception&) {
        } catch (const SystemError&) {
        }
    }
}

int run(const RunArgs& a, const std::vector<std::string>& rest, const GlobalOptions& g) {
    if (rest.empty()) throw UsageError("run: IMAGE is required");
    auto store = open_store(g);
    check_name_free(*store, a.name);
    auto image = store->resolve_image(rest[0]);
    const json& cfg = image.config.contains("config") && image.config["config"].is_object() ? image.config["config"]
                                                                                              : json::object();

    std::string id = random_hex(32);
    fs::path dir = store->containers_dir() / id;
    std::vector<Volume> volumes;
    bool remove = a.rm;
    scope_exit cleanup([&] {
        if (!remove) return;
        try {
            remove_tree(dir);
            for (const auto& v : volumes)
                if (v.anonymous_dir) remove_tree(*v.anonymous_dir);
        } catch (const std::exception& e) {
            log::warn(e.what());
        }
    });
    for (const char* sub : {"upper", "work", "merged", "init"}) make_dirs(dir / sub);

    runtime::ContainerSpec spec;
    for (const auto& layer : image.layers) spec.lower_dirs.push_back(layer.diff_dir);
    spec.upper_dir = dir / "upper";
    spec.work_dir = dir / "work";
    spec.merged_dir = dir / "merged";
    spec.init_dir = dir / "init";
    spec.short_links_dir = store->short_links_dir();
    spec.argv = string_list(cfg, "Entrypoint");
    auto cmd = rest.size() > 1 ? std::vector<std::string>(rest.begin() + 1, rest.end()) : string_list(cfg, "Cmd");
    spec.argv.insert(spec.argv.end(), cmd.begin(), cmd.end());
    if (spec.argv.empty()) throw UsageError("no command specified (the image has no Entrypoint or Cmd)");
    spec.hostname = a.hostname.empty() ? id.substr(0, 12) : a.hostname;
    spec.env = merge_env(string_list(cfg, "Env"), spec.hostname, a.env);
    spec.cwd = !a.workdir.empty() ? a.workdir : string_field(cfg, "WorkingDir");
    if (spec.cwd.empty()) spec.cwd = "/";
    spec.user = !a.user.empty() ? a.user : string_field(cfg, "User");
    spec.network = runtime::parse_network_mode(a.network);
    spec.limits = parse_limits(a);
    for (const auto& text : a.volumes) {
        volumes.push_back(parse_volume(text, *store));
        spec.binds.push_back(volumes.back().bind);
    }
    spec.tty = a.tty;
    spec.interactive = a.interactive;
    spec.init = a.init;
    spec.stdin_fd = a.interactive ? 0 : -1;
    spec.cgroup_name = "imgbuild-" + id.substr(0, 24);

    json config = {{"id", id},           {"name", a.name},          {"image", rest[0]},
                   {"image_id", image.config_digest.str()},         {"created", now_rfc3339()},
                   {"argv", spec.argv},  {"env", spec.env},         {"cwd", spec.cwd},
                   {"user", spec.user},  {"hostname", spec.hostname}, {"network", std::string(runtime::to_string(spec.network))},
                   {"layers", json::array()}};
    for (const auto& layer : image.layers) config["layers"].push_back(layer.id);
    write_state_file(dir / "config.json", config);
    auto write_state = [&](const json& state) { write_state_file(dir / "state.json", state); };
    write_state({{"status", "created"}, {"pid", 0}});
    spec.on_started = [&](pid_t pid) {
        write_state({{"status", "running"}, {"pid", pid}, {"started_at", now_rfc3339()}});
    };

    int status = runtime::run_container(spec);
    if (!a.rm) write_state({{"status", "exited"}, {"pid", 0}, {"exit_code", status}, {"finished_at", now_rfc3339()}});
    return status;
}

VerbRegistration run_verb{"run", "Run a command in a new container", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<RunArgs>();
    cmd.add_flag("--rm", a->rm, "remove the container when it exits");
    cmd.add_option("-e,--env", a->env, "set an environment variable (K=V, or K to copy the host's)")->allow_extra_args(false);
    cmd.add_option("-w,--workdir", a->workdir, "working directory inside the container");
    cmd.add_option("-u,--user", a->user, "user[:group] (names from the image's /etc/passwd)");
    cmd.add_option("--hostname", a->hostname, "container host name");
    cmd.add_option("--network", a->network, "none, host or private (default)");
    cmd.add_option("--cpu-period", a->cpu_period, "CFS period in microseconds");
    cmd.add_option("--cpu-quota", a->cpu_quota, "CFS quota in microseconds");
    cmd.add_option("--cpus", a->cpus, "number of CPUs (e.g. 0.5)");
    cmd.add_option("-m,--memory", a->memory, "memory limit (e.g. 512m)");
    cmd.add_option("--pids-limit", a->pids_limit, "maximum number of processes (default 2048 where a pids controller exists; -1 or 0: unlimited)");
    cmd.add_option("-v,--volume", a->volumes, "bind mount SRC:DST[:ro], or an anonymous volume DST")->allow_extra_args(false);
    cmd.add_flag("-i,--interactive", a->interactive, "keep stdin open");
    cmd.add_flag("-t,--tty", a->tty, "allocate a pseudo-terminal");
    cmd.add_flag("--init", a->init, "run a tiny init as PID 1 that reaps zombies");
    cmd.add_option("--name", a->name, "container name");
    // IMAGE and everything after it (the command and its own flags) are left unparsed.
    // Global options go before the verb here: with fallthrough, CLI11 would hand the
    // command's words to the parent instead of stopping at IMAGE.
    cmd.fallthrough(false);
    cmd.prefix_command();
    return [a, &g, &cmd] {
        try {
            return run(*a, cmd.remaining(), g);
        } catch (const std::exception& e) {
            std::cerr << "imgbuild: " << e.what() << "\n";
            return runtime::exit_runtime_failure;
        }
    };
}};

}  // namespace
}  // namespace imgbuild::cli
