#include "parser/json_dump.h"

namespace imgbuild::parser {

using nlohmann::json;

namespace {

json heredocs_json(const std::vector<Heredoc>& hs) {
    json out = json::array();
    for (const auto& h : hs) {
        json j = {{"name", h.name}, {"body", h.body}, {"expand", h.expand}};
        if (h.chomp) j["chomp"] = true;
        if (h.fd >= 0) j["fd"] = h.fd;
        out.push_back(j);
    }
    return out;
}

json command_json(const Command& c) {
    if (c.is_json) return {{"exec_form", true}, {"argv", c.argv}};
    return {{"exec_form", false}, {"shell", c.shell}};
}

json pairs_json(const std::vector<KeyValue>& kvs) {
    json out = json::array();
    for (const auto& kv : kvs) out.push_back({{"key", kv.key}, {"value", kv.value}});
    return out;
}

// Only fields that differ from their defaults, to keep the dump readable.
void put(json& j, const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
}

json body_json(const InstructionBody& body) {
    json j;
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, From>) {
                j["image"] = b.image;
                put(j, "stage_name", b.stage_name);
                put(j, "platform", b.platform);
            } else if constexpr (std::is_same_v<T, Run>) {
                j["command"] = command_json(b.command);
                if (!b.mounts.empty()) {
                    json ms = json::array();
                    for (const auto& m : b.mounts) {
                        json mj = {{"type", m.type}};
                        put(mj, "target", m.target);
                        put(mj, "source", m.source);
                        put(mj, "from", m.from);
                        if (m.readonly) mj["readonly"] = true;
                        put(mj, "id", m.id);
                        put(mj, "sharing", m.sharing);
                        put(mj, "mode", m.mode);
                        put(mj, "uid", m.uid);
                        put(mj, "gid", m.gid);
                        if (m.required) mj["required"] = true;
                        put(mj, "size", m.size);
                        put(mj, "env", m.env);
                        ms.push_back(mj);
                    }
                    j["mounts"] = ms;
                }
                put(j, "network", b.network);
                put(j, "security", b.security);
                if (!b.heredocs.empty()) j["heredocs"] = heredocs_json(b.heredocs);
                if (b.heredoc_script) j["heredoc_script"] = true;
            } else if constexpr (std::is_same_v<T, Cmd> || std::is_same_v<T, Entrypoint>) {
                j["command"] = command_json(b.command);
            } else if constexpr (std::is_same_v<T, EnvInstr> || std::is_same_v<T, Label>) {
                j["pairs"] = pairs_json(b.pairs);
            } else if constexpr (std::is_same_v<T, ArgInstr>) {
                json as = json::array();
                for (const auto& d : b.args) {
                    json a = {{"key", d.key}};
                    if (d.value) a["value"] = *d.value;
                    as.push_back(a);
                }
                j["args"] = as;
            } else if constexpr (std::is_same_v<T, Expose>) {
                j["ports"] = b.ports;
            } else if constexpr (std::is_same_v<T, Workdir>) {
                j["path"] = b.path;
            } else if constexpr (std::is_same_v<T, Copy>) {
                j["sources"] = b.sources;
                j["dest"] = b.dest;
                put(j, "from", b.from);
                put(j, "chown", b.chown);
                put(j, "chmod", b.chmod);
                if (b.link) j["link"] = true;
                put(j, "checksum", b.checksum);
                if (b.keep_git_dir) j["keep_git_dir"] = true;
                if (b.parents) j["parents"] = true;
                if (!b.excludes.empty()) j["excludes"] = b.excludes;
                if (!b.heredocs.empty()) j["heredocs"] = heredocs_json(b.heredocs);
                if (b.is_json) j["exec_form"] = true;
            } else if constexpr (std::is_same_v<T, User>) {
                j["user"] = b.user;
            } else if constexpr (std::is_same_v<T, Volume>) {
                j["paths"] = b.paths;
            } else if constexpr (std::is_same_v<T, Shell>) {
                j["argv"] = b.argv;
            } else if constexpr (std::is_same_v<T, StopSignal>) {
                j["signal"] = b.signal;
            } else if constexpr (std::is_same_v<T, Healthcheck>) {
                j["test"] = b.test;
                if (b.interval_ns) j["interval_ns"] = b.interval_ns;
                if (b.timeout_ns) j["timeout_ns"] = b.timeout_ns;
                if (b.start_period_ns) j["start_period_ns"] = b.start_period_ns;
                if (b.start_interval_ns) j["start_interval_ns"] = b.start_interval_ns;
                if (b.retries) j["retries"] = b.retries;
            } else if constexpr (std::is_same_v<T, Onbuild>) {
                j["trigger"] = b.trigger;
            } else if constexpr (std::is_same_v<T, Maintainer>) {
                j["name"] = b.name;
            }
        },
        body);
    return j;
}

