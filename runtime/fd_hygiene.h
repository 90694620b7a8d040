#pragma once
// Inherited file descriptors (CVE-2024-21626): whatever fds the caller of imgbuild left
// open (a directory fd 7 of the host, a leaked socket) must never reach the container,
// not even for the few syscalls before execve: a container cwd of /proc/self/fd/7 would
// be the host's directory. The child closes every fd it does not need first thing.
#include <utility>
#include <vector>

namespace imgbuild::runtime {

// The [first, last] ranges of fds to close so that only `keep` (any order, duplicates and
// negative entries allowed) stays open; the last range ends at ~0U. Pure; unit-tested.
[[nodiscard]] std::vector<std::pair<unsigned, unsigned>> fd_close_ranges(std::vector<int> keep);

// close_range over those ranges. Throws SystemError on failure.
void close_fds_except(const std::vector<int>& keep);

}  // namespace imgbuild::runtime
