#pragma once
// Detached containers (`run -d`, `start`): a small monitor process in the shape of conmon
// holds the container. The caller forks; the child calls setsid and forks again, so the
// monitor has no parent to wait on it, no controlling terminal and its own session: it
// survives the exit and a kill of the caller. It is not a daemon: one monitor per
// container, gone when the container is.
//
// The monitor runs run_container (the container is its child, with PDEATHSIG: a killed
// monitor takes the container with it), writes the container's stdout/stderr to the log
// (container_log.h), forwards the published ports (port_forward.h) and calls the hooks.
// When run_container returns, every mount (they live in the container's mount namespace)
// and the runtime's cgroup are gone already; on_exit records the end and removes the rest.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "runtime/container.h"
#include "runtime/port_forward.h"

namespace imgbuild::runtime {

struct DetachedOptions {
    std::string log_path;
    std::vector<Forward> forwards;   // listeners made by the caller, moved into the monitor
    // Run in the monitor. on_started: the command was exec'ed (pid as the host sees it).
    // on_exit: the container is gone; `status` as run_container returns it, `error` set
    // when imgbuild itself failed (status 125).
    std::function<void(pid_t pid, pid_t monitor_pid)> on_started;
    std::function<void(int status, const std::string& error)> on_exit;
};

struct DetachedResult {
    bool started = false;   // the command runs; otherwise `status` and `error` say why not
    pid_t pid = 0;
    pid_t monitor_pid = 0;
    int status = 0;         // 125 (setup failure: error says what), 126, 127
    std::string error;
};

// Starts the monitor and returns once the command has been exec'ed or has failed to start.
// The caller's own fds are not inherited by the monitor (it keeps only the listeners).
[[nodiscard]] DetachedResult start_detached(const ContainerSpec& spec, DetachedOptions options);


}  // namespace imgbuild::runtime
