// The build loop: the stages the target needs, each started once the stages it reads from
// are done (up to --jobs at once, builder/stage_scheduler.h); each instruction a step with
// a cache key; a hit takes the recorded config (and its layers), a miss runs the step.
//
// Parallel stages and determinism: a stage only sees the stages it depends on (copied when
// it starts), step numbers are fixed before the build in Dockerfile order, and the image
// is made from the target stage alone: the result does not depend on which stage ends first.
#include "builder/executor.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include "builder/build_context.h"
#include "builder/build_metadata.h"
#include "builder/build_state.h"
#include "builder/cache_explain.h"
#include "builder/copy_link.h"
#include "builder/deferred_removal.h"
#include "builder/file_hash_cache.h"
#include "builder/image_config.h"
#include "builder/remote_cache.h"
#include "builder/rootfs_view.h"
#include "builder/run_mounts.h"
#include "builder/squash.h"
#include "builder/run_network.h"
#include "runtime/container.h"
#include "builder/stage_networks.h"
#include "builder/stage_scheduler.h"
#include "common/error.h"
#include "common/time.h"
#include "layerstore/archives.h"
#include "oci/image.h"
#include "registry/pull.h"
#include "runtime/cgroup.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void set_rootfs(json& config, const std::vector<layerstore::LayerInfo>& layers) {
    json ids = json::array();
    for (const auto& l : layers) ids.push_back(l.diff_id.str());
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
}

// What the history says a step did ("RUN /bin/sh -c make # buildkit", "ENV A=1").
std::string created_by(const parser::Instruction& instr) {
    if (instr.as<parser::Run>()) return instr.original + " # buildkit";
    return instr.original;
}

class Build {
public:
    Build(layerstore::Store& store, const BuildOptions& opts, Progress& progress)
        : store_(store), opts_(opts), progress_(progress), cache_(store) {
        parser::ParseOptions popts;
        for (const auto& [k, v] : opts.build_args) popts.build_args[k] = v;
        parsed_ = parser::parse_dockerfile(opts.dockerfile_text, opts.dockerfile_name, popts);
        needed_ = parser::stages_needed(parsed_, opts.target);
        number_steps();
        check_build_network(opts);
        check_run_networks(opts, parsed_, needed_);
        if (!opts.cache_from.empty()) {
            remote_ = std::make_unique<RemoteCache>(store, opts.cache_from, opts.registry, progress);
            if (size_t n = remote_->restore_mounts()) progress.message("cache-from: restored " + std::to_string(n) + " cache mounts");
        }
    }

    layerstore::Image run() {
        started_ = std::chrono::steady_clock::now();
        std::vector<StageTask> tasks;
        for (size_t i : needed_) tasks.push_back({i, stage_inputs(i)});
        const unsigned jobs = std::min<unsigned>(opts_.jobs ? opts_.jobs : default_jobs(), static_cast<unsigned>(needed_.size()));
        // More than one stage thread: containers start from an exec'ed helper (container_process.h).
        parallel_ = jobs > 1;
        run_stages(tasks, jobs, [this](size_t i, const std::atomic<bool>& cancelled) {
            StageRun r{i, first_step_.at(i), {}, &cancelled};
            {
                std::lock_guard<std::mutex> lock(mu_);
                for (size_t dep : stage_inputs(i)) r.inputs.emplace(dep, finished_.at(dep));
            }
            StageState s = with_stage_in_errors(i, [&] { return build_stage(r); });
            std::lock_guard<std::mutex> lock(mu_);
            finished_.emplace(i, std::move(s));
        });
        return finish(finished_.at(needed_.back()));  // the target: stages only read earlier ones
    }

    ~Build() {
        if (!hashes_) return;
        try {
            hashes_->save();
        } catch (const std::exception& e) {  // only an optimization: the next build re-reads files
            progress_.message(std::string("warning: ") + e.what());
        }
    }

private:
    // One stage being built: its step counter and the finished stages it reads from.
    struct StageRun {
        size_t index;
        int step;                                // number of the step running (fixed, see number_steps)
        std::map<size_t, StageState> inputs;     // its dependencies, as they finished
        const std::atomic<bool>* cancelled;      // another stage failed: stop at the next step
        StageNetworks networks = {};             // what its RUN steps join, made on this thread
        std::map<std::string, fs::path> verified_lowers = {};  // StepEnv::verified_lowers
        std::optional<TempDir> run_dir = {};                    // StepEnv::run_dir
        std::unique_ptr<runtime::Cgroup> run_cgroup = {};       // StepEnv::run_cgroup
        DeferredRemoval run_dir_removal = {};  // StepEnv::run_dir_removal; done before run_dir goes
    };

