#pragma once
// Internal to the builder: the state of a stage as its steps run, and what a step needs.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/build_cache.h"
#include "builder/build_options.h"
#include "builder/progress.h"
#include "builder/url_fetch.h"
#include "common/fs.h"
#include "layerstore/store.h"
#include "parser/dockerfile.h"

namespace imgbuild::runtime {
class Cgroup;
}

namespace imgbuild::builder {

class BuildContext;
class FileHashCache;
class ContextListing;
class StageCacheLog;
class StageNetworks;
class DeferredRemoval;

// An ADD <url> downloaded once per build: the cache key needs its content, the step its file.
struct FetchedUrl {
    std::filesystem::path file;
    Download info;
};

struct StageState {
    nlohmann::json config;                      // the whole image config
    std::vector<layerstore::LayerInfo> layers;  // bottom first
    Digest state;                               // cache chain state (see build_cache.h)
    size_t base_layers = 0;                     // layers of the FROM image (build --squash)
    bool cmd_set = false;                       // CMD given in this stage
    std::vector<std::string> onbuild_triggers;  // of the base image, run right after FROM
    std::shared_ptr<StageCacheLog> cache_log;   // this build's steps vs the stage's last build
};

// What every step handler may use.
struct StepEnv {
    layerstore::Store& store;
    const BuildOptions& opts;
    Progress& progress;
    const parser::ParseResult& parsed;
    const std::map<size_t, StageState>& finished_stages;
    int step = 0, total = 0;
    std::optional<int64_t> source_date_epoch;
    // Lazily made: the context is only read when a COPY/ADD needs it.
    std::function<BuildContext&()> context;
    // Downloads an ADD <url> the first time it is asked for (Error naming the URL on failure).
    std::function<const FetchedUrl&(const std::string& url)> fetch;
    // COPY --from=IMAGE: the image from the store, or pulled as a FROM image is (--pull).
    std::function<std::optional<layerstore::Image>(const std::string& name)> image;
    // Set when another stage failed: a running RUN is then stopped (SIGTERM).
    const std::atomic<bool>* cancelled = nullptr;
    // Stages run on several threads: a RUN's container starts from a helper process (a fresh
    // exec of imgbuild, container_process.h), never by a clone from this multi-threaded process.
    bool container_in_subprocess = false;
    // The stage's kept network namespaces, joined by its RUN steps (stage_networks.h).
    StageNetworks* networks = nullptr;
    // Layer id -> diff dir of the lowers this stage has verified (layer_stamp.h): a stage's
    // RUNs check each lower once, not every lower again at every RUN.
    std::map<std::string, std::filesystem::path>* verified_lowers = nullptr;
    // The stage's shared RUN dir (run_dir.h), made by its first plain RUN; null: one per RUN.
    std::optional<TempDir>* run_dir = nullptr;
    // The stage's cgroup, made by its first RUN and joined by the next ones (they run one after
    // another with the same default limits): two cgroup dirs made, limited and removed less
    // per step. null: one per RUN (and always in a helper process, container_in_subprocess).
    std::unique_ptr<runtime::Cgroup>* run_cgroup = nullptr;
    // Removes the last plain RUN's volatile marker from the shared run dir beside its commit
    // (deferred_removal.h). null: the next mount removes it.
    DeferredRemoval* run_dir_removal = nullptr;
    // "step 3/7 COPY . /app" for messages.
    [[nodiscard]] std::string step_label(const parser::Instruction& instr) const {
        return "step " + std::to_string(step) + "/" + std::to_string(total) + " " + instr.original;
    }
};

// Filesystem steps: they change `s.layers` (or not) and leave config edits to the caller.
// Each returns the size of the layer made (0: none).
uint64_t run_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step);
uint64_t copy_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step);
// WORKDIR: creates `path` (and its parents) owned by the config's current USER, as BuildKit.
uint64_t workdir_step(StepEnv& env, StageState& s, const parser::Instruction& instr, const std::string& path);

// Turns `upper` into a layer on top of s.layers unless it is empty. Returns its tar size.
uint64_t commit_upper(StepEnv& env, StageState& s, const std::filesystem::path& upper);

// The cache-key fingerprint of what a COPY/ADD reads (sources' content, --from stage state).
// `listing` (may be null) records the context sources entry by entry (cache_explain.h).
[[nodiscard]] std::string copy_inputs_fingerprint(StepEnv& env, const parser::ResolvedStep& step,
                                                  ContextListing* listing = nullptr);

}  // namespace imgbuild::builder
