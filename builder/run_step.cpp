// RUN: the command runs through the runtime over an overlay of the stage's layers; the
// overlay upper dir becomes the new layer as is (moved, not copied).
#include <fcntl.h>

#include <chrono>
#include <filesystem>

#include "builder/build_state.h"
#include "builder/container_process.h"
#include "builder/container_spec.h"
#include "builder/image_config.h"
#include "builder/run_dir.h"
#include "builder/run_mounts.h"
#include "builder/run_network.h"
#include "builder/stage_networks.h"
#include "common/error.h"
#include "runtime/container.h"

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

uint64_t run_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step) {
    const auto& run = *step.instruction.as<parser::Run>();
    const nlohmann::json& cfg = s.config["config"];
    std::string network = run_network(env.opts, run, step.instruction, env.parsed.filename);

    RunDir dir(env.store, env.run_dir, run.mounts.empty());
    RunOptions options;
    options.argv = run_argv(run, s.config);
    options.env = step.visible().to_list();
    options.user = cfg.value("User", "");
    options.hostname = "imgbuild";
    options.network = runtime::parse_network_mode(network);
    RunMounts mounts(env, s, step, dir.path());  // held until the container is gone
    mounts.add_to(options);
    std::vector<fs::path> lowers;
    for (const auto& l : s.layers) lowers.push_back(verified_lower(env, l));
    runtime::ContainerSpec spec = make_container_spec(lowers, cfg, options, dir.path(), env.store.short_links_dir());
    spec.forward_signals = true;
    if (run.mounts.empty()) {  // no --mount stub goes into its init layer: the store's shared one does
        spec.shared_init_layer = env.store.init_layer_dir();
        spec.shared_init_staging_dir = env.store.tmp_dir();
    }
    if (env.networks) spec.join_netns_fd = env.networks->join_fd(spec.network, env.store);
    unique_fd devnull = open_or_throw("/dev/null", O_RDONLY);
    spec.stdin_fd = devnull.get();
    int step_no = env.step;
    spec.on_output = [&env, step_no](int stream, std::string_view data) { env.progress.output(step_no, stream, data); };

    int status = env.container_in_subprocess ? run_container_in_subprocess(spec, env.cancelled)
                                             : runtime::run_container(spec);
    if (status != 0) throw Error(env.step_label(step.instruction) + ": exit code " + std::to_string(status));
    return commit_upper(env, s, spec.upper_dir);
}

}  // namespace imgbuild::builder
