// ENV/ARG scoping and per-instruction expansion, in the instructions where Docker expands.
#include <algorithm>

#include "parser/resolve_internal.h"

namespace imgbuild::parser {

Env ResolvedStep::visible() const {
    Env v = args;
    for (const auto& [k, val] : env.entries()) v.set(k, val);  // ENV overrides ARG of the same name
    return v;
}

namespace {

class StepExpander {
public:
    StepExpander(const ParseResult& r, const Env& vis) : r_(r), vis_(vis), ex_(r.expander()) {}

    std::string word(const std::string& s) const { return s.empty() ? s : ex_.expand_word(s, vis_); }
    void in_place(std::string& s) const { s = word(s); }
    void all(std::vector<std::string>& v) const {
        for (auto& s : v) in_place(s);
    }

    [[noreturn]] void fail(const Instruction& ins, const std::string& msg) const {
        r_.source->fail({ins.location.start_line, ins.location.column}, msg);
    }

    void expand(Instruction& ins) const {
        std::visit([&](auto& body) { apply(ins, body); }, ins.body);
    }

private:
    void apply(Instruction&, From&) const {}
    void apply(Instruction&, Cmd&) const {}
    void apply(Instruction&, Entrypoint&) const {}
    void apply(Instruction&, Shell&) const {}
    void apply(Instruction&, Healthcheck&) const {}
    void apply(Instruction&, Onbuild&) const {}
    void apply(Instruction&, Maintainer&) const {}

    void apply(Instruction&, Run& run) const {
        // The command is the shell's business; only the mount options are expanded.
        for (auto& m : run.mounts) {
            for (std::string* f : {&m.target, &m.source, &m.from, &m.id, &m.mode, &m.uid, &m.gid, &m.size, &m.env}) {
                in_place(*f);
            }
        }
    }
    void apply(Instruction&, EnvInstr& e) const {
        // Every pair sees the values from before this instruction: ENV a=1 b=$a uses the old a.
        for (auto& kv : e.pairs) {
            in_place(kv.key);
            in_place(kv.value);
        }
    }
    void apply(Instruction&, Label& l) const {
        for (auto& kv : l.pairs) {
            in_place(kv.key);
            in_place(kv.value);
        }
    }
    void apply(Instruction&, ArgInstr& a) const {
        for (auto& d : a.args) {
            if (d.value) in_place(*d.value);
        }
    }
    void apply(Instruction& ins, Expose& e) const {
        std::vector<std::string> ports;
        for (const auto& p : e.ports) {
            for (auto& w : ex_.expand_words(p, vis_)) ports.push_back(std::move(w));
        }
        for (const auto& p : ports) {
            if (!is_valid_port_spec(p)) fail(ins, "invalid port \"" + p + "\" for EXPOSE (after expansion)");
        }
        e.ports = std::move(ports);
    }
    void apply(Instruction& ins, Workdir& w) const {
        in_place(w.path);
        if (w.path.empty()) fail(ins, "WORKDIR is empty after expansion");
    }
    void apply(Instruction& ins, User& u) const {
        in_place(u.user);
        if (u.user.empty()) fail(ins, "USER is empty after expansion");
    }
    void apply(Instruction& ins, Volume& v) const {
        all(v.paths);
        for (const auto& p : v.paths) {
            if (p.find_first_not_of(" \t") == std::string::npos) fail(ins, "VOLUME specified can not be an empty string");
        }
    }
    void apply(Instruction&, StopSignal& s) const { in_place(s.signal); }
    void apply(Instruction& ins, Copy& c) const {
        all(c.sources);
        in_place(c.dest);
        in_place(c.chown);
        in_place(c.chmod);
        in_place(c.from);
        in_place(c.checksum);
        all(c.excludes);
        for (auto& h : c.heredocs) {
            if (h.expand) h.body = ex_.expand_raw(h.body, vis_);
        }
        std::string kw = c.is_add ? "ADD" : "COPY";
        if (c.sources.size() + c.heredocs.size() > 1 && (c.dest.empty() || c.dest.back() != '/')) {
            fail(ins, "When using " + kw + " with more than one source file, the destination must be a directory and "
                      "end with a / (" + c.dest + "/)");  // Docker's words
        }
        if (!c.checksum.empty()) {
            auto colon = c.checksum.find(':');
            std::string algo = c.checksum.substr(0, colon);
            std::string hex = colon == std::string::npos ? "" : c.checksum.substr(colon + 1);
            size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
            bool ok = want != 0 && hex.size() == want &&
                      std::all_of(hex.begin(), hex.end(), [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
            if (!ok) fail(ins, "invalid --checksum=" + c.checksum + " (expected sha256:<64 hex digits>)");
        }
    }

    const ParseResult& r_;
    const Env& vis_;
    Expander ex_;
};

}  // namespace

ResolvedStage resolve_stage_impl(const ParseResult& r, size_t stage_index, const Env& image_env, bool lenient) {
    const Stage& st = r.stages.at(stage_index);
    ResolvedStage out;
    Env env = image_env;
    Env args;
    for (const Instruction& ins : st.instructions) {
        ResolvedStep step{ins, env, args};
        Env vis = step.visible();
        StepExpander ex(r, vis);
        try {
            ex.expand(step.instruction);
        } catch (const ExpandError& e) {
            if (!lenient) ex.fail(ins, e.what());
            step.instruction = ins;
        } catch (const ParseError&) {
            if (!lenient) throw;
            step.instruction = ins;
        }
        if (auto* e = step.instruction.as<EnvInstr>()) {
            for (const auto& kv : e->pairs) env.set(kv.key, kv.value);
        } else if (auto* a = step.instruction.as<ArgInstr>()) {
            // The value of `ARG NAME[=default]` inside a stage: --build-arg, else the default,
            // else the global ARG (or automatic platform ARG) of that name, else unset.
            for (auto& d : a->args) {
                if (auto it = r.build_args.find(d.key); it != r.build_args.end()) {
                    d.value = it->second;
                } else if (!d.value) {
                    if (const std::string* g = r.global_env.find(d.key)) d.value = *g;
                }
                if (d.value) args.set(d.key, *d.value);
            }
        }
        out.steps.push_back(std::move(step));
    }
    out.env = std::move(env);
    out.args = std::move(args);
    return out;
}

ResolvedStage resolve_stage(const ParseResult& result, size_t stage_index, const Env& image_env) {
    return resolve_stage_impl(result, stage_index, image_env, false);
}

}  // namespace imgbuild::parser
