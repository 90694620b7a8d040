#pragma once
// The one place where an image plus run options become a runtime::ContainerSpec: `run`,
// `create`/`start` (through the container record) and the builder's RUN step all call
// make_container_spec, so the command, environment, working dir, user and rootfs of a
// container are decided the same way everywhere.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container.h"

namespace imgbuild::builder {

struct RunOptions {
    // The whole command (a RUN step, a container record); otherwise entrypoint + cmd.
    std::optional<std::vector<std::string>> argv;
    std::optional<std::vector<std::string>> entrypoint;  // --entrypoint (replaces the image's)
    std::vector<std::string> cmd;                        // replaces the image's Cmd when not empty
    // The whole environment (a RUN step, a record); otherwise HOSTNAME, the image's Env,
    // then extra_env (K=V sets; a bare K copies the caller's value when it has one).
    std::optional<std::vector<std::string>> env;
    std::vector<std::string> extra_env;
    std::string workdir;                                 // "" = the image's WorkingDir, else /
    std::optional<std::string> user;                     // unset = the image's User
    std::string hostname;                                // "" = hostname_default
    std::string hostname_default = "container";
    runtime::NetworkMode network = runtime::NetworkMode::private_;
    runtime::Limits limits;
    std::vector<runtime::BindMount> binds;
    std::vector<runtime::TmpfsMount> tmpfs;
    bool tty = false, interactive = false, init = false;
};

// `image_config` is the image config's "config" object (Entrypoint, Cmd, Env, WorkingDir,
// User); `dir` gets upper/ work/ merged/ init/ (created here when missing). Throws
// UsageError when there is no command at all.
[[nodiscard]] runtime::ContainerSpec make_container_spec(const std::vector<std::filesystem::path>& lower_dirs,
                                                         const nlohmann::json& image_config, const RunOptions& options,
                                                         const std::filesystem::path& dir,
                                                         const std::filesystem::path& short_links_dir);

// HOSTNAME, image env, then the flags (exposed for tests).
[[nodiscard]] std::vector<std::string> merge_env(const std::vector<std::string>& image_env, const std::string& hostname,
                                                 const std::vector<std::string>& flags);

}  // namespace imgbuild::builder