    // Step numbers in Dockerfile order whatever the scheduling: stage i's FROM is step
    // first_step_[i], its instructions follow. A base image's ONBUILD triggers, known only
    // once it is resolved, run as part of their FROM step and carry its number.
    void number_steps() {
        for (size_t i : needed_) {
            first_step_[i] = total_ + 1;
            total_ += 1 + static_cast<int>(parsed_.stages[i].instructions.size());
        }
        if (needed_.size() < 2) return;  // one stage: the progress lines need no stage name
        for (size_t i : needed_)
            progress_.name_steps(first_step_[i], first_step_[i] + static_cast<int>(parsed_.stages[i].instructions.size()),
                                 stage_display_name(i));
    }

    // "build" for `FROM x AS build`, else "stage-2" (as BuildKit names unnamed stages).
    std::string stage_display_name(size_t i) const {
        const auto& st = parsed_.stages[i];
        return st.name.empty() ? "stage-" + std::to_string(i) : st.name;
    }

    // The stages stage i reads from (FROM, COPY --from, RUN --mount from=), each once.
    std::vector<size_t> stage_inputs(size_t i) const {
        std::vector<size_t> deps;
        for (const auto& d : parsed_.stages[i].dependencies)
            if (d.stage != i && std::find(deps.begin(), deps.end(), d.stage) == deps.end()) deps.push_back(d.stage);
        return deps;
    }

    // With several stages, an error says which stage failed ("stage build: step 3/9 ...").
    template <typename F>
    StageState with_stage_in_errors(size_t i, F&& f) {
        if (needed_.size() < 2) return f();
        try {
            return f();
        } catch (const UsageError&) {
            throw;
        } catch (const Error& e) {
            throw Error("stage " + stage_display_name(i) + ": " + e.what());
        }
    }

    StepEnv step_env(StageRun& r) {
        StepEnv env{store_, opts_, progress_, parsed_, r.inputs, r.step, total_, source_date_epoch(), {}, {}, {}, r.cancelled, parallel_};
        env.context = [this]() -> BuildContext& { return context(); };
        env.fetch = [this](const std::string& url) -> const FetchedUrl& { return fetch(url); };
        env.image = [this](const std::string& name) { return base_image(name); };
        env.networks = &r.networks;
        env.verified_lowers = &r.verified_lowers;
        env.run_dir = &r.run_dir;
        env.run_cgroup = &r.run_cgroup;
        env.run_dir_removal = &r.run_dir_removal;
        return env;
    }

    // A new step of stage r: stops here when another stage has failed.
    void begin_step(StageRun& r, int number) {
        if (*r.cancelled) throw Error("cancelled: another stage failed");
        r.step = number;
    }

    // Shared by the stage threads: one download per URL, one context, one hash cache.
    const FetchedUrl& fetch(const std::string& url) {
        std::lock_guard<std::mutex> lock(fetch_mu_);
        if (auto it = fetched_.find(url); it != fetched_.end()) return it->second;
        if (!downloads_) downloads_.emplace(store_.make_temp_dir("download"));
        fs::path file = downloads_->path() / std::to_string(fetched_.size());
        Download d = fetch_url(url, file);
        return fetched_.emplace(url, FetchedUrl{file, d}).first->second;
    }

    BuildContext& context() {
        std::lock_guard<std::mutex> lock(context_mu_);
        if (!context_) {
            hashes_ = std::make_unique<FileHashCache>(store_.root() / "cache" / "file-hashes.json");
            context_ = std::make_unique<BuildContext>(opts_.context_dir, IgnoreMatcher::from_context(opts_.context_dir),
                                                      hashes_.get());
        }
        return *context_;
    }

