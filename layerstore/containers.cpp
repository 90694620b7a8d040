#include "layerstore/containers.h"

#include <algorithm>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "layerstore/container_name_links.h"
#include "layerstore/container_names.h"
#include "layerstore/file_lock.h"
#include <unistd.h>
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::pair<ContainerStatus, const char*> kStatusNames[] = {
    {ContainerStatus::created, "created"},
    {ContainerStatus::running, "running"},
    {ContainerStatus::paused, "paused"},
    {ContainerStatus::exited, "exited"},
};

template <typename T>
void put_optional(json& j, const char* key, const std::optional<T>& v) {
    if (v) j[key] = *v;
}

template <typename T>
std::optional<T> get_optional(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<T>();
}

json mount_to_json(const MountRecord& m) {
    json j = {{"type", m.type}, {"source", m.source}, {"destination", m.destination}, {"read_only", m.read_only}};
    if (m.anonymous) j["anonymous"] = true;
    if (!m.tmpfs_options.empty()) j["tmpfs_options"] = m.tmpfs_options;
    return j;
}

MountRecord mount_from_json(const json& j) {
    MountRecord m;
    m.type = j.value("type", "bind");
    m.source = j.value("source", "");
    m.destination = j.value("destination", "");
    m.read_only = j.value("read_only", false);
    m.anonymous = j.value("anonymous", false);
    m.tmpfs_options = j.value("tmpfs_options", "");
    return m;
}

json port_to_json(const PortRecord& p) {
    return {{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port}, {"protocol", p.protocol}};
}

PortRecord port_from_json(const json& j) {
    PortRecord p;
    p.host_ip = j.value("host_ip", "0.0.0.0");
    p.host_port = j.value("host_port", uint16_t{0});
    p.container_port = j.value("container_port", uint16_t{0});
    p.protocol = j.value("protocol", "tcp");
    return p;
}

std::vector<std::string> strings(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return {};
    return it->get<std::vector<std::string>>();
}

}  // namespace

const char* to_string(ContainerStatus s) {
    for (const auto& [status, name] : kStatusNames)
        if (status == s) return name;
    return "unknown";
}

ContainerStatus parse_container_status(const std::string& s) {
    for (const auto& [status, name] : kStatusNames)
        if (s == name) return status;
    throw Error("container state: unknown status \"" + s + "\"");
}

json to_json(const ContainerConfig& c) {
    json j = {{"id", c.id},
              {"name", c.name},
              {"image", c.image},
              {"image_id", c.image_id},
              {"created", c.created},
              {"layers", c.layers},
              {"argv", c.argv},
              {"env", c.env},
              {"cwd", c.cwd},
              {"user", c.user},
              {"hostname", c.hostname},
              {"network", c.network},
              {"mounts", json::array()},
              {"ports", json::array()},
              {"tty", c.tty},
              {"interactive", c.interactive},
              {"init", c.init},
              {"auto_remove", c.auto_remove},
              {"stop_signal", c.stop_signal},
              {"stop_timeout", c.stop_timeout},
              {"image_config", c.image_config}};
    put_optional(j, "cpu_period", c.cpu_period);
    put_optional(j, "cpu_quota", c.cpu_quota);
    put_optional(j, "memory", c.memory);
    put_optional(j, "pids_limit", c.pids_limit);
    for (const auto& m : c.mounts) j["mounts"].push_back(mount_to_json(m));
    for (const auto& p : c.ports) j["ports"].push_back(port_to_json(p));
    return j;
}

