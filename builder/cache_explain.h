#pragma once
// Explaining the build cache (DESIGN.md §6 "explain a miss on request"): a step's key is made
// from a list of named inputs (the parent state, the instruction, the variables it sees, the
// content of what COPY/ADD reads, mount ids), and each stage keeps a record of the inputs of
// its last build, so that a miss can say which input changed:
//   step 4/7 RUN: miss: build arg VERSION changed 1.2 -> 1.3
//   step 5/7 COPY: miss: src/app.py changed
//   step 6/7 RUN: miss: parent changed (step 5 missed)
// Records live in <store>/cache/explain/<hex of the stage identity>.json (identity: the
// Dockerfile's path, the stage's name or index, the target), the listings of what a COPY/ADD
// read in cache/explain/files/<hex of the listing>. Both are hints: a lost or damaged one
// makes the explanation "first build of this stage", never a wrong build.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/build_cache.h"
#include "common/digest.h"
#include "common/unique_fd.h"
#include "parser/dockerfile.h"

namespace imgbuild::builder {

struct StepEnv;

// How an input may appear in an explanation: by its value (build args, env) or only by
// name (file sets, mounts, anything whose value is not for logs: "mount cache id=x changed").
enum class InputDisplay { value, name_only };

struct StepInput {
    std::string field;  // the CacheKey field it is hashed under ("instruction", "var", "inputs", "mount")
    std::string name;   // for messages: "build arg VERSION", "env PATH", "COPY sources", "mount cache id=pip"
    std::string value;  // what the key hashes
    std::string shown;  // the value as messages show it (InputDisplay::value only)
    InputDisplay display = InputDisplay::value;
    std::optional<Digest> listing;  // COPY/ADD from the context: the per-file listing of its sources
};

// The one place a step's key is computed: CacheKey(parent) + every input, in order. Other
// inputs (RUN --mount) are added through add(); nothing else feeds the key.
class StepInputs {
public:
    void add(StepInput in) { inputs_.push_back(std::move(in)); }
    [[nodiscard]] const std::vector<StepInput>& list() const { return inputs_; }
    [[nodiscard]] Digest key(const Digest& parent_state) const;

private:
    std::vector<StepInput> inputs_;
};

// Whether a variable's name says its value is a credential (API_TOKEN, DB_PASSWORD, AWS_SECRET_KEY):
// such build args and env values are explained by name only and recorded as a digest.
[[nodiscard]] bool looks_secret(std::string_view name);

// The inputs of a step: its instruction, the variables it sees (named "build arg X" or "env X"),
// and for COPY/ADD what it reads (the context sources' listing recorded on the way).
// Without `with_variables` (COPY --link, whose layer must not depend on what is below it) the
// variables are left out.
[[nodiscard]] StepInputs step_inputs(StepEnv& env, const parser::ResolvedStep& step, bool with_variables = true);

// Writes the listing of a COPY/ADD's context sources (one "path\tentry digest" line per entry,
// in the order content_digest walks them) to tmp/ while the sources are hashed, and names it
// by its own digest in cache/explain/files/ (idempotent).
class ContextListing {
public:
    explicit ContextListing(const layerstore::Store& store);
    ~ContextListing();
    ContextListing(const ContextListing&) = delete;
    ContextListing& operator=(const ContextListing&) = delete;
    void add(std::string_view path, std::string_view record);
    // Moves the listing into place; returns its digest.
    [[nodiscard]] Digest finish();

private:
    void flush();
    std::filesystem::path dir_, tmp_;
    unique_fd fd_;
    std::string buf_;
    Sha256 hash_;
};

// What became of one step, for the stage record, explanations and --metadata-file.
struct StepOutcome {
    int step = 0;                 // the build's step number
    std::string instruction;      // as written
    std::string keyword;          // RUN, COPY, ...
    Digest parent;                // state before the step
    Digest key;
    std::optional<Digest> config; // the config after it
    bool cached = false;
    std::string source;           // of a hit: "local" or the --cache-from it came from
    std::string reason;           // of a miss
    double seconds = 0;
    std::vector<StepInput> inputs;
};

// One stage's steps in this build, compared with the record of its last build.
class StageCacheLog {
public:
    // `identity`: what names the stage across builds (see stage_identity).
    StageCacheLog(const layerstore::Store& store, std::string identity, std::string stage_name, std::string base);
    // Why `key` missed: which inputs differ from the same step of the last build.
    [[nodiscard]] std::string explain_miss(const parser::Instruction& instr, const StepInputs& inputs,
                                           const Digest& parent, const Digest& key, bool no_cache) const;
    void add(StepOutcome outcome) { steps_.push_back(std::move(outcome)); }
    [[nodiscard]] const std::vector<StepOutcome>& steps() const { return steps_; }
    [[nodiscard]] const std::string& stage_name() const { return stage_name_; }
    // Writes this build as the stage's record (atomically; a failure is only a warning's worth).
    void save() const;

private:
    [[nodiscard]] std::string compare_with_last_build(const parser::Instruction& instr, const StepInputs& inputs,
                                                      const Digest& parent, const Digest& key, bool no_cache) const;
    [[nodiscard]] std::string parent_reason(size_t index) const;
    const layerstore::Store& store_;
    std::string identity_, stage_name_, base_;
    std::filesystem::path record_path_;
    nlohmann::json previous_;  // null: no record
    std::vector<StepOutcome> steps_;
};

// "<dockerfile path>\n<stage name or #index>\n<target>".
[[nodiscard]] std::string stage_identity(const std::string& dockerfile_path, const parser::Stage& stage, size_t index,
                                         const std::optional<std::string>& target);

// The differences between two listings, as message parts ("src/app.py changed", "b added"),
// at most `limit` of them plus "and N more"; nullopt when a listing is missing or unordered.
[[nodiscard]] std::optional<std::vector<std::string>> listing_changes(const std::filesystem::path& before,
                                                                      const std::filesystem::path& after, size_t limit);

}  // namespace imgbuild::builder
