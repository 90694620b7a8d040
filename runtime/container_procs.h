#pragma once
// A running container seen from the host through /proc: the processes of its pid
// namespace (`top`, `pause` on cgroup v1) and the cgroup directories it is in.
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/cgroup_paths.h"

namespace imgbuild::runtime {

// Every process in the pid namespace of `pid` (pid included), as host pids, sorted.
[[nodiscard]] std::vector<pid_t> processes_in_pid_namespace_of(pid_t pid);

// The cgroup directories of `pid` (from /proc/<pid>/cgroup, on the mounts of
// /proc/self/mountinfo: cgroup_paths.h) whose last component is `leaf` (the container's
// cgroup name): what is left to remove when the container ends. Pure part below; unit-tested.
[[nodiscard]] std::vector<std::string> process_cgroup_dirs(pid_t pid, const std::string& leaf);
[[nodiscard]] std::vector<std::string> cgroup_dirs_from(const std::vector<CgroupHierarchy>& hierarchies,
                                                        const std::string& leaf);
// Where create_cgroup(`name`) of this process would put the cgroup, on every hierarchy
// (container_cgroup_dir of cgroup_paths.h, the function cgroup_v1.cpp creates them with;
// most will not be made): recorded before the cgroup exists, so that a kill between its
// mkdir and the record of the real dirs still leaves the next store open something to
// remove (container_cleanup.h).
[[nodiscard]] std::vector<std::string> planned_cgroup_dirs(const std::string& name);
[[nodiscard]] std::vector<std::string> planned_cgroup_dirs_from(const std::vector<CgroupHierarchy>& own,
                                                                const std::string& name, bool unified_host);

// rmdir of each directory (missing is fine; retries EBUSY right after the last task left).
void remove_cgroup_dirs(const std::vector<std::string>& dirs);

struct ProcessInfo {
    pid_t pid = 0, ppid = 0;
    uid_t uid = 0;
    unsigned long long cpu_ticks = 0;  // utime + stime
    std::string command;               // cmdline with spaces, or [comm]
};
[[nodiscard]] ProcessInfo process_info(pid_t pid);

}  // namespace imgbuild::runtime