ContainerConfig container_config_from_json(const json& j) {
    if (!j.is_object()) throw Error("container config: not a JSON object");
    ContainerConfig c;
    c.id = j.value("id", "");
    c.name = j.value("name", "");
    c.image = j.value("image", "");
    c.image_id = j.value("image_id", "");
    c.created = j.value("created", "");
    c.layers = strings(j, "layers");
    c.argv = strings(j, "argv");
    c.env = strings(j, "env");
    c.cwd = j.value("cwd", "/");
    c.user = j.value("user", "");
    c.hostname = j.value("hostname", "");
    c.network = j.value("network", "private");
    c.cpu_period = get_optional<uint64_t>(j, "cpu_period");
    c.cpu_quota = get_optional<uint64_t>(j, "cpu_quota");
    c.memory = get_optional<int64_t>(j, "memory");
    c.pids_limit = get_optional<int64_t>(j, "pids_limit");
    if (auto it = j.find("mounts"); it != j.end() && it->is_array())
        for (const auto& m : *it) c.mounts.push_back(mount_from_json(m));
    if (auto it = j.find("ports"); it != j.end() && it->is_array())
        for (const auto& p : *it) c.ports.push_back(port_from_json(p));
    c.tty = j.value("tty", false);
    c.interactive = j.value("interactive", false);
    c.init = j.value("init", false);
    c.auto_remove = j.value("auto_remove", false);
    c.stop_signal = j.value("stop_signal", "SIGTERM");
    c.stop_timeout = j.value("stop_timeout", 10);
    c.image_config = j.value("image_config", json::object());
    return c;
}

json to_json(const ContainerState& s) {
    json j = {{"status", to_string(s.status)},
              {"pid", s.pid},
              {"monitor_pid", s.monitor_pid},
              {"monitor_start_time", s.monitor_start_time},
              {"exit_code", s.exit_code},
              {"started_at", s.started_at},
              {"finished_at", s.finished_at},
              {"cgroup_dirs", s.cgroup_dirs},
              {"ports", json::array()}};
    for (const auto& p : s.ports) j["ports"].push_back(port_to_json(p));
    if (!s.error.empty()) j["error"] = s.error;
    return j;
}

ContainerState container_state_from_json(const json& j) {
    if (!j.is_object()) throw Error("container state: not a JSON object");
    ContainerState s;
    s.status = parse_container_status(j.value("status", "created"));
    s.pid = j.value("pid", 0);
    s.monitor_pid = j.value("monitor_pid", 0);
    s.monitor_start_time = j.value("monitor_start_time", uint64_t{0});
    s.exit_code = j.value("exit_code", 0);
    s.started_at = j.value("started_at", "");
    s.finished_at = j.value("finished_at", "");
    s.error = j.value("error", "");
    s.cgroup_dirs = strings(j, "cgroup_dirs");
    if (auto it = j.find("ports"); it != j.end() && it->is_array())
        for (const auto& p : *it) s.ports.push_back(port_from_json(p));
    return s;
}

