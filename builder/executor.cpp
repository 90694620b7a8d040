// The build loop: stages the target needs, in order; each instruction a step with a cache
// key; a hit takes the recorded config (and its layers), a miss runs the step.
#include "builder/executor.h"

#include <fcntl.h>

#include <chrono>

#include "builder/build_context.h"
#include "builder/build_state.h"
#include "builder/copy_link.h"
#include "builder/file_hash_cache.h"
#include "builder/image_config.h"
#include "builder/rootfs_view.h"
#include "builder/squash.h"
#include "builder/run_network.h"
#include "common/error.h"
#include "common/time.h"
#include "layerstore/archives.h"
#include "oci/image.h"
#include "registry/pull.h"

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
        for (size_t i : needed_) total_ += 1 + static_cast<int>(parsed_.stages[i].instructions.size());
        check_build_network(opts);
        check_run_networks(opts, parsed_, needed_);
    }

    layerstore::Image run() {
        for (size_t i : needed_) finished_[i] = build_stage(i);
        StageState& last = finished_[needed_.back()];
        return finish(last);
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
    StepEnv step_env() {
        StepEnv env{store_, opts_, progress_, parsed_, finished_, step_, total_, source_date_epoch(), {}, {}, {}};
        env.context = [this]() -> BuildContext& { return context(); };
        env.fetch = [this](const std::string& url) -> const FetchedUrl& { return fetch(url); };
        env.image = [this](const std::string& name) { return base_image(name); };
        return env;
    }

    const FetchedUrl& fetch(const std::string& url) {
        if (auto it = fetched_.find(url); it != fetched_.end()) return it->second;
        if (!downloads_) downloads_.emplace(store_.make_temp_dir("download"));
        fs::path file = downloads_->path() / std::to_string(fetched_.size());
        Download d = fetch_url(url, file);
        return fetched_.emplace(url, FetchedUrl{file, d}).first->second;
    }

    BuildContext& context() {
        if (!context_) {
            hashes_ = std::make_unique<FileHashCache>(store_.root() / "cache" / "file-hashes.json");
            context_ = std::make_unique<BuildContext>(opts_.context_dir, IgnoreMatcher::from_context(opts_.context_dir),
                                                      hashes_.get());
        }
        return *context_;
    }

    StageState from_step(const parser::Stage& stage) {
        ++step_;
        progress_.step_start(step_, total_, stage.from.original);
        auto t0 = std::chrono::steady_clock::now();
        StageState s;
        if (stage.base_stage) {
            const StageState& base = finished_.at(*stage.base_stage);
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
        progress_.step_end(step_, total_, false, secs, 0);
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

    StageState build_stage(size_t index) {
        const parser::Stage& stage = parsed_.stages[index];
        StageState s = from_step(stage);
        run_onbuild_triggers(s);
        auto resolved = parser::resolve_stage(parsed_, index, parser::Env::from_list(env_list(s.config)));
        for (const auto& step : resolved.steps) run_instruction(s, step);
        return s;
    }

    // The base image's ONBUILD triggers run right after FROM, as Docker does: parsed as a
    // Dockerfile of their own so that they get the same expansion and checks.
    void run_onbuild_triggers(StageState& s) {
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
        total_ += static_cast<int>(resolved.steps.size());
        for (const auto& step : resolved.steps) run_instruction(s, step);
    }

    static std::vector<std::string> env_list(const json& config) {
        const json& cfg = config.value("config", json::object());
        if (!cfg.contains("Env") || !cfg["Env"].is_array()) return {};
        return cfg["Env"].get<std::vector<std::string>>();
    }

    void run_instruction(StageState& s, const parser::ResolvedStep& step) {
        const parser::Instruction& instr = step.instruction;
        ++step_;
        progress_.step_start(step_, total_, instr.original);
        auto t0 = std::chrono::steady_clock::now();

        StepEnv env = step_env();
        const bool linked = is_linked_copy(step);  // keyed without the parent (copy_link.h)
        CacheKey key(linked ? linked_copy_state(env, s, step) : s.state);
        key.add("instruction", instr.original);
        const parser::Env visible = linked ? parser::Env() : step.visible();
        for (const auto& [k, v] : visible.entries()) key.add("var", k + "=" + v);
        if (instr.as<parser::Copy>()) key.add("inputs", copy_inputs_fingerprint(env, step));
        Digest k = key.finish();

        if (!opts_.no_cache) {
            if (auto hit = cache_.lookup(k)) {
                if (linked) rebase_linked_hit(env, s, *hit);
                // The key is the parent's content, not its history: keep ours, add the step's.
                json history = s.config.contains("history") ? s.config["history"] : json::array();
                const json& cached_history = hit->config.contains("history") ? hit->config["history"] : json::array();
                if (!instr.as<parser::ArgInstr>() && !cached_history.empty()) history.push_back(cached_history.back());
                s.config = std::move(hit->config);
                s.config["history"] = std::move(history);
                s.layers = std::move(hit->layers);
                s.state = state_after(s.config);
                if (instr.as<parser::Cmd>()) s.cmd_set = true;
                progress_.step_end(step_, total_, true, 0, 0);
                return;
            }
            progress_.cache_miss(step_, "no cache entry for this step and its inputs");
        }

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
        cache_.record(k, store_.put_blob(oci::canonical(s.config), Durability::relaxed));
        s.state = state_after(s.config);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress_.step_end(step_, total_, false, secs, bytes);
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
        progress_.finish(img.config_digest.str());
        return img;
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
    parser::ParseResult parsed_;
    std::vector<size_t> needed_;
    std::map<size_t, StageState> finished_;
    std::unique_ptr<FileHashCache> hashes_;
    std::unique_ptr<BuildContext> context_;
    std::map<std::string, FetchedUrl> fetched_;  // ADD <url> downloads of this build
    std::optional<TempDir> downloads_;
    int step_ = 0, total_ = 0;
};

}  // namespace

layerstore::Image build(layerstore::Store& store, const BuildOptions& opts, Progress& progress) {
    enter_private_mount_namespace();
    Build b(store, opts, progress);
    return b.run();
}

}  // namespace imgbuild::builder
