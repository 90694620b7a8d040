#include "builder/container_spec_json.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace imgbuild::builder {

using nlohmann::json;
using runtime::ContainerSpec;

namespace {

// A field added to ContainerSpec must be added here too, or a parallel build's RUN would
// silently run without it: this size check fails the build until it is.
// (ContainerSpec::cgroup is not carried: the helper process makes the container's own; nor
// is keep_mount_namespace: the helper's container unmounts at its exit.)
static_assert(sizeof(void*) != 8 || sizeof(ContainerSpec) == 792,
              "ContainerSpec changed: serialize the new field in container_spec_json.cpp, then update the size");

template <class T>
json optional_json(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

template <class T>
std::optional<T> optional_from(const json& j) {
    if (j.is_null()) return std::nullopt;
    return j.get<T>();
}

json id_maps_json(const std::vector<runtime::IdMap>& maps) {
    json a = json::array();
    for (const auto& m : maps) a.push_back({m.container_id, m.host_id, m.count});
    return a;
}

std::vector<runtime::IdMap> id_maps_from(const json& a) {
    std::vector<runtime::IdMap> maps;
    for (const auto& m : a) maps.push_back({m.at(0).get<uint32_t>(), m.at(1).get<uint32_t>(), m.at(2).get<uint32_t>()});
    return maps;
}

}  // namespace

std::string container_spec_to_json(const ContainerSpec& spec) {
    json j;
    json lowers = json::array();
    for (const auto& l : spec.lower_dirs) lowers.push_back(l.string());
    j["lower_dirs"] = lowers;
    j["upper_dir"] = spec.upper_dir.string();
    j["work_dir"] = spec.work_dir.string();
    j["merged_dir"] = spec.merged_dir.string();
    j["init_dir"] = spec.init_dir.string();
    j["shared_init_layer"] = spec.shared_init_layer.string();
    j["shared_init_staging_dir"] = spec.shared_init_staging_dir.string();
    j["short_links_dir"] = spec.short_links_dir.string();
    j["argv"] = spec.argv;
    j["env"] = spec.env;
    j["cwd"] = spec.cwd;
    j["user"] = spec.user;
    j["hostname"] = spec.hostname;
    json binds = json::array();
    for (const auto& b : spec.binds) binds.push_back({{"source", b.source.string()}, {"target", b.target}, {"read_only", b.read_only}});
    j["binds"] = binds;
    json tmpfs = json::array();
    for (const auto& t : spec.tmpfs) tmpfs.push_back({{"target", t.target}, {"options", t.options}, {"read_only", t.read_only}});
    j["tmpfs"] = tmpfs;
    j["network"] = std::string(runtime::to_string(spec.network));
    // An fd number of this process: only whether there is one goes across (the helper gets it
    // as its own fd, builder/container_process.cpp).
    j["join_netns"] = spec.join_netns_fd >= 0;
    j["limits"] = {{"cpu_period_us", optional_json(spec.limits.cpu_period_us)},
                   {"cpu_quota_us", optional_json(spec.limits.cpu_quota_us)},
                   {"memory_bytes", optional_json(spec.limits.memory_bytes)},
                   {"pids", optional_json(spec.limits.pids)}};
    j["tty"] = spec.tty;
    j["interactive"] = spec.interactive;
    j["init"] = spec.init;
    j["forward_signals"] = spec.forward_signals;
    j["rootless"] = spec.rootless;
    j["uid_map"] = id_maps_json(spec.uid_map);
    j["gid_map"] = id_maps_json(spec.gid_map);
    j["volatile_overlay"] = spec.volatile_overlay;
    j["cgroup_name"] = spec.cgroup_name;
    return j.dump();
}

ContainerSpec container_spec_from_json(const std::string& text, const std::string& what) {
    try {
        json j = json::parse(text);
        ContainerSpec spec;
        for (const auto& l : j.at("lower_dirs")) spec.lower_dirs.emplace_back(l.get<std::string>());
        spec.upper_dir = j.at("upper_dir").get<std::string>();
        spec.work_dir = j.at("work_dir").get<std::string>();
        spec.merged_dir = j.at("merged_dir").get<std::string>();
        spec.init_dir = j.at("init_dir").get<std::string>();
        spec.shared_init_layer = j.at("shared_init_layer").get<std::string>();
        spec.shared_init_staging_dir = j.at("shared_init_staging_dir").get<std::string>();
        spec.short_links_dir = j.at("short_links_dir").get<std::string>();
        spec.argv = j.at("argv").get<std::vector<std::string>>();
        spec.env = j.at("env").get<std::vector<std::string>>();
        spec.cwd = j.at("cwd").get<std::string>();
        spec.user = j.at("user").get<std::string>();
        spec.hostname = j.at("hostname").get<std::string>();
        for (const auto& b : j.at("binds"))
            spec.binds.push_back({b.at("source").get<std::string>(), b.at("target").get<std::string>(), b.at("read_only").get<bool>()});
        for (const auto& t : j.at("tmpfs"))
            spec.tmpfs.push_back({t.at("target").get<std::string>(), t.at("options").get<std::string>(), t.at("read_only").get<bool>()});
        spec.network = runtime::parse_network_mode(j.at("network").get<std::string>());
        spec.join_netns_fd = j.at("join_netns").get<bool>() ? 0 : -1;
        const json& limits = j.at("limits");
        spec.limits.cpu_period_us = optional_from<uint64_t>(limits.at("cpu_period_us"));
        spec.limits.cpu_quota_us = optional_from<uint64_t>(limits.at("cpu_quota_us"));
        spec.limits.memory_bytes = optional_from<int64_t>(limits.at("memory_bytes"));
        spec.limits.pids = optional_from<int64_t>(limits.at("pids"));
        spec.tty = j.at("tty").get<bool>();
        spec.interactive = j.at("interactive").get<bool>();
        spec.init = j.at("init").get<bool>();
        spec.forward_signals = j.at("forward_signals").get<bool>();
        spec.rootless = j.at("rootless").get<bool>();
        spec.uid_map = id_maps_from(j.at("uid_map"));
        spec.gid_map = id_maps_from(j.at("gid_map"));
        spec.volatile_overlay = j.at("volatile_overlay").get<bool>();
        spec.cgroup_name = j.at("cgroup_name").get<std::string>();
        return spec;
    } catch (const json::exception& e) {
        throw Error(what + ": not a container spec: " + e.what());
    }
}

}  // namespace imgbuild::builder
