// Instructions -> stages: global ARGs, FROM, stage names and references, the target's needs.
#include <algorithm>
#include <functional>

#include "parser/instructions_internal.h"
#include "parser/resolve_internal.h"
#include "parser/syntax_tree.h"

namespace imgbuild::parser {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Env platform_args(const ParseOptions& opt) {
    Env env;
    auto add = [&](const std::string& prefix, const std::string& platform) {
        std::string os = platform.substr(0, platform.find('/'));
        std::string rest = platform.find('/') == std::string::npos ? "" : platform.substr(platform.find('/') + 1);
        std::string arch = rest.substr(0, rest.find('/'));
        std::string variant = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
        env.set(prefix + "PLATFORM", platform);
        env.set(prefix + "OS", os);
        env.set(prefix + "ARCH", arch);
        env.set(prefix + "VARIANT", variant);
    };
    add("BUILD", opt.build_platform);
    add("TARGET", opt.target_platform);
    return env;
}

std::string stage_label(const Stage& s) { return s.name.empty() ? "#" + std::to_string(s.index) : s.name; }

SourcePos pos_of(const Instruction& ins) { return {ins.location.start_line, ins.location.column}; }

// Links COPY --from and RUN --mount from= to the stages they name. Names may point forward
// (BuildKit allows it); cycles are found afterwards.
void link_references(ParseResult& r) {
    for (size_t i = 0; i < r.stages.size(); ++i) {
        ResolvedStage rs = resolve_stage_impl(r, i, Env{}, true);
        for (const auto& step : rs.steps) {
            const Instruction& ins = step.instruction;
            std::vector<std::pair<std::string, std::string>> refs;  // (value, via)
            if (const auto* c = ins.as<Copy>(); c && !c->from.empty()) {
                refs.emplace_back(c->from, c->is_add ? "ADD --from" : "COPY --from");
            }
            if (const auto* run = ins.as<Run>()) {
                for (const auto& m : run->mounts) {
                    if (!m.from.empty()) refs.emplace_back(m.from, "RUN --mount from");
                }
            }
            for (const auto& [value, via] : refs) {
                std::optional<size_t> target;
                for (const auto& s : r.stages) {
                    if (!s.name.empty() && s.name == lower(value)) target = s.index;
                }
                if (!target && all_digits(value)) {
                    size_t idx = std::stoul(value);
                    if (idx >= r.stages.size()) {
                        r.source->fail(pos_of(ins), via + "=" + value + " refers to stage " + value + ", but the Dockerfile has " +
                                                        std::to_string(r.stages.size()) + " stage(s), numbered from 0");
                    }
                    target = idx;
                }
                // Anything else is an image reference, fetched by the builder.
                if (target) r.stages[i].dependencies.push_back({*target, via, ins.location});
            }
        }
    }
}

void check_cycles(const ParseResult& r) {
    enum class Mark { none, active, done };
    std::vector<Mark> mark(r.stages.size(), Mark::none);
    std::vector<size_t> path;
    std::function<void(size_t)> visit = [&](size_t s) {
        mark[s] = Mark::active;
        path.push_back(s);
        for (const auto& dep : r.stages[s].dependencies) {
            if (mark[dep.stage] == Mark::active) {
                std::string chain;
                auto start = std::find(path.begin(), path.end(), dep.stage);
                for (auto it = start; it != path.end(); ++it) chain += stage_label(r.stages[*it]) + " -> ";
                chain += stage_label(r.stages[dep.stage]);
                r.source->fail({dep.location.start_line, dep.location.column},
                               "cyclic stage reference: " + chain + " (" + dep.via + " makes stage " +
                                   stage_label(r.stages[s]) + " depend on " + stage_label(r.stages[dep.stage]) + ")");
            }
            if (mark[dep.stage] == Mark::none) visit(dep.stage);
        }
        path.pop_back();
        mark[s] = Mark::done;
    };
    for (size_t i = 0; i < r.stages.size(); ++i) {
        if (mark[i] == Mark::none) visit(i);
    }
}

}  // namespace

std::optional<size_t> ParseResult::find_stage(std::string_view name_or_index) const {
    std::string want = lower(name_or_index);
    for (const auto& s : stages) {
        if (!s.name.empty() && s.name == want) return s.index;
    }
    if (all_digits(want) && std::stoul(want) < stages.size()) return std::stoul(want);
    return std::nullopt;
}

ParseResult parse_dockerfile(std::string_view text, std::string_view filename, const BuildArgs& build_args) {
    ParseOptions opt;
    opt.build_args = build_args;
    return parse_dockerfile(text, filename, opt);
}

