#pragma once
// `exec`: a new process in a running container. It joins every namespace of the
// container's PID 1 that differs from ours (setns: user, cgroup, ipc, uts, net, pid, mnt)
// and its cgroups, takes its root (/proc/<pid>/root), then goes the same way as the
// container's own command: user from the image's /etc/passwd, bounding set, Docker's
// capabilities, no_new_privs, seccomp, cwd, execve.
//
// The calling process joins the container's pid namespace for its children only
// (setns(CLONE_NEWPID) changes what fork creates), so the exec'ed process is our direct
// child: its exit status comes back through a pidfd, signals are forwarded as for `run`,
// and with a tty the pty comes from the container's own devpts and is proxied here.
// The caller must be single-threaded (setns of a mount namespace requires it).
#include <sys/types.h>

#include <string>
#include <vector>

namespace imgbuild::runtime {

struct ExecSpec {
    pid_t target = 0;                        // the container's PID 1 (host pid)
    std::vector<std::string> cgroup_dirs;    // joined before the namespaces
    std::vector<std::string> argv;
    std::vector<std::string> env;            // "K=V"; PATH and HOME are added when missing
    std::string cwd = "/";
    std::string user;
    bool tty = false, interactive = false;
    bool detach = false;                     // return at once; the process is reaped by the container's PID 1
    int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
};

// Runs the process; returns its exit status (128+N for signal N; 126/127 when it cannot be
// executed / is not found; 0 at once with detach). Throws Error when the container cannot
// be joined.
[[nodiscard]] int exec_in_container(const ExecSpec& spec);

}  // namespace imgbuild::runtime
