// Limits of rootless containers: refused with a clear error, never dropped in silence.
#include "common/error.h"
#include "runtime/cgroup.h"

namespace imgbuild::runtime {

void refuse_rootless_limits(const Limits& limits, CgroupVersion version) {
    const char* asked = nullptr;
    if (limits.memory_bytes) asked = "--memory";
    else if (limits.cpu_quota_us || limits.cpu_period_us) asked = "--cpus/--cpu-quota";
    else if (limits.pids && *limits.pids > 0) asked = "--pids-limit";
    if (!asked) return;
    // A systemd-delegated cgroup v2 subtree would allow limits; imgbuild does not use one yet,
    // so the answer is the same on both hierarchies, only the reason differs.
    throw UsageError(std::string(asked) + " needs cgroup v2 delegation, which rootless imgbuild does not have here (" +
                     (version == CgroupVersion::v1 ? "this host has cgroup v1"
                                                   : "delegated cgroup subtrees are not used yet") +
                     "): run without the limit, or as root");
}

}  // namespace imgbuild::runtime