ParseResult parse_dockerfile(std::string_view text, std::string_view filename, const ParseOptions& options) {
    auto src = std::make_shared<SourceText>(text, std::string(filename));
    SyntaxTree tree = parse_syntax_tree(*src, src->text());
    ParseResult r;
    r.filename = filename;
    r.directives = tree.directives;
    r.build_args = options.build_args;
    r.automatic_args = platform_args(options);
    r.global_env = r.automatic_args;
    r.source = src;
    Expander ex(tree.directives.escape);

    auto expand_global = [&](const Instruction& ins, const std::string& word) {
        try {
            return ex.expand_word(word, r.global_env);
        } catch (const ExpandError& e) {
            src->fail(pos_of(ins), e.what());
        }
    };

    for (const Node& n : tree.nodes) {
        Instruction ins = to_instruction(n, *src, tree.directives.escape);
        if (const auto* f = ins.as<From>()) {
            Stage st;
            st.index = r.stages.size();
            st.name = f->stage_name;
            for (const auto& other : r.stages) {
                if (!st.name.empty() && other.name == st.name) {
                    src->fail(pos_of(ins), "duplicate stage name \"" + st.name + "\": stage " + std::to_string(other.index) +
                                               " (line " + std::to_string(other.from.location.start_line) +
                                               ") already has it");
                }
            }
            st.base = expand_global(ins, f->image);
            if (st.base.empty()) {
                src->fail(pos_of(ins), "FROM: the base image \"" + f->image + "\" is empty once the ARGs are expanded");
            }
            st.platform = expand_global(ins, f->platform);
            // FROM names an earlier stage, never a later one: a later stage with the same
            // name as an image (FROM node AS node) must not make the image a cycle.
            for (const auto& other : r.stages) {
                if (!other.name.empty() && other.name == lower(st.base)) {
                    st.base_stage = other.index;
                    st.dependencies.push_back({other.index, "FROM", ins.location});
                }
            }
            st.from = std::move(ins);
            r.stages.push_back(std::move(st));
            continue;
        }
        if (r.stages.empty()) {
            if (const auto* a = ins.as<ArgInstr>()) {
                // Global ARGs: visible to FROM lines; a stage sees them only after `ARG NAME`.
                for (const auto& d : a->args) {
                    if (auto it = r.build_args.find(d.key); it != r.build_args.end()) {
                        r.global_env.set(d.key, it->second);
                    } else if (d.value) {
                        r.global_env.set(d.key, expand_global(ins, *d.value));
                    }
                }
                r.global_args.push_back(std::move(ins));
                continue;
            }
            src->fail(n.pos(), "missing FROM: " + ins.keyword +
                                   " comes before any FROM (a Dockerfile must start with FROM; only ARG may precede it)");
        }
        r.stages.back().instructions.push_back(std::move(ins));
    }
    if (r.stages.empty()) {
        src->fail({tree.nodes.back().start_line, 1}, "missing FROM: the Dockerfile has only ARG instructions and no stage");
    }
    link_references(r);
    check_cycles(r);
    return r;
}

size_t target_stage(const ParseResult& r, const std::optional<std::string>& target) {
    if (!target || target->empty()) return r.stages.size() - 1;
    if (auto idx = r.find_stage(*target)) return *idx;
    std::string names;
    for (const auto& s : r.stages) {
        if (!s.name.empty()) names += (names.empty() ? "" : ", ") + s.name;
    }
    std::string msg = "target stage \"" + *target + "\" could not be found in " + r.filename;
    std::vector<std::string> all;
    for (const auto& s : r.stages) {
        if (!s.name.empty()) all.push_back(s.name);
    }
    if (auto near = nearest_word(*target, all)) {
        msg += " (did you mean " + *near + "?)";
    } else {
        msg += names.empty() ? " (no stage has a name)" : " (stages: " + names + ")";
    }
    throw Error(msg);
}

std::vector<size_t> stages_needed(const ParseResult& r, const std::optional<std::string>& target) {
    std::vector<bool> needed(r.stages.size(), false);
    std::vector<size_t> todo{target_stage(r, target)};
    while (!todo.empty()) {
        size_t s = todo.back();
        todo.pop_back();
        if (needed[s]) continue;
        needed[s] = true;
        for (const auto& d : r.stages[s].dependencies) todo.push_back(d.stage);
    }
    std::vector<size_t> out;
    for (size_t i = 0; i < needed.size(); ++i) {
        if (needed[i]) out.push_back(i);
    }
    return out;
}

Instruction parse_instruction(std::string_view line, std::string_view source_name) {
    SourceText src(line, std::string(source_name));
    SyntaxTree tree = parse_syntax_tree(src, src.text());
    if (tree.nodes.size() != 1) src.fail({1, 1}, "expected exactly one instruction");
    return to_instruction(tree.nodes[0], src, tree.directives.escape);
}

}  // namespace imgbuild::parser
