#include <algorithm>
#include <cctype>
#include <map>

#include "parser/expand.h"
#include "parser/instructions_internal.h"

namespace imgbuild::parser {

namespace {

std::string upper(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return r;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// ---- flags ----------------------------------------------------------------------------------

enum class FlagType { string, boolean, list };

struct FlagSpec {
    const char* name;
    FlagType type;
};

// Which flags each instruction accepts; anything else is rejected with the list below.
const std::map<std::string, std::vector<FlagSpec>>& flag_table() {
    static const std::map<std::string, std::vector<FlagSpec>> table = {
        {"from", {{"platform", FlagType::string}}},
        {"run", {{"mount", FlagType::list}, {"network", FlagType::string}, {"security", FlagType::string}}},
        {"copy",
         {{"from", FlagType::string},
          {"chown", FlagType::string},
          {"chmod", FlagType::string},
          {"link", FlagType::boolean},
          {"parents", FlagType::boolean},
          {"exclude", FlagType::list}}},
        {"add",
         {{"chown", FlagType::string},
          {"chmod", FlagType::string},
          {"link", FlagType::boolean},
          {"checksum", FlagType::string},
          {"keep-git-dir", FlagType::boolean},
          {"exclude", FlagType::list}}},
        {"healthcheck",
         {{"interval", FlagType::string},
          {"timeout", FlagType::string},
          {"start-period", FlagType::string},
          {"start-interval", FlagType::string},
          {"retries", FlagType::string}}},
    };
    return table;
}

struct FlagValue {
    std::vector<std::string> values;
    size_t offset = 0;
};

class Context {
public:
    Context(const Node& n, const SourceText& src, char esc) : n_(n), src_(src), ex_(esc) {}

    [[noreturn]] void fail(const std::string& msg, size_t offset = 0) const { src_.fail(n_.pos_of(offset), msg); }
    [[noreturn]] void fail_at(SourcePos pos, const std::string& msg) const { src_.fail(pos, msg); }
    std::string kw() const { return upper(n_.name); }

    // Validates the node's flags against the table and collects their values.
    void parse_flags() {
        static const std::vector<FlagSpec> none;
        auto it = flag_table().find(n_.name);
        const auto& specs = it == flag_table().end() ? none : it->second;
        for (const auto& f : n_.flags) {
            std::string_view text = f.value;
            if (text.substr(0, 2) != "--") fail("flag " + f.value + " must start with --", f.offset);
            text.remove_prefix(2);
            auto eq = text.find('=');
            std::string name(text.substr(0, eq));
            std::optional<std::string> value;
            if (eq != std::string_view::npos) value = std::string(text.substr(eq + 1));
            auto spec = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return name == s.name; });
            if (spec == specs.end()) {
                std::string msg = "unknown flag --" + name + " for " + kw();
                if (specs.empty()) {
                    msg += " (" + kw() + " takes no flags)";
                } else {
                    std::vector<std::string> names;
                    for (const auto& s : specs) names.emplace_back(s.name);
                    if (auto near = nearest_word(name, names)) {
                        msg += " (did you mean --" + *near + "?)";
                    } else {
                        msg += " (valid flags:";
                        for (const auto& s : names) msg += " --" + s;
                        msg += ")";
                    }
                }
                fail(msg, f.offset);
            }
            FlagValue& slot = flags_[name];
            if (spec->type != FlagType::list && !slot.values.empty()) fail("duplicate flag --" + name, f.offset);
            slot.offset = f.offset;
            if (spec->type == FlagType::boolean) {
                std::string v = lower(value.value_or("true"));
                if (v != "true" && v != "false") fail("flag --" + name + " expects true or false, not \"" + *value + "\"", f.offset);
                slot.values.push_back(v);
            } else {
                if (!value || value->empty()) fail("flag --" + name + " needs a value (--" + name + "=...)", f.offset);
                slot.values.push_back(*value);
            }
        }
    }
    std::string flag(const std::string& name) const {
        auto it = flags_.find(name);
        return it == flags_.end() ? std::string() : it->second.values.back();
    }
    bool flag_bool(const std::string& name) const { return flag(name) == "true"; }
    std::vector<std::string> flag_list(const std::string& name) const {
        auto it = flags_.find(name);
        return it == flags_.end() ? std::vector<std::string>{} : it->second.values;
    }
    size_t flag_offset(const std::string& name) const {
        auto it = flags_.find(name);
        return it == flags_.end() ? 0 : it->second.offset;
    }

