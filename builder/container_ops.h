#pragma once
// Container lifecycle over the store's records (layerstore/containers.h) and the runtime
// (runtime/detached.h, exec_join.h, freezer.h): what `create`, `start`, `run`, `stop`,
// `kill`, `rm`, `wait`, `pause` do, so that cli/ verbs only parse and print. It lives in
// builder/ because this is the module that sees both the store and the runtime
// (docs/architecture.md).
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/container_spec.h"
#include "layerstore/containers.h"
#include "layerstore/store.h"
#include "layerstore/volumes.h"

namespace imgbuild::runtime {
class StartAhead;
}

namespace imgbuild::builder {

// The record's state, corrected for a monitor that died: a container recorded as running
// whose monitor is gone (or is another process now) is exited (and recorded so).
[[nodiscard]] layerstore::ContainerState current_state(const layerstore::Containers& containers, const std::string& id);

// The runtime spec of a recorded container (its layers, command, mounts, limits). Its
// layers are verified for use (layerstore/layers.h) first; with `unchecked`, they are not
// but added there, for the caller to check before the command runs.
[[nodiscard]] runtime::ContainerSpec spec_from_record(const layerstore::Store& store,
                                                      const layerstore::ContainerConfig& config,
                                                      std::vector<layerstore::LayerInfo>* unchecked = nullptr);

// The container's cgroup name ("imgbuild-" + 24 hex of the id).
[[nodiscard]] std::string cgroup_name(const std::string& id);

struct StartOutcome {
    bool started = false;
    int status = 0;       // when not started: 125, 126, 127
    std::string error;
};

// Starts a created or exited container under a detached monitor; returns once its command
// runs (or failed to start).
[[nodiscard]] StartOutcome start_detached_container(const layerstore::Store& store, const std::string& id);

// Runs a container in the foreground of the calling process (which is then its monitor):
// output goes to the caller's stdout/stderr, and to the log unless `log` is false.
// Returns the exit status. `ahead`, when given, holds what was made for this container before
// its record (runtime/start_ahead.h): its network namespace (used when its network is none)
// and its cgroup (used when its name and limits are the record's); not used rootless.
[[nodiscard]] int run_foreground_container(const layerstore::Store& store, const std::string& id, bool log,
                                           bool attach_stdout = true, bool attach_stderr = true,
                                           runtime::StartAhead* ahead = nullptr);

// Signal names and numbers: "KILL", "SIGKILL", "9".
[[nodiscard]] int parse_signal(std::string_view text);
[[nodiscard]] std::string signal_name(int sig);

void kill_container(const layerstore::Containers& containers, const std::string& id, int sig);
// STOPSIGNAL (or SIGTERM), then SIGKILL after `timeout` seconds; returns when the
// container is gone and its state recorded.
void stop_container(const layerstore::Containers& containers, const std::string& id, std::optional<int> timeout);
// Blocks until the container has exited; returns its exit code.
[[nodiscard]] int wait_container(const layerstore::Containers& containers, const std::string& id);
// -f kills a running container first; `volumes` also removes its anonymous volumes.
void remove_container(const layerstore::Store& store, const std::string& id, bool force, bool volumes);
void pause_container(const layerstore::Containers& containers, const std::string& id);
void unpause_container(const layerstore::Containers& containers, const std::string& id);

// Lets the running container's state be read consistently: frozen while `f` runs when it
// is running and `pause`, as a commit does.
void with_container_paused(const layerstore::Containers& containers, const std::string& id, bool pause,
                           const std::function<void()>& f);

// The state of a running container or throws Error("container X is not running").
[[nodiscard]] layerstore::ContainerState running_state(const layerstore::Containers& containers, const std::string& id);

}  // namespace imgbuild::builder
