#pragma once
// A RUN step's container while other stages build on other threads.
//
// The runtime starts a container with a raw clone3, which skips glibc's fork handlers: the
// child inherits every lock another thread held at that instant (a malloc arena, stdio)
// and would hang on the first allocation that needs it. The runtime is safe from a
// single-threaded process only (the terminal progress view's ticker thread never
// allocates for that reason). So with parallel stages a RUN goes through a helper made
// with fork(2) — glibc resets its malloc and stdio locks in the child — which is single
// threaded and runs the container as a sequential build would, forwarding the signals it
// gets to it. The container writes its output straight into pipes that the stage's
// thread reads and hands to spec.on_output.
#include <atomic>

#include "runtime/container.h"

namespace imgbuild::builder {

// As runtime::run_container(spec) (the command's exit status; Error when it could not be
// started), run from a forked helper. When `cancelled` turns true the container gets
// SIGTERM (forwarded by the helper) and its status is returned as the command's.
[[nodiscard]] int run_container_in_subprocess(runtime::ContainerSpec spec, const std::atomic<bool>* cancelled);

}  // namespace imgbuild::builder
