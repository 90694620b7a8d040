#pragma once
// pause/unpause: the cgroup freezer. On cgroup v2 the container's own cgroup has
// cgroup.freeze. On v1 a container has cgroups only in the hierarchies that carry a limit,
// so pausing makes a freezer cgroup <freezer>/<its freezer path>/imgbuild/<name>, moves
// every process of the container's pid namespace into it and freezes it; processes forked
// meanwhile are caught by re-scanning until none is left outside (a task moved into a
// frozen cgroup freezes).
#include <sys/types.h>

#include <string>
#include <vector>

namespace imgbuild::runtime {

// Freezes the container whose PID 1 is `pid`. `cgroup_dirs` are its cgroup directories
// (state.json); a v1 freezer directory made here is appended (remove it when the container
// ends). Returns when every task is frozen; throws Error naming the file otherwise.
void freeze_container(pid_t pid, const std::string& cgroup_name, std::vector<std::string>& cgroup_dirs);
void thaw_container(pid_t pid, const std::vector<std::string>& cgroup_dirs);

}  // namespace imgbuild::runtime
