#pragma once
// Rootless cgroups: the cgroup v2 subtree systemd delegates to a user (user@UID.service with
// Delegate=yes, or a `systemd-run --user --scope -p Delegate=yes`), found by looking at the
// files, as the kernel's delegation model defines it (Documentation/admin-guide/cgroup-v2.rst,
// "Delegation"): the delegatee owns the directory and its cgroup.procs and
// cgroup.subtree_control; the controllers its children may use are those in its
// cgroup.subtree_control.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::runtime {

struct CgroupDelegation {
    // The delegated directory (the topmost ancestor of our own cgroup that we own), empty
    // when there is none.
    std::filesystem::path dir;
    // Controllers enabled for its children (its cgroup.subtree_control), among cpu, memory, pids.
    std::vector<std::string> controllers;
    // When `dir` is empty, or lacks a controller: why, for the refusal message
    // ("this host has cgroup v1 (no unified hierarchy)", ...).
    std::string problem;

    [[nodiscard]] bool has(std::string_view controller) const;
};

// Pure over a directory tree (unit-tested on fake trees): `cgroup_root` is where cgroups are
// mounted (/sys/fs/cgroup); the unified hierarchy is cgroup_root itself when it has a
// cgroup.controllers (v2), else cgroup_root/unified (hybrid), else there is none (v1).
// `proc_self_cgroup` is the text of /proc/self/cgroup (its "0::" line names our cgroup),
// `owner` our uid as stat shows it (in the rootless user namespace: 0), `mount_root` the cgroup
// the unified mount shows as its root (mountinfo; not "/" inside some containers).
[[nodiscard]] CgroupDelegation find_cgroup_delegation(const std::filesystem::path& cgroup_root,
                                                      const std::string& proc_self_cgroup, uid_t owner,
                                                      const std::string& mount_root = "/");

// The same for this process: /sys/fs/cgroup, /proc/self/cgroup, geteuid(), the mount root
// from /proc/self/mountinfo.
[[nodiscard]] CgroupDelegation find_own_cgroup_delegation();

}  // namespace imgbuild::runtime
