#pragma once
// Whether a recorded process is still the one that was recorded: a pid alone can be reused
// by an unrelated process, the pair (pid, start time) cannot.
#include <sys/types.h>

#include <cstdint>

namespace imgbuild {

// Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 when the process does not exist
// or is a zombie (dead for our purposes: it holds nothing any more).
[[nodiscard]] uint64_t process_start_time(pid_t pid);

// True while `pid` runs and started at `start_time`.
[[nodiscard]] bool process_is(pid_t pid, uint64_t start_time);

}  // namespace imgbuild
