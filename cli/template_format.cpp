#include "cli/template_format.h"

#include "common/error.h"

namespace imgbuild::cli {

using nlohmann::json;

namespace {

std::string go_print(const json& v) {
    if (v.is_null()) return "<no value>";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
        std::string out = "[";
        for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + go_print(v[i]);
        return out + "]";
    }
    if (v.is_object()) {
        std::string out = "map[";
        bool first = true;
        for (auto& [k, x] : v.items()) {
            out += (first ? "" : " ") + k + ":" + go_print(x);
            first = false;
        }
        return out + "]";
    }
    return v.dump();
}

const json* lookup(const json& data, const std::string& path) {
    if (path == ".") return &data;
    if (path.empty() || path[0] != '.') return nullptr;
    const json* cur = &data;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t next = path.find('.', pos);
        std::string key = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        if (!cur->is_object() || !cur->contains(key)) return nullptr;
        cur = &(*cur)[key];
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return cur;
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t");
    auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::string render_template(const std::string& tmpl, const json& data) {
    std::string out;
    size_t pos = 0;
    while (pos < tmpl.size()) {
        size_t open = tmpl.find("{{", pos);
        if (open == std::string::npos) {
            out += tmpl.substr(pos);
            break;
        }
        out += tmpl.substr(pos, open - pos);
        size_t close = tmpl.find("}}", open);
        if (close == std::string::npos) throw UsageError("--format: unclosed {{ in \"" + tmpl + "\"");
        std::string action = trim(tmpl.substr(open + 2, close - open - 2));
        bool as_json = action.rfind("json ", 0) == 0;
        if (as_json) action = trim(action.substr(5));
        const json* v = lookup(data, action);
        if (!v && action.empty()) throw UsageError("--format: empty action in \"" + tmpl + "\"");
        if (!v && action[0] != '.') throw UsageError("--format: unsupported action \"" + action + "\"");
        out += as_json ? (v ? v->dump() : "null") : (v ? go_print(*v) : "<no value>");
        pos = close + 2;
    }
    return out;
}

}  // namespace imgbuild::cli