    StageState from_step(StageRun& r, const parser::Stage& stage) {
        begin_step(r, first_step_.at(r.index));
        progress_.step_start(r.step, total_, stage.from.original);
        auto t0 = std::chrono::steady_clock::now();
        StageState s;
        if (stage.base_stage) {
            const StageState& base = r.inputs.at(*stage.base_stage);
            s.config = base.config;
            s.layers = base.layers;
            s.state = CacheKey(base.state).add("from", "stage").finish();
        } else if (stage.base == "scratch") {
            s.config = scratch_config();
            s.state = CacheKey(Digest::of("")).add("from", "scratch").finish();
        } else {
            std::string where = parsed_.filename + ":" + std::to_string(stage.from.location.start_line) + ":" +
                                std::to_string(stage.from.location.column) + ": FROM " + stage.base + ": ";
            std::optional<layerstore::Image> img;
            try {
                img = base_image(stage.base);
            } catch (const Error& e) {
                if (opts_.pull == PullPolicy::always) throw Error(where + e.what());
                throw Error(where + "image not found in the local store, and the pull failed: " + e.what());
            }
            if (!img) throw Error(where + "image not found in the local store (and --pull=never)");
            s.config = stage_config_from_base(img->config);
            s.layers = img->layers;
            s.state = CacheKey(img->manifest_digest).add("from", "image").finish();
        }
        if (auto it = s.config["config"].find("OnBuild"); it != s.config["config"].end() && it->is_array())
            for (const auto& t : *it)
                if (t.is_string()) s.onbuild_triggers.push_back(t.get<std::string>());
        s.config["config"].erase("OnBuild");  // triggers are for the direct child only
        s.base_layers = s.layers.size();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress_.step_end(r.step, total_, false, secs, 0);
        return s;
    }

    // A FROM image: from the store, or pulled from its registry (--pull=missing|always|never).
    // A pinned name@sha256:... is found by its manifest digest whatever name pulled it.
    std::optional<layerstore::Image> base_image(const std::string& name) {
        if (opts_.pull != PullPolicy::always) {
            if (auto img = store_.find_image(name)) return img;
            if (auto at = name.find('@'); at != std::string::npos)
                if (auto img = store_.find_image(name.substr(at + 1))) return img;
        }
        if (opts_.pull == PullPolicy::never) return std::nullopt;
        static const std::pair<ProgressMode, const char*> modes[] = {{ProgressMode::auto_, "auto"}, {ProgressMode::plain, "plain"},
                                                                     {ProgressMode::tty, "plain"}, {ProgressMode::json, "json"},
                                                                     {ProgressMode::quiet, "quiet"}};
        std::string mode = "plain";
        for (auto [m, n] : modes)
            if (m == opts_.progress) mode = n;
        auto transfer = registry::make_transfer_progress(mode);
        return registry::pull_image(store_, registry::parse_reference(name), opts_.registry, *transfer).image;
    }

    StageState build_stage(StageRun& r) {
        const parser::Stage& stage = parsed_.stages[r.index];
        StageState s = from_step(r, stage);
        s.cache_log = std::make_shared<StageCacheLog>(store_, stage_identity(opts_.dockerfile_path, stage, r.index, opts_.target),
                                                      stage.name.empty() ? std::to_string(r.index) : stage.name,
                                                      stage.from.original);
        run_onbuild_triggers(r, s);
        auto resolved = parser::resolve_stage(parsed_, r.index, parser::Env::from_list(env_list(s.config)));
        int number = first_step_.at(r.index);
        auto ahead = networks_ahead(resolved.steps);
        for (size_t i = 0; i < resolved.steps.size(); ++i) {
            begin_step(r, ++number);
            r.networks.expect(ahead[i]);
            run_instruction(r, s, resolved.steps[i]);
        }
        s.cache_log->save();
        return s;
    }

    // ahead[i]: the networks the RUN steps from step i on will join (StageNetworks::expect).
    // A RUN whose network is refused is left out: the step itself reports it, in its turn.
    std::vector<std::set<runtime::NetworkMode>> networks_ahead(const std::vector<parser::ResolvedStep>& steps) const {
        std::vector<std::set<runtime::NetworkMode>> ahead(steps.size() + 1);
        for (size_t i = steps.size(); i-- > 0;) {
            ahead[i] = ahead[i + 1];
            if (const auto* run = steps[i].instruction.as<parser::Run>()) {
                try {
                    ahead[i].insert(runtime::parse_network_mode(run_network(opts_, *run, steps[i].instruction, parsed_.filename)));
                } catch (const Error&) {
                }
            }
        }
        ahead.pop_back();
        return ahead;
    }

