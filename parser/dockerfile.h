#pragma once
// The Dockerfile parser's public API, for the builder and the `imgbuild parse` verb.
//
//   auto result = parser::parse_dockerfile(text, "Dockerfile", {{"VERSION", "1.2"}});
//   for (size_t i : parser::stages_needed(result, target)) {
//       const parser::Stage& st = result.stages[i];
//       // st.base is the FROM image with global ARGs expanded; st.base_stage is set when it
//       // names an earlier stage instead of an image.
//       auto resolved = parser::resolve_stage(result, i, image_env);
//       for (const auto& step : resolved.steps) { ... step.instruction has expanded args ... }
//   }
//
// Contracts:
// - Pure: no disk, no network, no environment variables. The caller reads the file.
// - Every error is a ParseError (an imgbuild::Error) naming file:line:column, quoting the line
//   with a caret under the column.
// - Instructions keep their arguments unexpanded. Expansion needs the values of ENV and ARG,
//   which depend on the base image's config, so it happens per stage in resolve_stage(), or
//   by the builder itself with an Expander.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/errors.h"
#include "parser/expand.h"
#include "parser/instructions.h"
#include "parser/lexer.h"

namespace imgbuild::parser {

// --build-arg values from the command line.
using BuildArgs = std::map<std::string, std::string, std::less<>>;

struct ParseOptions {
    BuildArgs build_args;
    // Values of the automatic platform ARGs (TARGETPLATFORM, TARGETOS, TARGETARCH,
    // TARGETVARIANT and the BUILD* ones): visible to FROM, and in a stage after `ARG NAME`.
    std::string target_platform = "linux/amd64";
    std::string build_platform = "linux/amd64";
};

// A reference from one stage to another: FROM, COPY --from or RUN --mount from=.
struct StageRef {
    size_t stage = 0;
    std::string via;  // "FROM", "COPY --from", "ADD --from", "RUN --mount"
    SourceRange location;
};

struct Stage {
    size_t index = 0;
    std::string name;      // AS name, lowercased; "" when unnamed
    std::string base;      // the FROM image (or stage name), global ARGs expanded
    std::optional<size_t> base_stage;  // set when `base` names an earlier stage
    std::string platform;  // --platform, global ARGs expanded; "" when not given
    Instruction from;      // the FROM instruction itself (unexpanded, with its location)
    std::vector<Instruction> instructions;  // everything after FROM, in order
    std::vector<StageRef> dependencies;     // stages this one reads from
};

struct ParseResult {
    std::string filename;
    Directives directives;
    std::vector<Instruction> global_args;  // ARG instructions before the first FROM
    Env global_env;        // what FROM lines see: automatic platform ARGs + global ARG values
    BuildArgs build_args;  // as given
    Env automatic_args;    // TARGETPLATFORM & co.
    std::vector<Stage> stages;
    std::shared_ptr<const SourceText> source;  // for error messages raised later

    [[nodiscard]] Expander expander() const { return Expander(directives.escape); }
    // The stage with this name (case-insensitive) or index ("0"); nullopt when none.
    [[nodiscard]] std::optional<size_t> find_stage(std::string_view name_or_index) const;
};

[[nodiscard]] ParseResult parse_dockerfile(std::string_view text, std::string_view filename, const ParseOptions& options);
[[nodiscard]] ParseResult parse_dockerfile(std::string_view text, std::string_view filename,
                                           const BuildArgs& build_args = {});

// The stage that `target` names (default: the last stage). Throws Error for an unknown name.
[[nodiscard]] size_t target_stage(const ParseResult& result, const std::optional<std::string>& target);

// The stages the target needs, ascending, target included. Unused stages are left out so the
// builder can skip them.
[[nodiscard]] std::vector<size_t> stages_needed(const ParseResult& result, const std::optional<std::string>& target);

// One instruction of a stage with its arguments expanded, and the variables in effect when it
// runs (before its own changes).
struct ResolvedStep {
    Instruction instruction;  // expandable fields replaced by their expanded values
    Env env;                  // the image env: base image Env + ENV so far
    Env args;                 // ARG values in scope (not persisted in the image)
    // What a RUN step sees and what expansions use: args overlaid by env (ENV wins).
    [[nodiscard]] Env visible() const;
};

struct ResolvedStage {
    std::vector<ResolvedStep> steps;
    Env env;   // the image env after the last instruction (goes into the image config)
    Env args;  // ARG values in scope at the end
};

// Walks a stage with Docker's ENV/ARG scoping, starting from the base image's Env, and
// expands each instruction's arguments where Docker expands them: ENV, LABEL, ARG defaults,
// COPY/ADD paths and --from/--chown/--chmod/--checksum/--exclude, RUN --mount fields, EXPOSE
// (split into words), WORKDIR, USER, VOLUME, STOPSIGNAL, and heredoc bodies of COPY/ADD unless
// the delimiter is quoted. RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD are left to the shell.
// Throws ParseError (at the instruction) on an expansion error or a value that is invalid once
// expanded (a bad port, a bad --chmod).
[[nodiscard]] ResolvedStage resolve_stage(const ParseResult& result, size_t stage_index, const Env& image_env);

// Parses one instruction given outside a Dockerfile (`commit --change`); errors are located
// in `source_name` ("commit --change:1:5: ..."). It stays beside parse_dockerfile because that
// needs a FROM first, which would put the user's line at line 2 of every error. (A base
// image's ONBUILD triggers are several lines: the builder parses them as a Dockerfile.)
[[nodiscard]] Instruction parse_instruction(std::string_view line, std::string_view source_name);

}  // namespace imgbuild::parser
