#pragma once
// Namespaces of a container: which ones, as clone flags, and the uid/gid maps of a
// user namespace (written by the parent).
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/container.h"

namespace imgbuild::runtime {

struct NamespaceInfo {
    const char* name;      // as in /proc/<pid>/ns/<name>
    unsigned long flag;    // CLONE_NEW*
};

// Every namespace kind a container may get, in the order the kernel documents them.
[[nodiscard]] const std::vector<NamespaceInfo>& namespace_table();

// Flags for clone3: pid, mnt, uts, ipc, net (unless network host or a kept network is
// joined), user (rootless with maps).
// The cgroup namespace is not among them: the child unshares it after joining its cgroup,
// so that its own cgroup is the namespace root.
[[nodiscard]] unsigned long clone_namespace_flags(const ContainerSpec& spec);

// Whether the child joins spec.join_netns_fd (setns) rather than getting a new netns:
// set, a network that is a namespace, and no new user namespace (`flags`) to own it.
[[nodiscard]] bool joins_kept_network(const ContainerSpec& spec, unsigned long flags);

// "pid,mnt,uts" for messages.
[[nodiscard]] std::string describe_namespaces(unsigned long flags);

// Writes /proc/<pid>/{uid_map,setgroups,gid_map} for a rootless container. Maps default
// to the caller's uid/gid as container root.
void write_id_maps(pid_t pid, const ContainerSpec& spec);

// Brings up lo in the current network namespace (ioctl, no `ip`).
void bring_up_loopback();

}  // namespace imgbuild::runtime