    // The base image's ONBUILD triggers run right after FROM, as Docker does: parsed as a
    // Dockerfile of their own so that they get the same expansion and checks.
    void run_onbuild_triggers(StageRun& r, StageState& s) {
        if (s.onbuild_triggers.empty()) return;
        std::string text = "FROM scratch\n";
        for (const auto& t : s.onbuild_triggers) text += t + "\n";
        parser::ParseOptions popts;
        for (const auto& [k, v] : opts_.build_args) popts.build_args[k] = v;
        auto triggers = parser::parse_dockerfile(text, "ONBUILD trigger of the base image", popts);
        for (const auto& instr : triggers.stages.front().instructions)
            if (instr.keyword == "ONBUILD" || instr.keyword == "FROM" || instr.keyword == "MAINTAINER")
                throw Error("ONBUILD " + instr.original + ": " + instr.keyword + " is not allowed as an ONBUILD trigger");
        check_run_networks(opts_, triggers, {0});  // a base image gets no host network without --allow either
        auto resolved = parser::resolve_stage(triggers, 0, parser::Env::from_list(env_list(s.config)));
        for (const auto& step : resolved.steps) {
            begin_step(r, first_step_.at(r.index));
            run_instruction(r, s, step);
        }
    }

    static std::vector<std::string> env_list(const json& config) {
        const json& cfg = config.value("config", json::object());
        if (!cfg.contains("Env") || !cfg["Env"].is_array()) return {};
        return cfg["Env"].get<std::vector<std::string>>();
    }

    void run_instruction(StageRun& r, StageState& s, const parser::ResolvedStep& step) {
        const parser::Instruction& instr = step.instruction;
        progress_.step_start(r.step, total_, instr.original);
        auto t0 = std::chrono::steady_clock::now();

        StepEnv env = step_env(r);
        const bool linked = is_linked_copy(step);  // keyed without the parent (copy_link.h)
        StepInputs inputs = step_inputs(env, step, /*with_variables=*/!linked);
        const Digest parent = linked ? linked_copy_state(env, s, step) : s.state;
        Digest k = inputs.key(parent);
        StepOutcome outcome{r.step, instr.original, instr.keyword, parent, k, std::nullopt, false, "", "", 0, inputs.list()};

        if (!opts_.no_cache) {
            auto hit = cache_.lookup(k);
            std::string source = "local";
            if (!hit && remote_) {
                std::lock_guard<std::mutex> lock(remote_mu_);  // one registry session for every stage thread
                if (auto from = remote_->fetch(k, cache_)) hit = cache_.lookup(k), source = *from;
            }
            if (hit) {
                if (linked) rebase_linked_hit(env, s, *hit);
                outcome.cached = true;
                outcome.source = source;
                if (opts_.explain && source != "local" && opts_.progress != ProgressMode::json)
                    progress_.message("step " + std::to_string(r.step) + "/" + std::to_string(total_) + " " + instr.keyword +
                                      ": hit: " + source);
                outcome.config = hit->config_digest;
                s.cache_log->add(std::move(outcome));
                // The key is the parent's content, not its history: keep ours, add the step's.
                json history = s.config.contains("history") ? s.config["history"] : json::array();
                const json& cached_history = hit->config.contains("history") ? hit->config["history"] : json::array();
                if (!instr.as<parser::ArgInstr>() && !cached_history.empty()) history.push_back(cached_history.back());
                s.config = std::move(hit->config);
                s.config["history"] = std::move(history);
                s.layers = std::move(hit->layers);
                s.state = state_after(s.config);
                if (instr.as<parser::Cmd>()) s.cmd_set = true;
                progress_.step_end(r.step, total_, true, 0, 0);
                return;
            }
        }
        outcome.reason = s.cache_log->explain_miss(instr, inputs, parent, k, opts_.no_cache);
        progress_.cache_miss(r.step, outcome.reason);
        r.networks.start_expected(store_);  // the RUNs ahead will run: their network comes up meanwhile
        if (opts_.explain && opts_.progress != ProgressMode::json)
            progress_.message("step " + std::to_string(r.step) + "/" + std::to_string(total_) + " " + instr.keyword +
                              ": miss: " + outcome.reason);

        uint64_t bytes = 0;
        size_t layers_before = s.layers.size();
        if (instr.as<parser::Run>()) {
            bytes = run_step(env, s, step);
        } else if (instr.as<parser::Copy>()) {
            bytes = copy_step(env, s, step);
        } else if (auto* w = instr.as<parser::Workdir>()) {
            std::string path = join_workdir(s.config["config"].value("WorkingDir", "/"), w->path);
            apply_config_instruction(s.config, instr, s.cmd_set);
            bytes = workdir_step(env, s, instr, path);
        } else if (instr.as<parser::ArgInstr>()) {
            // ARG changes what later steps see (their keys include it), not the image.
        } else {
            apply_config_instruction(s.config, instr, s.cmd_set);
        }
        bool made_layer = s.layers.size() != layers_before;
        if (!instr.as<parser::ArgInstr>()) add_history(s.config, created_timestamp(), created_by(instr), !made_layer);
        set_rootfs(s.config, s.layers);
        outcome.config = store_.put_blob(oci::canonical(s.config), Durability::relaxed);
        cache_.record(k, *outcome.config);
        s.state = state_after(s.config);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        outcome.seconds = secs;
        s.cache_log->add(std::move(outcome));
        progress_.step_end(r.step, total_, false, secs, bytes);
    }

