#include "builder/container_spec.h"

#include <cstdlib>
#include <map>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

}  // namespace

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

runtime::ContainerSpec make_container_spec(const std::vector<fs::path>& lower_dirs, const json& image_config,
                                           const RunOptions& o, const fs::path& dir, const fs::path& short_links_dir) {
    const json& cfg = image_config.is_object() ? image_config : json::object();
    runtime::ContainerSpec spec;
    spec.lower_dirs = lower_dirs;
    spec.upper_dir = dir / "upper";
    spec.work_dir = dir / "work";
    spec.merged_dir = dir / "merged";
    spec.init_dir = dir / "init";
    for (const auto& d : {spec.upper_dir, spec.work_dir, spec.merged_dir}) make_dirs(d);
    spec.short_links_dir = short_links_dir;
    if (o.argv) {
        spec.argv = *o.argv;
    } else {
        spec.argv = o.entrypoint ? *o.entrypoint : string_list(cfg, "Entrypoint");
        // An --entrypoint drops the image's Cmd, as docker does.
        auto cmd = !o.cmd.empty() ? o.cmd : o.entrypoint ? std::vector<std::string>{} : string_list(cfg, "Cmd");
        spec.argv.insert(spec.argv.end(), cmd.begin(), cmd.end());
    }
    if (spec.argv.empty()) throw UsageError("no command specified (the image has no Entrypoint or Cmd)");
    const std::string& hostname = o.hostname.empty() ? o.hostname_default : o.hostname;
    spec.hostname.assign(hostname.data(), hostname.size());
    spec.env = o.env ? *o.env : merge_env(string_list(cfg, "Env"), spec.hostname, o.extra_env);
    spec.cwd = !o.workdir.empty() ? o.workdir : string_field(cfg, "WorkingDir");
    if (spec.cwd.empty()) spec.cwd = "/";
    spec.user = o.user ? *o.user : string_field(cfg, "User");
    spec.network = o.network;
    spec.limits = o.limits;
    spec.binds = o.binds;
    spec.tmpfs = o.tmpfs;
    spec.tty = o.tty;
    spec.interactive = o.interactive;
    spec.init = o.init;
    return spec;
}

}  // namespace imgbuild::builder