    // Rejects words that can never expand (unterminated quotes, bad ${...}) at parse time.
    void check_word(const std::string& word, size_t offset) const {
        try {
            ex_.check_syntax(word);
        } catch (const ExpandError& e) {
            fail(e.what(), offset + e.offset());
        }
    }
    void check_flag(const std::string& name) const {
        for (const auto& v : flag_list(name)) check_word(v, flag_offset(name));
    }

    const Node& node() const { return n_; }
    const std::vector<Word>& args() const { return n_.args; }
    const SourceText& src() const { return src_; }
    char escape() const { return ex_.escape_token(); }

private:
    const Node& n_;
    const SourceText& src_;
    Expander ex_;
    std::map<std::string, FlagValue> flags_;
};

Command make_command(const Context& c) {
    Command cmd;
    cmd.is_json = c.node().json;
    if (cmd.is_json) {
        for (const auto& a : c.args()) cmd.argv.push_back(a.value);
    } else if (!c.args().empty()) {
        cmd.shell = c.args()[0].value;
    }
    return cmd;
}

std::string chomp_body(const std::string& body) {
    std::string out;
    bool line_start = true;
    for (char ch : body) {
        if (line_start && ch == '\t') continue;
        line_start = ch == '\n';
        out += ch;
    }
    return out;
}

Heredoc make_heredoc(const HeredocSpec& h) {
    return Heredoc{h.name, h.chomp ? chomp_body(h.body) : h.body, h.expand, h.chomp, h.fd};
}

bool is_octal_mode(std::string_view s) {
    return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '7'; });
}

// u+x,g-w,o=r and friends, as BuildKit accepts for --chmod.
bool is_symbolic_mode(std::string_view s) {
    if (s.empty()) return false;
    size_t i = 0;
    while (i <= s.size()) {
        while (i < s.size() && std::string_view("ugoa").find(s[i]) != std::string_view::npos) ++i;
        if (i >= s.size() || std::string_view("+-=").find(s[i]) == std::string_view::npos) return false;
        ++i;
        while (i < s.size() && std::string_view("rwxXst").find(s[i]) != std::string_view::npos) ++i;
        if (i == s.size()) return true;
        if (s[i] != ',') return false;
        ++i;
    }
    return false;
}

bool has_dollar(std::string_view s) { return s.find('$') != std::string_view::npos; }

From make_from(Context& c) {
    const auto& a = c.args();
    if (!(a.size() == 1 || (a.size() == 3 && lower(a[1].value) == "as"))) {
        c.fail("FROM requires either one argument or three: FROM [--platform=...] IMAGE [AS NAME]",
               a.empty() ? 0 : a.back().offset);
    }
    From f;
    f.image = a[0].value;
    c.check_word(f.image, a[0].offset);
    f.platform = c.flag("platform");
    c.check_flag("platform");
    if (a.size() == 3) {
        f.stage_name = lower(a[2].value);
        const std::string& s = f.stage_name;
        bool ok = !s.empty() && s[0] >= 'a' && s[0] <= 'z' &&
                  std::all_of(s.begin(), s.end(), [](char ch) {
                      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
                  });
        if (!ok) {
            c.fail("invalid stage name \"" + a[2].value +
                       "\": it must start with a letter and contain only letters, digits, '-', '_' and '.'",
                   a[2].offset);
        }
    }
    return f;
}

Run make_run(Context& c) {
    if (c.args().empty()) c.fail("RUN requires at least one argument (the command to run)");
    Run r;
    r.command = make_command(c);
    for (const auto& spec : c.flag_list("mount")) {
        try {
            r.mounts.push_back(parse_mount(spec));
        } catch (const ParseError&) {
            throw;
        } catch (const Error& e) {
            c.fail(std::string("--mount: ") + e.what(), c.flag_offset("mount"));
        }
    }
    c.check_flag("mount");
    r.network = c.flag("network");
    if (!r.network.empty() && r.network != "default" && r.network != "none" && r.network != "host") {
        c.fail("--network must be default, none or host, not \"" + r.network + "\"", c.flag_offset("network"));
    }
    r.security = c.flag("security");
    if (!r.security.empty() && r.security != "sandbox" && r.security != "insecure") {
        c.fail("--security must be sandbox or insecure, not \"" + r.security + "\"", c.flag_offset("security"));
    }
    for (const auto& h : c.node().heredocs) r.heredocs.push_back(make_heredoc(h));
    if (!r.command.is_json && r.heredocs.size() == 1) {
        std::string_view s = r.command.shell;
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        r.heredoc_script = s == c.node().heredocs[0].word;
    }
    return r;
}

