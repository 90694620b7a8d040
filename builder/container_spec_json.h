#pragma once
// A ContainerSpec as JSON, for the RUN helper process (builder/container_process.h), which
// is a fresh exec of imgbuild and gets its container's description on a pipe.
//
// The callbacks (on_output, on_started, before_exec) and the stdio fds are the process's own and are not
// part of it: the helper sets its own. Of join_netns_fd only whether it is set goes across
// (read back as 0 or -1); the helper gets the namespace as an fd of its own.
#include <string>

#include "runtime/container.h"

namespace imgbuild::builder {

[[nodiscard]] std::string container_spec_to_json(const runtime::ContainerSpec& spec);
// Throws Error naming `what` when the text is not a spec this build wrote.
[[nodiscard]] runtime::ContainerSpec container_spec_from_json(const std::string& text, const std::string& what);

}  // namespace imgbuild::builder
