#pragma once
// Where a cgroup is on disk, computed once for everything that needs it: the cgroups a
// container gets (cgroup_v1.cpp), the dirs recorded for it before it starts and those read
// back from its process (container_procs.h).
//
// /proc/<pid>/cgroup names a cgroup by its path in each hierarchy ("4:memory:/a/b");
// /proc/self/mountinfo says where each hierarchy is mounted and which of its cgroups that
// mount shows as its root: "/" on most hosts, but the container's own cgroup inside a
// container whose /sys/fs/cgroup is a bind mount of it (docker with a host cgroup
// namespace, systemd-nspawn), where /proc still gives the full path. The directory is the
// mountpoint joined with the path made relative to that root.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::runtime {

struct CgroupHierarchy {
    std::string controllers;           // as /proc/<pid>/cgroup names them: "cpu,cpuacct", "name=systemd", "" (unified)
    std::string path;                  // the process's cgroup in it: "/a/b"
    std::filesystem::path mountpoint;  // empty when this hierarchy is not mounted here
    std::string root = "/";            // the mount's root within the hierarchy
};

// Pure (unit-tested): each line of `proc_cgroup` paired with the mount of its hierarchy
// found in `mountinfo` (a v1 mount carries the controllers, or name=..., in its super
// options; the unified one is the cgroup2 mount).
[[nodiscard]] std::vector<CgroupHierarchy> cgroup_hierarchies_from(const std::string& proc_cgroup,
                                                                   const std::string& mountinfo);
// The same for a live process (/proc/<pid>/cgroup, /proc/self/mountinfo); {} when unreadable.
// pid 0 is this process, read once per process.
[[nodiscard]] std::vector<CgroupHierarchy> cgroup_hierarchies_of(pid_t pid);

// The hierarchy that carries `controller` ("memory"; "" for the unified one), or null.
[[nodiscard]] const CgroupHierarchy* find_hierarchy(const std::vector<CgroupHierarchy>& hierarchies,
                                                    std::string_view controller);

// The directory of the cgroup `path` of `h`; nullopt when `h` is not mounted or `path` lies
// outside the mount's root (it cannot be reached through this mount).
[[nodiscard]] std::optional<std::filesystem::path> cgroup_dir(const CgroupHierarchy& h, const std::string& path);

// The directory create_cgroup(`name`) gives a container on `h` of a process in `h.path`:
// <own cgroup>/imgbuild/<name> on the v1 hierarchies and on a hybrid host's unified one;
// <mount's root>/imgbuild/<name> on a cgroup v2 host (`unified_host`: see cgroup_v2.cpp).
[[nodiscard]] std::optional<std::filesystem::path> container_cgroup_dir(const CgroupHierarchy& h, const std::string& name,
                                                                        bool unified_host);

}  // namespace imgbuild::runtime
