// RUN: the command runs through the runtime over an overlay of the stage's layers; the
// overlay upper dir becomes the new layer as is (moved, not copied).
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "builder/build_state.h"
#include "builder/container_process.h"
#include "builder/container_spec.h"
#include "builder/deferred_removal.h"
#include "builder/image_config.h"
#include "builder/run_dir.h"
#include "runtime/cgroup.h"
#include "builder/run_mounts.h"
#include "builder/run_network.h"
#include "builder/stage_networks.h"
#include "common/error.h"
#include "common/log.h"
#include "layerstore/layer_stamp_check.h"
#include "runtime/container.h"
#include "runtime/overlay.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> run_argv(const parser::Run& run, const nlohmann::json& config) {
    if (run.heredoc_script && !run.heredocs.empty()) {
        // RUN <<EOF: the body is the script, given to the shell as its command string
        // (a #! line then makes no difference to sh, which reads it as a comment).
        parser::Command script;
        script.shell = run.heredocs.front().body;
        return command_argv(script, config);
    }
    if (run.command.is_json) return run.command.argv;
    parser::Command shell = run.command;
    shell.shell = run.shell_with_heredocs();
    return command_argv(shell, config);
}

// The layer's diff dir once its stamp is checked, once per stage (StepEnv::verified_lowers).
fs::path verified_lower(StepEnv& env, const layerstore::LayerInfo& layer) {
    if (!env.verified_lowers) return layerstore::verify_layer_for_use(env.store, layer).diff_dir;
    auto it = env.verified_lowers->find(layer.id);
    if (it == env.verified_lowers->end())
        it = env.verified_lowers->emplace(layer.id, layerstore::verify_layer_for_use(env.store, layer).diff_dir).first;
    return it->second;
}

// The step's lowers, and the stamp check of those this stage has not verified yet running
// beside the container (layer_stamp_check.h). Only when all the step makes can still be
// thrown away: its upper dir, not a cache mount it writes to (kept across builds).
struct StepLowers {
    std::vector<fs::path> dirs;
    std::unique_ptr<layerstore::BackgroundStampCheck> check;  // not movable: its thread holds it
};

StepLowers step_lowers(StepEnv& env, const StageState& s, const parser::Run& run) {
    StepLowers out;
    bool writes_kept = std::any_of(run.mounts.begin(), run.mounts.end(), [](const parser::Mount& m) { return m.type == "cache"; });
    std::vector<layerstore::LayerInfo> unchecked;
    for (const auto& l : s.layers) {
        auto it = env.verified_lowers ? env.verified_lowers->find(l.id) : std::map<std::string, fs::path>::iterator{};
        if (env.verified_lowers && it != env.verified_lowers->end()) {
            out.dirs.push_back(it->second);
        } else if (writes_kept || !env.verified_lowers) {
            out.dirs.push_back(verified_lower(env, l));
        } else {
            out.dirs.push_back(l.diff_dir);
            unchecked.push_back(l);
        }
    }
    if (!unchecked.empty()) out.check = std::make_unique<layerstore::BackgroundStampCheck>(std::move(unchecked));
    return out;
}

// After the container: true when the checked lowers are as recorded (now verified for the
// stage). Else the step's result is made over a changed lower and must not be used: the
// lowers are verified now (re-hashed, re-stamped, unpacked again from their blob, or a
// CorruptError) and the caller runs the step again over them.
bool lowers_held(StepEnv& env, StepLowers& lowers, const parser::Instruction& instr) {
    if (!lowers.check) return true;
    const auto& changed = lowers.check->changed();
    auto is_changed = [&](const layerstore::LayerInfo& l) {
        return std::any_of(changed.begin(), changed.end(), [&](const layerstore::LayerInfo& c) { return c.id == l.id; });
    };
    for (const auto& l : lowers.check->layers())
        if (!is_changed(l)) env.verified_lowers->emplace(l.id, l.diff_dir);
    if (changed.empty()) return true;
    std::string ids;
    for (const auto& l : changed) {
        (void)verified_lower(env, l);
        ids += (ids.empty() ? "" : ", ") + l.id;
    }
    log::warn(env.step_label(instr) + ": " + (changed.size() == 1 ? "layer " : "layers ") + ids +
              " did not match the recorded stamp (checked while the step ran): discarded the step's result, " +
              "verified the lowers, running the step again over them");
    return false;
}

}  // namespace