std::vector<KeyValue> make_pairs(Context& c, const char* what) {
    const auto& a = c.args();
    if (a.empty()) c.fail(std::string(what) + " requires at least one argument: " + what + " NAME=value");
    std::vector<KeyValue> out;
    for (size_t i = 0; i + 2 < a.size(); i += 3) {  // (key, value, separator) triples
        if (a[i].value.empty()) c.fail(std::string(what) + " names can not be blank", a[i].offset);
        c.check_word(a[i].value, a[i].offset);
        c.check_word(a[i + 1].value, a[i + 1].offset);
        out.push_back({a[i].value, a[i + 1].value});
    }
    return out;
}

ArgInstr make_arg(Context& c) {
    if (c.args().empty()) c.fail("ARG requires at least one argument: ARG NAME[=default]");
    ArgInstr out;
    for (const auto& w : c.args()) {
        ArgDecl d;
        auto eq = w.value.find('=');
        d.key = w.value.substr(0, eq);
        if (d.key.empty()) c.fail("ARG names can not be blank", w.offset);
        if (eq != std::string::npos) {
            d.value = w.value.substr(eq + 1);
            c.check_word(*d.value, w.offset + eq + 1);
        }
        out.args.push_back(std::move(d));
    }
    return out;
}

Copy make_copy(Context& c, bool is_add) {
    Copy cp;
    cp.is_add = is_add;
    cp.is_json = c.node().json;
    const auto& a = c.args();
    std::string kw = is_add ? "ADD" : "COPY";
    if (a.size() < 2) {
        c.fail(kw + " requires at least two arguments: " + kw + " <src>... <dest>", a.empty() ? 0 : a[0].offset);
    }
    const auto& docs = c.node().heredocs;
    for (size_t i = 0; i + 1 < a.size(); ++i) {
        auto h = std::find_if(docs.begin(), docs.end(), [&](const HeredocSpec& d) { return d.word == a[i].value; });
        if (!cp.is_json && h != docs.end()) {
            cp.heredocs.push_back(make_heredoc(*h));
            continue;
        }
        c.check_word(a[i].value, a[i].offset);
        cp.sources.push_back(a[i].value);
    }
    cp.dest = a.back().value;
    c.check_word(cp.dest, a.back().offset);
    cp.chown = c.flag("chown");
    cp.chmod = c.flag("chmod");
    cp.from = c.flag("from");
    cp.link = c.flag_bool("link");
    cp.checksum = c.flag("checksum");
    cp.keep_git_dir = c.flag_bool("keep-git-dir");
    cp.parents = c.flag_bool("parents");
    cp.excludes = c.flag_list("exclude");
    for (const char* f : {"chown", "chmod", "from", "checksum", "exclude"}) c.check_flag(f);
    if (!cp.chmod.empty() && !has_dollar(cp.chmod) && !is_octal_mode(cp.chmod) && !is_symbolic_mode(cp.chmod)) {
        c.fail("invalid --chmod=" + cp.chmod + ": use an octal mode such as 755, or a symbolic one such as u+x",
               c.flag_offset("chmod"));
    }
    return cp;
}

