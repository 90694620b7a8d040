#pragma once
// A helper thread that takes no signal: every signal is blocked in it from its first
// instruction (the mask is set around its creation, so it inherits the full mask), so
// signals meant for the process (a Ctrl-C forwarded to a container, SIGCHLD) keep going to
// the threads that wait for them. For work done beside a start or a step: a stamp walk, a
// network namespace, an overlay superblock.
#include <functional>
#include <thread>

namespace imgbuild {

// Starts `work` on a new thread with every signal blocked; throws what std::thread throws.
[[nodiscard]] std::thread start_helper_thread(std::function<void()> work);

}  // namespace imgbuild