uint64_t commit_upper(StepEnv& env, StageState& s, const fs::path& upper) {
    if (fs::is_empty(upper)) return 0;  // a step that changed nothing makes no layer
    auto t0 = std::chrono::steady_clock::now();
    std::optional<std::string> parent;
    if (!s.layers.empty()) parent = s.layers.back().id;
    auto layer = env.store.commit_layer_dir(upper, parent, env.source_date_epoch);
    s.layers.push_back(layer);
    env.progress.layer_committed(env.step, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                                 layer.tar_size);
    return layer.tar_size;
}

namespace {

// One run of the step over `lowers`: the bytes of its layer, or nullopt when the lowers'
// check (lowers_held) says the result is made over a changed lower.
std::optional<uint64_t> run_over(StepEnv& env, StageState& s, const parser::ResolvedStep& step, StepLowers& lowers) {
    const auto& run = *step.instruction.as<parser::Run>();
    const nlohmann::json& cfg = s.config["config"];
    std::string network = run_network(env.opts, run, step.instruction, env.parsed.filename);

    if (env.run_dir_removal) env.run_dir_removal->wait();  // the last RUN's marker is gone
    RunDir dir(env.store, env.run_dir, run.mounts.empty());
    RunOptions options;
    options.argv = run_argv(run, s.config);
    options.env = step.visible().to_list();
    options.user = cfg.value("User", "");
    options.hostname = "imgbuild";
    options.network = runtime::parse_network_mode(network);
    RunMounts mounts(env, s, step, dir.path());  // held until the container is gone
    mounts.add_to(options);
    runtime::ContainerSpec spec = make_container_spec(lowers.dirs, cfg, options, dir.path(), env.store.short_links_dir());
    spec.forward_signals = true;
    if (run.mounts.empty()) {  // no --mount stub goes into its init layer: the store's shared one does
        spec.shared_init_layer = env.store.init_layer_dir();
        spec.shared_init_staging_dir = env.store.tmp_dir();
    }
    if (env.networks) spec.join_netns_fd = env.networks->join_fd(spec.network, env.store);
    if (env.run_cgroup && !env.container_in_subprocess) {
        if (!*env.run_cgroup) *env.run_cgroup = runtime::create_container_cgroup(spec);
        spec.cgroup = env.run_cgroup->get();
    }
    unique_fd devnull = open_or_throw("/dev/null", O_RDONLY);
    spec.stdin_fd = devnull.get();
    int step_no = env.step;
    spec.on_output = [&env, step_no](int stream, std::string_view data) { env.progress.output(step_no, stream, data); };

    int status = 0;
    try {
        status = env.container_in_subprocess ? run_container_in_subprocess(spec, env.cancelled)
                                             : runtime::run_container(spec);
    } catch (const Error&) {  // e.g. the overlay mount of a lower whose diff/ is gone
        if ((env.cancelled && *env.cancelled) || lowers_held(env, lowers, step.instruction)) throw;
        return std::nullopt;
    }
    // The shared run dir's next mount needs the marker gone: removed beside the commit (in a
    // helper process's build, parallel stages, its own start removes it as before).
    if (env.run_dir_removal && dir.shared() && !env.container_in_subprocess)
        env.run_dir_removal->remove_later(runtime::volatile_marker(spec.work_dir));
    if (!lowers_held(env, lowers, step.instruction)) return std::nullopt;
    if (status != 0) throw Error(env.step_label(step.instruction) + ": exit code " + std::to_string(status));
    return commit_upper(env, s, spec.upper_dir);
}

}  // namespace

uint64_t run_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step) {
    const auto& run = *step.instruction.as<parser::Run>();
    {
        StepLowers lowers = step_lowers(env, s, run);
        if (auto bytes = run_over(env, s, step, lowers)) return *bytes;
    }  // the discarded run's dir and mounts are gone before the step runs again
    StepLowers verified;
    for (const auto& l : s.layers) verified.dirs.push_back(verified_lower(env, l));
    return *run_over(env, s, step, verified);
}

}  // namespace imgbuild::builder