Healthcheck make_healthcheck(Context& c) {
    const auto& a = c.args();
    if (a.empty()) c.fail("HEALTHCHECK requires an argument: HEALTHCHECK NONE, or HEALTHCHECK [options] CMD command");
    Healthcheck h;
    std::string type = upper(a[0].value);
    if (type == "NONE") {
        if (a.size() > 1) c.fail("HEALTHCHECK NONE takes no arguments", a[1].offset);
        if (!c.node().flags.empty()) c.fail("HEALTHCHECK NONE takes no flags", c.node().flags[0].offset);
        h.test = {"NONE"};
        return h;
    }
    if (type != "CMD") c.fail("unknown type \"" + a[0].value + "\" in HEALTHCHECK (try CMD or NONE)", a[0].offset);
    if (a.size() < 2) c.fail("missing command after HEALTHCHECK CMD", a[0].offset);
    if (c.node().json) {
        h.test = {"CMD"};
        for (size_t i = 1; i < a.size(); ++i) h.test.push_back(a[i].value);
    } else {
        h.test = {"CMD-SHELL", a[1].value};
    }
    auto duration = [&](const char* name) -> int64_t {
        std::string v = c.flag(name);
        if (v.empty()) return 0;
        int64_t ns = 0;
        try {
            ns = parse_duration_ns(v);
        } catch (const Error& e) {
            c.fail(std::string("--") + name + ": " + e.what(), c.flag_offset(name));
        }
        if (ns < 0) c.fail(std::string("--") + name + " cannot be negative", c.flag_offset(name));
        if (ns != 0 && ns < 1000000) c.fail(std::string("--") + name + " cannot be less than 1ms", c.flag_offset(name));
        return ns;
    };
    h.interval_ns = duration("interval");
    h.timeout_ns = duration("timeout");
    h.start_period_ns = duration("start-period");
    h.start_interval_ns = duration("start-interval");
    if (std::string r = c.flag("retries"); !r.empty()) {
        bool digits = std::all_of(r.begin(), r.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (r[0] == '-' && r.size() > 1) c.fail("--retries cannot be negative (" + r + ")", c.flag_offset("retries"));
        if (!digits || r.size() > 9) c.fail("--retries must be a whole number, not \"" + r + "\"", c.flag_offset("retries"));
        h.retries = std::stoi(r);
    }
    return h;
}

bool valid_signal(std::string_view s) {
    static const std::vector<std::string> names = {
        "ABRT", "ALRM", "BUS",  "CHLD",   "CLD",  "CONT", "FPE",  "HUP",  "ILL",  "INT",    "IO",   "IOT",
        "KILL", "PIPE", "POLL", "PROF",   "PWR",  "QUIT", "SEGV", "STKFLT", "STOP", "SYS",  "TERM", "TRAP",
        "TSTP", "TTIN", "TTOU", "UNUSED", "URG",  "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ"};
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        return s.size() <= 2 && std::stoi(std::string(s)) >= 1 && std::stoi(std::string(s)) <= 64;
    }
    std::string u = upper(s);
    if (u.rfind("SIG", 0) == 0) u = u.substr(3);
    if (u.rfind("RTMIN", 0) == 0 || u.rfind("RTMAX", 0) == 0) return true;
    return std::find(names.begin(), names.end(), u) != names.end();
}

std::string exactly_one(Context& c, const char* usage) {
    if (c.args().size() != 1) c.fail(c.kw() + " requires exactly one argument: " + usage);
    c.check_word(c.args()[0].value, c.args()[0].offset);
    return c.args()[0].value;
}

InstructionBody make_body(Context& c, int depth);

Onbuild make_onbuild(Context& c, int depth) {
    const Node& n = c.node();
    if (n.children.empty()) c.fail("ONBUILD requires at least one argument: ONBUILD INSTRUCTION ...");
    const Node& trigger = n.children[0];
    if (trigger.name == "onbuild") c.fail("ONBUILD ONBUILD isn't allowed", trigger.rest_offset);
    if (trigger.name == "from" || trigger.name == "maintainer") {
        c.fail(upper(trigger.name) + " isn't allowed as an ONBUILD trigger", n.rest_offset);
    }
    // Validate the trigger now, though it only runs in a child build.
    Context sub(trigger, c.src(), c.escape());
    sub.parse_flags();
    (void)make_body(sub, depth + 1);
    return Onbuild{n.rest};
}

