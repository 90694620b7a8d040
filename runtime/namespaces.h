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

// Flags for clone3: pid, mnt, uts, ipc, net (unless network host), user (rootless).
// The cgroup namespace is not among them: the child unshares it after joining its cgroup,
// so that its own cgroup is the namespace root.
[[nodiscard]] unsigned long clone_namespace_flags(const ContainerSpec& spec);

// "pid,mnt,uts" for messages.
[[nodiscard]] std::string describe_namespaces(unsigned long flags);

// Writes /proc/<pid>/{uid_map,setgroups,gid_map} for a rootless container. Maps default
// to the caller's uid/gid as container root.
void write_id_maps(pid_t pid, const ContainerSpec& spec);

// Brings up lo in the current network namespace (ioctl, no `ip`).
void bring_up_loopback();

}  // namespace imgbuild::runtime
