#include "cli/template_format.h"

#include <algorithm>
#include <memory>
#include <vector>

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

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n");
    auto e = s.find_last_not_of(" \t\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Words of an action: bare words and "quoted strings" (the quotes kept to tell them apart).
std::vector<std::string> words(const std::string& action) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < action.size()) {
        if (action[i] == ' ' || action[i] == '\t') {
            ++i;
            continue;
        }
        size_t start = i;
        if (action[i] == '"') {
            ++i;
            while (i < action.size() && action[i] != '"') i += action[i] == '\\' ? 2 : 1;
            if (i >= action.size()) throw UsageError("template: unterminated string in \"" + action + "\"");
            ++i;
        } else {
            while (i < action.size() && action[i] != ' ' && action[i] != '\t') ++i;
        }
        out.push_back(action.substr(start, i - start));
    }
    return out;
}

json field(const json& dot, const std::string& path) {
    if (path == ".") return dot;
    if (path.empty() || path[0] != '.') throw UsageError("template: unsupported argument \"" + path + "\"");
    const json* cur = &dot;
    std::string where;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t next = path.find('.', pos);
        std::string key = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        if (cur->is_null()) return json();
        if (!cur->is_object() || !cur->contains(key))
            throw UsageError("template: no field \"" + key + "\" in " + (where.empty() ? "." : where));
        cur = &(*cur)[key];
        where += "." + key;
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return *cur;
}

json argument(const json& dot, const std::string& word) {
    if (!word.empty() && word[0] == '"') return json::parse(word);  // a Go string literal is a JSON one here
    if (!word.empty() && std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::stoll(word);
    return field(dot, word);
}

// One pipeline without "|": a field, or a function applied to arguments.
json evaluate(const json& dot, const std::string& action) {
    auto w = words(action);
    if (w.empty()) throw UsageError("template: empty action");
    const std::string& f = w[0];
    auto need = [&](size_t n) {
        if (w.size() != n + 1) throw UsageError("template: " + f + " takes " + std::to_string(n) + " argument(s)");
    };
    if (f == "json") {
        need(1);
        return json(argument(dot, w[1]).dump());
    }
    if (f == "len") {
        need(1);
        json v = argument(dot, w[1]);
        return v.is_null() ? 0 : v.is_string() ? v.get<std::string>().size() : v.size();
    }
    if (f == "join") {
        need(2);
        json v = argument(dot, w[1]);
        std::string sep = argument(dot, w[2]).get<std::string>(), out;
        if (v.is_array())
            for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + go_print(v[i]);
        return out;
    }
    if (f == "index") {
        if (w.size() < 3) throw UsageError("template: index takes a collection and keys");
        json v = argument(dot, w[1]);
        for (size_t i = 2; i < w.size(); ++i) {
            json key = argument(dot, w[i]);
            if (v.is_object() && key.is_string()) {
                auto it = v.find(key.get<std::string>());
                if (it == v.end()) return json();
                json next = *it;
                v = next;
            } else if (v.is_array() && key.is_number_integer()) {
                auto n = key.get<int64_t>();
                if (n < 0 || static_cast<size_t>(n) >= v.size()) throw UsageError("template: index out of range");
                json next = v[static_cast<size_t>(n)];
                v = next;
            } else if (v.is_null()) {
                return json();
            } else {
                throw UsageError("template: cannot index " + std::string(v.type_name()) + " with " + key.dump());
            }
        }
        return v;
    }
    if (w.size() != 1) throw UsageError("template: unsupported function \"" + f + "\"");
    if (f[0] == '"') return argument(dot, f);
    if (f[0] != '.') throw UsageError("template: unsupported function \"" + f + "\"");
    return field(dot, f);
}

struct Node {
    enum Kind { text, action, range } kind = text;
    std::string value;              // text, or the action / range pipeline
    std::vector<Node> body;         // range
};

// Parses until {{end}} (nested) or the end of the template.
std::vector<Node> parse(const std::string& t, size_t& pos, bool in_range) {
    std::vector<Node> nodes;
    while (pos < t.size()) {
        size_t open = t.find("{{", pos);
        if (open == std::string::npos) {
            nodes.push_back({Node::text, t.substr(pos), {}});
            pos = t.size();
            break;
        }
        if (open > pos) nodes.push_back({Node::text, t.substr(pos, open - pos), {}});
        size_t close = t.find("}}", open);
        if (close == std::string::npos) throw UsageError("template: unclosed {{ in \"" + t + "\"");
        std::string inner = t.substr(open + 2, close - open - 2);
        // {{- and -}} trim the surrounding white space, as in Go.
        bool trim_left = !inner.empty() && inner[0] == '-', trim_right = !inner.empty() && inner.back() == '-';
        if (trim_left) {
            inner.erase(0, 1);
            while (!nodes.empty() && nodes.back().kind == Node::text && !nodes.back().value.empty() &&
                   std::isspace(static_cast<unsigned char>(nodes.back().value.back())))
                nodes.back().value.pop_back();
        }
        if (trim_right) inner.pop_back();
        std::string action = trim(inner);
        pos = close + 2;
        if (trim_right)
            while (pos < t.size() && std::isspace(static_cast<unsigned char>(t[pos]))) ++pos;
        if (action == "end") {
            if (!in_range) throw UsageError("template: {{end}} without {{range}}");
            return nodes;
        }
        if (action.rfind("range ", 0) == 0) {
            Node n{Node::range, trim(action.substr(6)), {}};
            n.body = parse(t, pos, true);
            nodes.push_back(std::move(n));
            continue;
        }
        if (action.empty()) throw UsageError("template: empty action in \"" + t + "\"");
        nodes.push_back({Node::action, action, {}});
    }
    if (in_range) throw UsageError("template: {{range}} without {{end}}");
    return nodes;
}

void render(const std::vector<Node>& nodes, const json& dot, std::string& out) {
    for (const auto& n : nodes) {
        switch (n.kind) {
            case Node::text: out += n.value; break;
            case Node::action: out += go_print(evaluate(dot, n.value)); break;
            case Node::range: {
                json v = evaluate(dot, n.value);
                if (v.is_array() || v.is_object())
                    for (const auto& item : v) render(n.body, item, out);
                else if (!v.is_null())
                    throw UsageError("template: range over " + std::string(v.type_name()));
                break;
            }
        }
    }
}

}  // namespace

std::string render_template(const std::string& tmpl, const json& data) {
    size_t pos = 0;
    auto nodes = parse(tmpl, pos, false);
    std::string out;
    render(nodes, data, out);
    return out;
}

}  // namespace imgbuild::cli
