#pragma once
// The container side of the start sequence (DESIGN.md §5), run by the cloned child.
// Everything it needs is prepared by the parent before clone (plan, option strings,
// seccomp program, fds), so the child only performs syscalls.
#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/container.h"
#include "runtime/mount_plan.h"
#include "runtime/overlay.h"

namespace imgbuild::runtime {

// What the child reports through the close-on-exec report pipe when it fails. A clean
// EOF on that pipe means execve succeeded.
struct ChildReport {
    int32_t status = 0;        // 125 setup failure, 126/127 exec failure
    char message[2040] = {};
};

// Every fd in here must also be kept by fds_to_keep() (child.cpp): the child closes all
// others before anything else.
struct ChildContext {
    const ContainerSpec* spec = nullptr;
    std::vector<MountOp> plan;
    OverlayMount overlay;
    int overlay_socket = -1;   // the parent sends `overlay` made (or a "mount it yourself") here
    std::vector<int> cgroup_procs_fds;  // v1 "tasks" files to write "0" into
    int report_fd = -1;        // write end of the report pipe
    int sync_fd = -1;          // read end: the parent's "uid/gid maps written" byte (rootless)
    int net_sync_fd = -1;      // the parent's "private network ready" byte (network_private.h)
    int exec_gate_fd = -1;     // the parent's "before_exec is done" byte (container.h)
    int join_netns_fd = -1;    // a kept network namespace to setns into (kept_network.h)
    int tty_socket = -1;       // child end of the socketpair the pty master goes through
    int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
    uint64_t capabilities = 0;
    int last_capability = 0;
    const std::vector<sock_filter>* seccomp = nullptr;
    bool new_netns = true;
};

// Writes `message` as a ChildReport to the report pipe and _exits with `status`: how a
// container's start and an exec tell the parent why they did not exec.
[[noreturn]] void report_and_exit(int report_fd, int status, const std::string& message);

// Never returns: execs the command or _exits with the reported status.
[[noreturn]] void child_main(const ChildContext& ctx);

}  // namespace imgbuild::runtime
