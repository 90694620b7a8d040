#pragma once
// The container's mounts as data (bubblewrap style): build_mount_plan() turns a spec into
// an ordered list of operations without touching the kernel (unit-tested without root);
// apply_mount_plan() (mounts_apply.h) performs them with one switch.
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/container.h"

namespace imgbuild::runtime {

enum class MountOpKind {
    mount_fs,     // mount(source, target, fstype, flags, data): proc, tmpfs, devpts, sysfs, ...
    bind,         // bind mount a host path (recursive); a later remount_ro may follow
    remount_ro,   // make the mount at target read-only, keeping its nosuid/nodev/noexec
    symlink,      // create a symlink at target pointing to source
    mask,         // hide target: /dev/null over a file, an empty read-only tmpfs over a dir
    readonly,     // bind target onto itself, read-only
};

[[nodiscard]] const char* to_string(MountOpKind kind);

struct MountOp {
    MountOpKind kind = MountOpKind::mount_fs;
    std::string target;        // absolute path inside the container root
    std::string source;        // host path (bind), fs source name (mount_fs), link text (symlink)
    std::string fstype;
    unsigned long flags = 0;   // MS_* for mount_fs, bind and remount_ro
    std::string data;
    dev_t device = 0;          // bind of a device node: the source must be this char device
    bool target_is_dir = true; // what to create when the target is missing
    // System mount points (/proc, /dev, /sys): the target must be a real directory of the
    // image reached without any symlink; an image whose /proc is a symlink is refused.
    bool no_symlinks = false;
    bool optional = false;     // a missing target is skipped (masked paths, ro paths)
    // The target is a name the plan's own fresh mount holds nothing under yet (a device node
    // on the new /dev tmpfs): made with one exclusive create instead of looked up first (the
    // usual way is still taken when something is there after all).
    bool target_new = false;
};

// What the plan depends on besides the spec (host facts found at run time).
struct MountPlanInput {
    bool rootless = false;
    NetworkMode network = NetworkMode::private_;
    bool cgroup2 = false;            // host has a unified cgroup hierarchy: mount it ro
    fs::path init_dir;               // hosts, hostname, resolv.conf come from here
    std::vector<BindMount> binds;
    std::vector<TmpfsMount> tmpfs;
};

[[nodiscard]] MountPlanInput plan_input_from_spec(const ContainerSpec& spec, bool cgroup2);

// The ordered list of operations: /proc, /dev and its nodes, /dev/pts, shm, mqueue, /sys,
// the init files, the spec's binds (parents before children), then the masked and
// read-only /proc and /sys paths that Docker uses.
[[nodiscard]] std::vector<MountOp> build_mount_plan(const MountPlanInput& input);

// One line per operation ("mount proc on /proc type proc (nosuid,nodev,noexec)").
[[nodiscard]] std::string describe(const MountOp& op);

// Docker's masked and read-only paths.
[[nodiscard]] const std::vector<std::string>& masked_paths();
[[nodiscard]] const std::vector<std::string>& readonly_paths();

}  // namespace imgbuild::runtime
