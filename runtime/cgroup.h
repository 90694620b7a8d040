#pragma once
// A cgroup per container with cpu, memory and pids limits, on the unified hierarchy
// (cgroup v2) or on the v1 hierarchies (legacy and hybrid hosts), detected at run time.
//
// The container's first process joins by writing "0" into the v1 tasks files whose fds
// it inherits (open_procs; on v2 it is cloned into its cgroup), then unshares its cgroup namespace, so that inside the
// container its own cgroup is "/". The Cgroup object removes its directories when destroyed
// (after the container's processes are gone).
#include <memory>
#include <string>
#include <vector>

#include "common/cgroup_dir.h"
#include "common/unique_fd.h"
#include "runtime/cgroup_delegation.h"
#include "runtime/container.h"

namespace imgbuild::runtime {

enum class CgroupVersion { v1, v2 };

[[nodiscard]] CgroupVersion detect_cgroup_version();

// Whether a pids controller can limit containers here (v2: offered at the root; v1:
// mounted, per /proc/cgroups).
[[nodiscard]] bool have_pids_controller(CgroupVersion version);

// `limits` with the default pids limit filled in when unset and a controller exists.
[[nodiscard]] Limits effective_limits(const Limits& limits, bool rootless, CgroupVersion version);

// Whether `limits` asks for anything a cgroup must enforce (an unlimited pids request, <= 0,
// asks nothing).
[[nodiscard]] bool asks_for_limits(const Limits& limits);

// Rootless: throws UsageError naming the first limit asked for whose controller the
// delegation lacks ("--memory needs cgroup v2 delegation of the memory controller ... (why)"),
// since a limit that is silently not applied is worse than none. Pure.
void refuse_rootless_limits(const Limits& limits, const CgroupDelegation& delegation);

// One value to write: a file name per hierarchy and the text, in order (v1 needs the
// period before the quota, memory.limit_in_bytes before memory.memsw.limit_in_bytes).
struct CgroupSetting {
    std::string controller;  // v1 hierarchy ("cpu", "memory", "pids"); unused on v2
    std::string file;        // "cpu.max", "memory.limit_in_bytes", ...
    std::string value;
    bool optional = false;   // missing file is fine (memsw without swap accounting, swap.max)
};

// The settings for `limits` on a hierarchy version (pure; unit-tested).
[[nodiscard]] std::vector<CgroupSetting> cgroup_settings(const Limits& limits, CgroupVersion version);

class Cgroup {
public:
    virtual ~Cgroup() = default;
    // A directory fd for clone3(CLONE_INTO_CGROUP) (v2): the child starts in the cgroup,
    // with no migration. -1 when the child must join by itself (v1).
    [[nodiscard]] virtual int clone_into_fd() const { return -1; }
    // Open O_WRONLY fds (close-on-exec) for the child to write "0" into: v1 "tasks" files.
    // Moving the calling thread alone skips the global threadgroup lock (and its RCU grace
    // period, 5-15 ms) that a cgroup.procs write takes: ~30 us. The child is single-threaded,
    // so that moves the whole process. Only the hierarchies that carry a limit (or the
    // devices controller) are used on v1.
    [[nodiscard]] virtual std::vector<unique_fd> open_procs() const = 0;
};

// Creates the cgroup `name` with `limits` set; throws Error naming the file on failure.
// With `device_filter`, the container may open only the devices of devices.h: through a
// BPF program on the unified hierarchy (v2, or hybrid's /sys/fs/cgroup/unified), else the
// v1 devices controller.
[[nodiscard]] std::unique_ptr<Cgroup> create_cgroup(const std::string& name, const Limits& limits,
                                                    bool device_filter = true);

// Rootless: no cgroup when no limit is asked for; else the container's cgroup in the
// delegated subtree (<delegated>/imgbuild/<name>), or the refusal above.
[[nodiscard]] std::unique_ptr<Cgroup> create_rootless_cgroup(const std::string& name, const Limits& limits);

// The cgroup run_container makes for `spec` when it is given none: spec.cgroup_name (or a
// random "imgbuild-" name), the spec's limits with the default pids limit, the device filter;
// rootless, create_rootless_cgroup's (null when no limit is asked for). For a caller that
// runs several containers in one (ContainerSpec::cgroup).
[[nodiscard]] std::unique_ptr<Cgroup> create_container_cgroup(const ContainerSpec& spec);

// Internals shared by the two implementations.
namespace cgroup_detail {
// Throws Error unless `name` is one path component.
void check_name(const std::string& name);
void write_setting(const fs::path& dir, const CgroupSetting& s);
// automatic: the BPF program on the unified mount when there is one, else (or when that
// fails) the v1 devices controller; v1_controller: the latter (tests of pure v1 hosts).
enum class DeviceMechanism { automatic, v1_controller };
std::unique_ptr<Cgroup> create_v1(const std::string& name, const Limits& limits, bool device_filter,
                                  DeviceMechanism devices = DeviceMechanism::automatic);
std::unique_ptr<Cgroup> create_v2(const std::string& name, const Limits& limits, bool device_filter);
// The same under `top` (a delegated subtree) instead of the hierarchy's root.
std::unique_ptr<Cgroup> create_v2_in(const fs::path& top, const std::string& name, const Limits& limits,
                                     bool device_filter);
}  // namespace cgroup_detail

}  // namespace imgbuild::runtime
