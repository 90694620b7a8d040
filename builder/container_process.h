#pragma once
// A RUN step's container while other stages build on other threads.
//
// The runtime starts a container with a raw clone3, which skips glibc's fork handlers: the
// child inherits every lock another thread held at that instant (a malloc arena, stdio,
// OpenSSL's provider store) and would hang on the first call that needs it. The runtime is
// therefore used from single-threaded processes only. With parallel stages a RUN goes
// through a helper: a fresh exec of imgbuild itself (posix_spawn of /proc/self/exe, so
// nothing of this process's locks or threads reaches it), which reads the container's spec
// from a pipe, runs it as a sequential build would and forwards the signals it gets to it.
// The container writes its output straight into pipes that the stage's thread reads and
// hands to spec.on_output.
#include <atomic>

#include "runtime/container.h"

namespace imgbuild::builder {

// As runtime::run_container(spec) (the command's exit status; Error when it could not be
// started), run in a helper process. When `cancelled` turns true the container gets
// SIGTERM (forwarded by the helper) and its status is returned as the command's.
[[nodiscard]] int run_container_in_subprocess(runtime::ContainerSpec spec, const std::atomic<bool>* cancelled);

// The helper's side: `imgbuild <kContainerHelperVerb> <parent pid> <log level>`, with the
// spec on fd 3, the result written to fd 4, the container's stdout on fd 5 and stderr on
// fd 6 (its stdin is fd 0). Called by cli/main.cpp before any option parsing.
inline constexpr const char* kContainerHelperVerb = "__run-container-helper";
[[nodiscard]] int container_helper_main(int argc, char** argv);

}  // namespace imgbuild::builder
