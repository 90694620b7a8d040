// Limits of rootless containers: applied in a delegated cgroup v2 subtree when systemd gives
// one with the controllers asked for, else refused with a clear error, never dropped in silence.
#include "common/error.h"
#include "runtime/cgroup.h"

namespace imgbuild::runtime {
namespace {

struct Asked {
    const char* flag;
    const char* controller;
};

// The limits asked for, each with the controller it needs.
std::vector<Asked> asked_limits(const Limits& limits) {
    std::vector<Asked> out;
    if (limits.memory_bytes) out.push_back({"--memory", "memory"});
    if (limits.cpu_quota_us || limits.cpu_period_us) out.push_back({"--cpus/--cpu-quota", "cpu"});
    if (limits.pids && *limits.pids > 0) out.push_back({"--pids-limit", "pids"});
    return out;
}

}  // namespace

bool asks_for_limits(const Limits& limits) { return !asked_limits(limits).empty(); }

void refuse_rootless_limits(const Limits& limits, const CgroupDelegation& delegation) {
    for (const auto& a : asked_limits(limits)) {
        if (!delegation.dir.empty() && delegation.has(a.controller)) continue;
        throw UsageError(std::string(a.flag) + " needs cgroup v2 delegation of the " + a.controller +
                         " controller, which rootless imgbuild does not have here (" + delegation.problem +
                         "): run without the limit, or as root");
    }
}

std::unique_ptr<Cgroup> create_rootless_cgroup(const std::string& name, const Limits& limits) {
    if (!asks_for_limits(limits)) return nullptr;
    cgroup_detail::check_name(name);
    CgroupDelegation delegation = find_own_cgroup_delegation();
    refuse_rootless_limits(limits, delegation);
    // No device filter: attaching a BPF program needs privileges of the host's namespace;
    // a rootless container cannot open host devices it was not given anyway.
    return cgroup_detail::create_v2_in(delegation.dir, name, limits, false);
}

}  // namespace imgbuild::runtime
