#include "builder/image_config.h"

#include <filesystem>

#include "common/error.h"

namespace imgbuild::builder {

using nlohmann::json;

json scratch_config() {
    return {{"architecture", "amd64"},
            {"os", "linux"},
            {"config", {{"Env", {std::string("PATH=") + default_path}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
            {"history", json::array()}};
}

json stage_config_from_base(const json& base) {
    json c = base;
    for (const char* gone : {"container", "container_config", "docker_version", "id", "parent"}) c.erase(gone);
    if (!c.contains("config") || !c["config"].is_object()) c["config"] = json::object();
    json& cfg = c["config"];
    bool has_path = false;
    if (cfg.contains("Env") && cfg["Env"].is_array())
        for (const auto& e : cfg["Env"])
            if (e.is_string() && e.get<std::string>().rfind("PATH=", 0) == 0) has_path = true;
    if (!has_path) cfg["Env"].push_back(std::string("PATH=") + default_path);
    if (!c.contains("history")) c["history"] = json::array();
    return c;
}

namespace {

void set_env(json& cfg, const std::string& key, const std::string& value) {
    json& env = cfg["Env"];
    if (!env.is_array()) env = json::array();
    std::string entry = key + "=" + value;
    for (auto& e : env)
        if (e.is_string() && e.get<std::string>().rfind(key + "=", 0) == 0) {
            e = entry;
            return;
        }
    env.push_back(entry);
}

// "80" -> ["80/tcp"], "7000-7002/udp" -> three ports; invalid ports were rejected by the parser.
std::vector<std::string> expand_port(const std::string& spec) {
    std::string ports = spec, proto = "tcp";
    if (auto slash = spec.find('/'); slash != std::string::npos) {
        ports = spec.substr(0, slash);
        proto = spec.substr(slash + 1);
    }
    for (auto& ch : proto) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::vector<std::string> out;
    auto dash = ports.find('-');
    if (dash == std::string::npos) return {ports + "/" + proto};
    int lo = std::stoi(ports.substr(0, dash)), hi = std::stoi(ports.substr(dash + 1));
    for (int p = lo; p <= hi; ++p) out.push_back(std::to_string(p) + "/" + proto);
    return out;
}

json healthcheck_json(const parser::Healthcheck& h) {
    json j = {{"Test", h.test}};
    if (h.interval_ns) j["Interval"] = h.interval_ns;
    if (h.timeout_ns) j["Timeout"] = h.timeout_ns;
    if (h.start_period_ns) j["StartPeriod"] = h.start_period_ns;
    if (h.start_interval_ns) j["StartInterval"] = h.start_interval_ns;
    if (h.retries) j["Retries"] = h.retries;
    return j;
}

// "ENTRYPOINT []" records null, "CMD []" an empty list: Docker's instruction parser (shared
// by the classic builder and BuildKit) turns only ENTRYPOINT's empty list into nil.
json entrypoint_json(const std::vector<std::string>& argv) {
    if (argv.empty()) return nullptr;
    return argv;
}

}  // namespace

std::vector<std::string> command_argv(const parser::Command& cmd, const json& image_config) {
    if (cmd.is_json) return cmd.argv;
    std::vector<std::string> argv = {"/bin/sh", "-c"};
    const json& cfg = image_config.value("config", json::object());
    if (cfg.contains("Shell") && cfg["Shell"].is_array() && !cfg["Shell"].empty()) argv = cfg["Shell"].get<std::vector<std::string>>();
    argv.push_back(cmd.shell);
    return argv;
}

std::string workdir_value(const std::string& current, const std::string& path) {
    // An absolute WORKDIR is recorded as written ("/a/../b/" stays): Docker's classic builder
    // and BuildKit clean only what they join (path.Join of the current dir and a relative path).
    if (!path.empty() && path.front() == '/') return path;
    return join_workdir(current, path);
}

std::string join_workdir(const std::string& current, const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_relative()) p = std::filesystem::path(current.empty() ? "/" : current) / p;
    std::string out = p.lexically_normal().string();
    if (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

void apply_config_instruction(json& image, const parser::Instruction& instr, bool& cmd_set) {
    json& cfg = image["config"];
    if (auto* env = instr.as<parser::EnvInstr>()) {
        for (const auto& kv : env->pairs) set_env(cfg, kv.key, kv.value);
    } else if (auto* label = instr.as<parser::Label>()) {
        for (const auto& kv : label->pairs) cfg["Labels"][kv.key] = kv.value;
    } else if (auto* expose = instr.as<parser::Expose>()) {
        for (const auto& spec : expose->ports)
            for (const auto& p : expand_port(spec)) cfg["ExposedPorts"][p] = json::object();
    } else if (auto* user = instr.as<parser::User>()) {
        cfg["User"] = user->user;
    } else if (auto* volume = instr.as<parser::Volume>()) {
        for (const auto& p : volume->paths) cfg["Volumes"][p] = json::object();
    } else if (auto* c = instr.as<parser::Cmd>()) {
        cfg["Cmd"] = command_argv(c->command, image);
        cmd_set = true;
    } else if (auto* e = instr.as<parser::Entrypoint>()) {
        cfg["Entrypoint"] = entrypoint_json(command_argv(e->command, image));
        if (!cmd_set) cfg["Cmd"] = nullptr;  // Docker: ENTRYPOINT resets a CMD inherited from the base
    } else if (auto* s = instr.as<parser::Shell>()) {
        cfg["Shell"] = s->argv;
    } else if (auto* s = instr.as<parser::StopSignal>()) {
        cfg["StopSignal"] = s->signal;
    } else if (auto* h = instr.as<parser::Healthcheck>()) {
        cfg["Healthcheck"] = healthcheck_json(*h);
    } else if (auto* o = instr.as<parser::Onbuild>()) {
        cfg["OnBuild"].push_back(o->trigger);
    } else if (auto* m = instr.as<parser::Maintainer>()) {
        image["author"] = m->name;
    } else if (auto* w = instr.as<parser::Workdir>()) {
        cfg["WorkingDir"] = workdir_value(cfg.value("WorkingDir", "/"), w->path);
    } else {
        throw Error("internal: " + instr.keyword + " is not a config instruction");
    }
}

void add_history(json& image, const std::string& created, const std::string& created_by, bool empty_layer) {
    json h = {{"created", created}, {"created_by", created_by}, {"comment", "buildkit.dockerfile.v0"}};
    if (empty_layer) h["empty_layer"] = true;
    image["history"].push_back(h);
}

}  // namespace imgbuild::builder