    layerstore::Image finish(StageState& s) {
        if (opts_.squash || opts_.squash_all) squash_stage(store_, s, opts_.squash_all, source_date_epoch());
        json config = s.config;
        for (const auto& [k, v] : opts_.labels) config["config"]["Labels"][k] = v;
        // The image's date is that of its last step: a fully cached rebuild gives the same id.
        const json& history = config["history"];
        config["created"] = history.empty() ? created_timestamp() : history.back().value("created", created_timestamp());
        layerstore::Image img = store_.put_image(config, s.layers);
        for (const auto& t : opts_.tags) store_.tag(t, img.manifest_digest);
        if (opts_.tags.empty()) store_.keep_untagged(img.manifest_digest);
        if (opts_.iidfile) atomic_write_file(*opts_.iidfile, img.config_digest.str(), opts_.iidfile->parent_path().empty() ? "." : opts_.iidfile->parent_path());
        if (opts_.output) write_output(img);
        if (opts_.cache_to) export_cache(store_, *opts_.cache_to, stage_logs(opts_.cache_to->max), opts_.registry, progress_);
        if (opts_.metadata_file) write_metadata(img);
        progress_.finish(img.config_digest.str());
        return img;
    }

    // Every built stage's cache log in build order, or only the final stage's.
    std::vector<const StageCacheLog*> stage_logs(bool all) const {
        std::vector<const StageCacheLog*> logs;
        for (size_t i : needed_)
            if (all || i == needed_.back()) logs.push_back(finished_.at(i).cache_log.get());
        return logs;
    }

    void write_metadata(const layerstore::Image& img) {
        std::vector<const StageCacheLog*> logs = stage_logs(true);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        write_build_metadata(*opts_.metadata_file,
                             build_metadata(img, store_.read_blob(img.manifest_digest).size(), opts_.tags, logs, total_, secs));
    }

    void write_output(const layerstore::Image& img) {
        layerstore::SaveOptions so{layerstore::parse_archive_format(opts_.output->type), opts_.compression};
        std::string ref = opts_.tags.empty() ? img.manifest_digest.str() : opts_.tags.front();
        OutputFile out(opts_.output->dest);  // nothing at dest until complete, even after a kill
        layerstore::save_images(store_, {ref}, out.fd(), so);
        out.commit();
    }

    layerstore::Store& store_;
    const BuildOptions& opts_;
    Progress& progress_;
    BuildCache cache_;
    std::unique_ptr<RemoteCache> remote_;  // --cache-from
    std::mutex remote_mu_;                 // guards remote_
    parser::ParseResult parsed_;
    std::vector<size_t> needed_;
    std::map<size_t, int> first_step_;      // stage index -> number of its FROM step
    int total_ = 0;                         // steps of the build (fixed before it starts)
    bool parallel_ = false;                 // stages may run on several threads
    std::mutex mu_;                         // guards finished_
    std::map<size_t, StageState> finished_;
    std::mutex context_mu_;                 // guards the lazy making of hashes_ and context_
    std::unique_ptr<FileHashCache> hashes_;
    std::unique_ptr<BuildContext> context_;
    std::mutex fetch_mu_;                   // guards fetched_ and downloads_
    std::map<std::string, FetchedUrl> fetched_;  // ADD <url> downloads of this build
    std::optional<TempDir> downloads_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace

layerstore::Image build(layerstore::Store& store, const BuildOptions& opts, Progress& progress) {
    enter_private_mount_namespace();
    Build b(store, opts, progress);
    return b.run();
}

}  // namespace imgbuild::builder
