#pragma once
// Edits of the image config that Dockerfile instructions make (the "config" object of an
// OCI image config, with Docker's field names), and the history entries they leave.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parser/instructions.h"

namespace imgbuild::builder {

inline constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The config a build starts from for `FROM scratch`.
[[nodiscard]] nlohmann::json scratch_config();

// A base image's config made ready for a new stage: history and rootfs kept, a PATH added
// when the image has none (as Docker does), fields of the old container dropped.
[[nodiscard]] nlohmann::json stage_config_from_base(const nlohmann::json& base);

// Applies an expanded config-only instruction (ENV, LABEL, EXPOSE, USER, VOLUME, CMD,
// ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER, WORKDIR's path). `cmd_set`
// tracks whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD).
void apply_config_instruction(nlohmann::json& image_config, const parser::Instruction& instr, bool& cmd_set);

// The argv of a RUN/CMD/ENTRYPOINT command: exec form as is, shell form through SHELL.
[[nodiscard]] std::vector<std::string> command_argv(const parser::Command& cmd, const nlohmann::json& image_config);

// Appends a history entry; empty_layer when the step made no layer.
void add_history(nlohmann::json& image_config, const std::string& created, const std::string& created_by, bool empty_layer);

// "/a/b" joined with a WORKDIR path the way Docker does (relative paths are relative to the
// current WORKDIR), cleaned: the directory to create and to resolve COPY destinations in.
[[nodiscard]] std::string join_workdir(const std::string& current, const std::string& path);

// The WorkingDir a WORKDIR records, as Docker does: an absolute path as written (not
// cleaned), a relative one joined to the current WORKDIR and cleaned.
[[nodiscard]] std::string workdir_value(const std::string& current, const std::string& path);

}  // namespace imgbuild::builder