InstructionBody make_body(Context& c, int depth) {
    const std::string& name = c.node().name;
    const auto& a = c.args();
    if (name == "from") return make_from(c);
    if (name == "run") return make_run(c);
    if (name == "cmd") return Cmd{make_command(c)};
    if (name == "entrypoint") return Entrypoint{make_command(c)};
    if (name == "env") return EnvInstr{make_pairs(c, "ENV")};
    if (name == "label") return Label{make_pairs(c, "LABEL")};
    if (name == "arg") return make_arg(c);
    if (name == "expose") {
        if (a.empty()) c.fail("EXPOSE requires at least one argument: EXPOSE PORT[/PROTOCOL]...");
        Expose e;
        for (const auto& w : a) {
            c.check_word(w.value, w.offset);
            if (!has_dollar(w.value) && !is_valid_port_spec(w.value)) {
                c.fail("invalid port \"" + w.value + "\" for EXPOSE: use PORT, PORT/PROTOCOL or FIRST-LAST[/PROTOCOL]"
                       " with tcp, udp or sctp", w.offset);
            }
            e.ports.push_back(w.value);
        }
        return e;
    }
    if (name == "workdir") return Workdir{exactly_one(c, "WORKDIR PATH")};
    if (name == "copy") return make_copy(c, false);
    if (name == "add") return make_copy(c, true);
    if (name == "user") return User{exactly_one(c, "USER NAME[:GROUP]")};
    if (name == "volume") {
        if (a.empty()) c.fail("VOLUME requires at least one argument: VOLUME PATH...");
        Volume v;
        v.is_json = c.node().json;
        for (const auto& w : a) {
            if (w.value.find_first_not_of(" \t") == std::string::npos) {
                c.fail("VOLUME specified can not be an empty string", w.offset);
            }
            c.check_word(w.value, w.offset);
            v.paths.push_back(w.value);
        }
        return v;
    }
    if (name == "shell") {
        if (!c.node().json) c.fail("SHELL requires the arguments to be in JSON form: SHELL [\"executable\", \"parameters\"]", c.node().rest_offset);
        if (a.empty()) c.fail("SHELL requires at least one argument", c.node().rest_offset);
        Shell s;
        for (const auto& w : a) s.argv.push_back(w.value);
        return s;
    }
    if (name == "stopsignal") {
        std::string sig = exactly_one(c, "STOPSIGNAL SIGNAL");
        if (!has_dollar(sig) && !valid_signal(sig)) c.fail("invalid signal \"" + sig + "\" for STOPSIGNAL", a[0].offset);
        return StopSignal{sig};
    }
    if (name == "healthcheck") return make_healthcheck(c);
    if (name == "onbuild") return make_onbuild(c, depth);
    if (name == "maintainer") {
        if (a.empty()) c.fail("MAINTAINER requires exactly one argument: MAINTAINER NAME");
        return Maintainer{a[0].value};
    }
    std::string msg = "unknown instruction \"" + c.node().keyword + "\"";
    if (auto near = nearest_word(c.node().keyword, instruction_names())) msg += " (did you mean " + *near + "?)";
    c.fail(msg);
}

}  // namespace

const std::vector<std::string>& instruction_names() {
    static const std::vector<std::string> names = {"ADD",   "ARG",        "CMD",     "COPY",       "ENTRYPOINT", "ENV",
                                                   "EXPOSE", "FROM",      "HEALTHCHECK", "LABEL",  "MAINTAINER", "ONBUILD",
                                                   "RUN",   "SHELL",      "STOPSIGNAL", "USER",    "VOLUME",     "WORKDIR"};
    return names;
}

Instruction to_instruction(const Node& node, const SourceText& src, char escape) {
    Context c(node, src, escape);
    bool known = std::find(instruction_names().begin(), instruction_names().end(), upper(node.name)) !=
                 instruction_names().end();
    if (known) c.parse_flags();  // an unknown instruction's own error comes first
    Instruction ins;
    ins.keyword = upper(node.name);
    ins.location = SourceRange{node.start_line, node.end_line, node.pos().column};
    ins.original = node.line.text;
    for (const auto& f : node.flags) ins.flags.push_back(f.value);
    ins.body = make_body(c, 0);
    return ins;
}

std::string Run::shell_with_heredocs() const {
    std::string out = command.shell;
    for (const auto& h : heredocs) {
        out += "\n" + h.body;
        if (!h.body.empty() && h.body.back() != '\n') out += "\n";
        out += h.name;
    }
    if (!heredocs.empty()) out += "\n";
    return out;
}

bool is_valid_port_spec(std::string_view spec) {
    auto slash = spec.find('/');
    std::string_view ports = spec.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string proto = lower(spec.substr(slash + 1));
        if (proto != "tcp" && proto != "udp" && proto != "sctp") return false;
    }
    auto port = [](std::string_view p) -> long {
        if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
            return -1;
        }
        long v = std::stol(std::string(p));
        return v <= 65535 ? v : -1;
    };
    auto dash = ports.find('-');
    if (dash == std::string_view::npos) return port(ports) >= 0;
    long first = port(ports.substr(0, dash));
    long last = port(ports.substr(dash + 1));
    return first >= 0 && last >= 0 && first <= last;
}

