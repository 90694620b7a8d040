#pragma once
// Processes: whether a recorded process is still the one that was recorded (a pid alone can
// be reused by an unrelated process, the pair (pid, start time) cannot), and the one way
// children are waited for and their end turned into a status.
#include <sys/types.h>
#include <sys/wait.h>

#include <cstdint>
#include <string>

namespace imgbuild {

// Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 when the process does not exist
// or is a zombie (dead for our purposes: it holds nothing any more).
[[nodiscard]] uint64_t process_start_time(pid_t pid);

// True while `pid` runs and started at `start_time`.
[[nodiscard]] bool process_is(pid_t pid, uint64_t start_time);

// The status a shell reports for a child that ended: its exit code, or 128 + N when signal N
// killed it (docker run, sh). 125 (the runtime's own failure) for a stopped/continued report.
[[nodiscard]] int shell_status(int wait_status);
[[nodiscard]] int shell_status(const siginfo_t& info);

// "exit 3" or "signal 9 (Killed)" for a waitpid status, for error messages.
[[nodiscard]] std::string describe_wait_status(int wait_status);

// Waits for child `pid` to end, retrying on EINTR, and returns its waitpid status.
// Throws SystemError "waitpid <what>: E..." on any other failure.
int wait_for_child(pid_t pid, const std::string& what);

// Waits for the process of `pidfd` to end (waitid P_PIDFD), retrying on EINTR, and returns
// its shell_status. Throws SystemError "waitid <what>: E..." on any other failure.
int wait_for_pidfd(int pidfd, const std::string& what);

// Reaps the process of `pidfd` if it has ended, without blocking. True when it has ended or
// there is nothing left to wait for (an error such as ECHILD).
[[nodiscard]] bool reap_if_ended(int pidfd);

}  // namespace imgbuild
