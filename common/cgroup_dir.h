#pragma once
// Removing a container's cgroup directory, shared by the runtime (a container's end) and the
// layer store (the next store open after a kill, container_cleanup.h), which must not
// depend on the runtime.
#include <filesystem>

namespace imgbuild {

// rmdir of an (empty) cgroup directory: a missing one is fine; the short EBUSY window right
// after its last task was reaped is retried. On failure it warns (best effort: a leftover
// cgroup is reported, not worth failing a run for) and returns false.
bool remove_cgroup_dir(const std::filesystem::path& dir);

}  // namespace imgbuild