int64_t parse_duration_ns(std::string_view text) {
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return 0;
    if (s.empty()) throw Error("invalid duration \"" + std::string(text) + "\"");
    static const std::vector<std::pair<std::string_view, double>> units = {
        {"ns", 1.0}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    double total = 0;
    while (!s.empty()) {
        size_t i = 0;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
        std::string num(s.substr(0, i));
        if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1) {
            throw Error("invalid duration \"" + std::string(text) + "\" (use e.g. 30s, 1m30s, 500ms)");
        }
        s.remove_prefix(i);
        size_t j = 0;
        while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
        std::string_view unit = s.substr(0, j);
        auto u = std::find_if(units.begin(), units.end(), [&](const auto& p) { return p.first == unit; });
        if (u == units.end()) {
            throw Error("invalid duration \"" + std::string(text) + "\": " +
                        (unit.empty() ? std::string("missing unit") : "unknown unit \"" + std::string(unit) + "\""));
        }
        total += std::stod(num) * u->second;
        s.remove_prefix(j);
    }
    if (total > 9.2e18) throw Error("invalid duration \"" + std::string(text) + "\": too large");
    auto ns = static_cast<int64_t>(total + 0.5);
    return neg ? -ns : ns;
}

Mount parse_mount(std::string_view spec) {
    Mount m;
    m.spec = spec;
    bool readonly_set = false;
    // Comma-separated key=value fields (CSV, so a field may be double-quoted).
    std::vector<std::string> fields;
    std::string cur;
    bool quoted = false;
    for (char ch : spec) {
        if (ch == '"') {
            quoted = !quoted;
        } else if (ch == ',' && !quoted) {
            fields.push_back(cur);
            cur.clear();
        } else {
            cur += ch;
        }
    }
    if (quoted) throw Error("unterminated quote in \"" + std::string(spec) + "\"");
    fields.push_back(cur);
    for (const auto& field : fields) {
        auto eq = field.find('=');
        std::string key = lower(field.substr(0, eq));
        std::string value = eq == std::string::npos ? std::string() : field.substr(eq + 1);
        bool has_value = eq != std::string::npos;
        auto boolean = [&](const std::string& k) {
            if (!has_value) return true;
            std::string v = lower(value);
            if (v == "true" || v == "1") return true;
            if (v == "false" || v == "0") return false;
            throw Error("invalid value \"" + value + "\" for " + k + " (true or false)");
        };
        if (key.empty() && field.empty()) continue;
        if (key == "type") {
            if (value != "bind" && value != "cache" && value != "tmpfs" && value != "secret" && value != "ssh") {
                throw Error("unknown mount type \"" + value + "\" (bind, cache, tmpfs, secret or ssh)");
            }
            m.type = value;
        } else if (key == "target" || key == "dst" || key == "destination") {
            m.target = value;
        } else if (key == "source" || key == "src") {
            m.source = value;
        } else if (key == "from") {
            m.from = value;
        } else if (key == "readonly" || key == "ro") {
            m.readonly = boolean(key);
            readonly_set = true;
        } else if (key == "readwrite" || key == "rw") {
            m.readonly = !boolean(key);
            readonly_set = true;
        } else if (key == "id") {
            m.id = value;
        } else if (key == "sharing") {
            if (value != "shared" && value != "private" && value != "locked") {
                throw Error("invalid sharing \"" + value + "\" (shared, private or locked)");
            }
            m.sharing = value;
        } else if (key == "mode") {
            m.mode = value;
        } else if (key == "uid") {
            m.uid = value;
        } else if (key == "gid") {
            m.gid = value;
        } else if (key == "required") {
            m.required = boolean(key);
        } else if (key == "size") {
            m.size = value;
        } else if (key == "env") {
            m.env = value;
        } else {
            throw Error("unexpected key \"" + key + "\" in \"" + std::string(spec) + "\"");
        }
    }
    if (!readonly_set && m.type == "bind") m.readonly = true;  // bind mounts are read-only unless rw
    if (m.target.empty() && (m.type == "bind" || m.type == "cache" || m.type == "tmpfs")) {
        throw Error("mount type " + m.type + " needs a target (target=/path)");
    }
    if (m.type == "secret" && m.target.empty() && m.env.empty() && m.id.empty()) {
        throw Error("secret mount needs an id or a target");
    }
    return m;
}

}  // namespace imgbuild::parser
