#pragma once
// The tiny init (ContainerSpec::init, docker --init): PID 1 of the container forks the
// command, forwards every catchable signal to it, reaps every zombie and exits with the
// command's status. It is the cloned child that never execs, made non-dumpable before
// any container process exists, so nothing in the container (no CAP_SYS_PTRACE) can open
// /proc/1/exe — the host binary (CVE-2019-5736) — or touch its memory.
#include <sys/types.h>

#include <csignal>

namespace imgbuild::runtime {

// Blocks every signal (call before fork so that none is lost before run_init waits).
void block_all_signals(sigset_t* previous);

// Waits for signals until `child` exits; forwards the rest to it. Never returns.
[[noreturn]] void run_init(pid_t child);

}  // namespace imgbuild::runtime