json env_json(const Env& env) {
    json j = json::object();
    for (const auto& [k, v] : env.entries()) j[k] = v;
    return j;
}

}  // namespace

json to_json(const Instruction& ins) {
    json j = {{"kind", ins.keyword},
              {"line", ins.location.start_line},
              {"end_line", ins.location.end_line},
              {"source", ins.original}};
    if (!ins.flags.empty()) j["flags"] = ins.flags;
    j.update(body_json(ins.body));
    return j;
}

json to_json(const ParseResult& r, const std::optional<std::string>& target) {
    json out;
    out["file"] = r.filename;
    json d = {{"escape", std::string(1, r.directives.escape)}};
    if (r.directives.syntax) d["syntax"] = *r.directives.syntax;
    if (r.directives.check) d["check"] = *r.directives.check;
    out["directives"] = d;
    if (!r.build_args.empty()) {
        json b = json::object();
        for (const auto& [k, v] : r.build_args) b[k] = v;
        out["build_args"] = b;
    }
    json globals = json::array();
    for (const auto& g : r.global_args) globals.push_back(to_json(g));
    out["global_args"] = globals;
    // Only the declared globals, not the automatic platform ARGs, to keep the dump stable.
    json gvals = json::object();
    for (const auto& g : r.global_args) {
        for (const auto& a : g.as<ArgInstr>()->args) {
            if (const std::string* v = r.global_env.find(a.key)) gvals[a.key] = *v;
        }
    }
    out["global_arg_values"] = gvals;
    size_t tgt = target_stage(r, target);
    std::vector<size_t> needed = stages_needed(r, target);
    out["target"] = tgt;
    out["stages_needed"] = needed;
    json stages = json::array();
    for (const auto& st : r.stages) {
        json s = {{"index", st.index}, {"base", st.base}, {"line", st.from.location.start_line}, {"source", st.from.original}};
        if (!st.name.empty()) s["name"] = st.name;
        if (st.base_stage) s["base_stage"] = *st.base_stage;
        if (!st.platform.empty()) s["platform"] = st.platform;
        if (std::find(needed.begin(), needed.end(), st.index) == needed.end()) s["skipped"] = true;
        if (!st.dependencies.empty()) {
            json deps = json::array();
            for (const auto& dep : st.dependencies) deps.push_back({{"stage", dep.stage}, {"via", dep.via}, {"line", dep.location.start_line}});
            s["dependencies"] = deps;
        }
        ResolvedStage rs = resolve_stage(r, st.index, Env{});
        json instrs = json::array();
        for (size_t i = 0; i < st.instructions.size(); ++i) {
            json ij = to_json(st.instructions[i]);
            json raw = body_json(st.instructions[i].body);
            json expanded = body_json(rs.steps[i].instruction.body);
            json diff = json::object();
            for (auto it = expanded.begin(); it != expanded.end(); ++it) {
                if (!raw.contains(it.key()) || raw[it.key()] != it.value()) diff[it.key()] = it.value();
            }
            if (!diff.empty()) ij["expanded"] = diff;
            instrs.push_back(ij);
        }
        s["instructions"] = instrs;
        json final_env = env_json(rs.env);
        if (!final_env.empty()) s["env"] = final_env;
        json final_args = env_json(rs.args);
        if (!final_args.empty()) s["args"] = final_args;
        stages.push_back(s);
    }
    out["stages"] = stages;
    return out;
}

}  // namespace imgbuild::parser