bool valid_container_name(const std::string& name) {
    if (name.empty()) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (!alnum(name[0])) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

Containers::Containers(const Store& store) : root_(store.containers_dir()), tmp_(store.tmp_dir()) {}

fs::path Containers::dir(const std::string& id) const { return root_ / id; }

std::vector<std::string> Containers::ids() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_, ec)) {
        std::string name = e.path().filename().string();
        if (is_container_id(name) && fs::exists(e.path() / "config.json")) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Names are an index of symlinks, containers/names/<name> -> <id> (its spelling:
// container_name_links.h): symlink(2) either
// creates one or fails with EEXIST, so a name is taken atomically and found without
// reading every record (a store with hundreds of containers keeps `run` as fast).
std::optional<std::string> Containers::id_of_name(const std::string& name) const {
    if (!valid_container_name(name)) return std::nullopt;
    std::string id = read_name_link(root_ / "names" / name);
    if (id.empty() || !fs::exists(dir(id) / "config.json")) return std::nullopt;
    return id;
}

bool Containers::reserve_name(const std::string& name, const std::string& id) const {
    fs::path link = root_ / "names" / name;
    const std::string target = name_link_target(id);
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (::symlink(target.c_str(), link.c_str()) == 0) return true;
        if (errno != EEXIST) throw_errno("symlink " + link.string() + " ->", target);
        // A link whose container is gone (a crash between the two) does not hold the name.
        std::string other = read_name_link(link);
        if (!other.empty() && fs::exists(dir(other))) return false;
        ::unlink(link.c_str());
    }
    return false;
}

void Containers::create(ContainerConfig& config, const ContainerState& initial) {
    if (!is_container_id(config.id)) throw Error("container id must be 64 hex digits: " + config.id);
    if (!config.name.empty() && !valid_container_name(config.name))
        throw UsageError("invalid container name \"" + config.name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    make_dirs(root_ / "names");
    if (!config.name.empty()) {
        if (!reserve_name(config.name, config.id)) {
            auto other = id_of_name(config.name);
            throw UsageError("container name \"" + config.name + "\" is already in use by container " +
                             other.value_or("(being created or removed)"));
        }
    } else {
        // A generated name, as docker gives one; the id's bits pick it, a suffix makes it unique.
        uint64_t salt = std::stoull(config.id.substr(0, 15), nullptr, 16);
        std::string name = generated_container_name(salt);
        for (int n = 2; !reserve_name(name, config.id); ++n) name = generated_container_name(salt) + std::to_string(n);
        config.name = name;
    }
    fs::path d = dir(config.id);
    for (const char* sub : {"upper", "work", "merged", "init"}) make_dirs(d / sub);
    write_state(config.id, initial);
    // config.json last: a record without it is not listed (ids()), so a crash in between
    // leaves no half container.
    atomic_write_file(d / "config.json", to_json(config).dump(2), d, Durability::relaxed);
}

std::optional<std::string> Containers::find(const std::string& ref) const {
    if (ref.empty()) return std::nullopt;
    auto all = ids();
    if (std::binary_search(all.begin(), all.end(), ref)) return ref;
    if (auto by_name = id_of_name(ref)) return by_name;
    std::optional<std::string> match;
    for (const auto& id : all) {
        if (id.compare(0, ref.size(), ref) != 0) continue;
        if (match) throw Error("container id prefix \"" + ref + "\" is ambiguous");
        match = id;
    }
    return match;
}

std::string Containers::resolve(const std::string& ref) const {
    if (auto id = find(ref)) return *id;
    throw Error("no such container: " + ref);
}

ContainerConfig Containers::config(const std::string& id) const {
    fs::path p = dir(id) / "config.json";
    try {
        return container_config_from_json(json::parse(read_file(p)));
    } catch (const json::exception& e) {
        throw Error(p.string() + ": " + e.what());
    }
}

ContainerState Containers::state(const std::string& id) const {
    fs::path p = dir(id) / "state.json";
    try {
        return container_state_from_json(json::parse(read_file(p)));
    } catch (const json::exception& e) {
        throw Error(p.string() + ": " + e.what());
    }
}

void Containers::write_state(const std::string& id, const ContainerState& state) const {
    // The temp file goes in the container's own dir, not tmp/: the monitor writes state
    // without holding the store lock, and a store opened with nobody holding the lock
    // empties tmp/.
    atomic_write_file(dir(id) / "state.json", to_json(state).dump(2), dir(id), Durability::relaxed);
}

ContainerState Containers::update_state(const std::string& id, const std::function<void(ContainerState&)>& change) const {
    FileLock lock(dir(id) / "state.lock", LOCK_EX);
    ContainerState s = state(id);
    change(s);
    write_state(id, s);
    return s;
}

void Containers::remove(const std::string& id) const { remove_tree(set_aside(id)); }

fs::path Containers::set_aside(const std::string& id) const {
    // The name goes first (if it is still this container's), then the record: renamed so
    // that it vanishes at once (ids() no longer lists it), then deleted (upper dirs can be
    // large).
    try {
        std::string name = config(id).name;
        if (read_name_link(root_ / "names" / name) == id) ::unlink((root_ / "names" / name).c_str());
    } catch (const Error&) {
        // no readable config: no name to free
    }
    fs::path d = dir(id);
    fs::path doomed = tmp_ / ("rm-" + id);
    if (::rename(d.c_str(), doomed.c_str()) != 0) throw_errno("rename", d.string());
    return doomed;
}

}  // namespace imgbuild::layerstore
