#include "runtime/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace imgbuild::runtime {
namespace {

struct DeviceNode {
    const char* name;
    unsigned major, minor;
};

// The nodes every container gets (as Docker and the OCI spec's defaults).
constexpr DeviceNode kDevices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

struct DevLink {
    const char* name;
    const char* target;
};

constexpr DevLink kDevLinks[] = {
    {"/dev/ptmx", "pts/ptmx"},           {"/dev/fd", "/proc/self/fd"},     {"/dev/stdin", "/proc/self/fd/0"},
    {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"},
};

constexpr const char* kInitFiles[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};

struct FlagName {
    unsigned long flag;
    const char* name;
};

constexpr FlagName kFlagNames[] = {
    {MS_RDONLY, "ro"},     {MS_NOSUID, "nosuid"}, {MS_NODEV, "nodev"},         {MS_NOEXEC, "noexec"},
    {MS_BIND, "bind"},     {MS_REC, "rec"},       {MS_REMOUNT, "remount"},     {MS_STRICTATIME, "strictatime"},
};

MountOp fs_mount(std::string target, std::string fstype, unsigned long flags, std::string data) {
    MountOp op;
    op.kind = MountOpKind::mount_fs;
    op.source = fstype;
    op.target = std::move(target);
    op.fstype = std::move(fstype);
    op.flags = flags;
    op.data = std::move(data);
    return op;
}

MountOp system_mount(std::string target, std::string fstype, unsigned long flags, std::string data) {
    MountOp op = fs_mount(std::move(target), std::move(fstype), flags, std::move(data));
    op.no_symlinks = true;
    return op;
}

MountOp bind_op(std::string source, std::string target, bool is_dir) {
    MountOp op;
    op.kind = MountOpKind::bind;
    op.source = std::move(source);
    op.target = std::move(target);
    op.flags = MS_BIND | MS_REC;
    op.target_is_dir = is_dir;
    return op;
}

MountOp remount_ro_op(std::string target) {
    MountOp op;
    op.kind = MountOpKind::remount_ro;
    op.target = std::move(target);
    op.flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    return op;
}

size_t depth(const std::string& path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

void add_dev(std::vector<MountOp>& plan, bool rootless) {
    // /dev is nodev, like every writable mount of the container: a node the container
    // makes there (it keeps CAP_MKNOD) or finds in the image cannot be opened even where
    // the device cgroup is missing. The default nodes are the host's, bind-mounted (a bind
    // mount keeps the flags of the host's /dev), as rootless runc does; that also works in
    // a user namespace, where mknod is not allowed.
    constexpr unsigned long kDevFlags = MS_NOSUID | MS_NODEV | MS_STRICTATIME;
    plan.push_back(system_mount("/dev", "tmpfs", kDevFlags, "mode=755,size=65536k"));
    for (const auto& d : kDevices) {
        std::string target = std::string("/dev/") + d.name;
        MountOp op = bind_op(target, target, false);
        op.flags = MS_BIND;
        op.device = makedev(d.major, d.minor);  // checked against the host node when applied
        op.no_symlinks = true;
        op.target_new = true;
        plan.push_back(op);
    }
    // gid=5 (tty) only exists when host gids map 1:1.
    plan.push_back(fs_mount("/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                            rootless ? "newinstance,ptmxmode=0666,mode=0620" : "newinstance,ptmxmode=0666,mode=0620,gid=5"));
    plan.push_back(fs_mount("/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"));
    plan.push_back(fs_mount("/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
    for (const auto& l : kDevLinks) {
        MountOp op;
        op.kind = MountOpKind::symlink;
        op.target = l.name;
        op.source = l.target;
        plan.push_back(op);
    }
}

void add_sys(std::vector<MountOp>& plan, const MountPlanInput& in) {
    constexpr unsigned long kSysFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
    if (in.rootless && in.network == NetworkMode::host) {
        // sysfs can only be mounted by the owner of the network namespace.
        MountOp op = bind_op("/sys", "/sys", true);
        op.no_symlinks = true;
        plan.push_back(op);
        plan.push_back(remount_ro_op("/sys"));
    } else {
        plan.push_back(system_mount("/sys", "sysfs", kSysFlags, ""));
    }
    if (in.cgroup2) plan.push_back(fs_mount("/sys/fs/cgroup", "cgroup2", kSysFlags, ""));
}

void add_init_files(std::vector<MountOp>& plan, const MountPlanInput& in) {
    for (const char* target : kInitFiles) {
        std::string name = fs::path(target).filename().string();
        plan.push_back(bind_op((in.init_dir / name).string(), target, false));
    }
}

void add_binds(std::vector<MountOp>& plan, const MountPlanInput& in) {
    // Binds and tmpfs mounts, parents before children (/data before /data/sub), whatever
    // the command-line order.
    struct Entry {
        const BindMount* bind;
        const TmpfsMount* tmpfs;
        size_t depth;
    };
    std::vector<Entry> entries;
    for (const auto& b : in.binds) entries.push_back({&b, nullptr, depth(b.target)});
    for (const auto& t : in.tmpfs) entries.push_back({nullptr, &t, depth(t.target)});
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.depth < b.depth; });
    for (const auto& e : entries) {
        if (e.tmpfs) {
            MountOp op;
            op.kind = MountOpKind::mount_fs;
            op.target = e.tmpfs->target;
            op.source = "tmpfs";
            op.fstype = "tmpfs";
            op.flags = MS_NOSUID | MS_NODEV | (e.tmpfs->read_only ? MS_RDONLY : 0);
            op.data = e.tmpfs->options;
            plan.push_back(op);
            continue;
        }
        const BindMount& b = *e.bind;
        // The target's type follows the source's; decided when applied (stat of the source).
        plan.push_back(bind_op(b.source.string(), b.target, true));
        if (b.read_only) plan.push_back(remount_ro_op(b.target));
    }
}

void add_hardening(std::vector<MountOp>& plan) {
    for (const auto& p : masked_paths()) {
        MountOp op;
        op.kind = MountOpKind::mask;
        op.target = p;
        op.source = "/dev/null";
        op.optional = true;
        plan.push_back(op);
    }
    for (const auto& p : readonly_paths()) {
        MountOp op;
        op.kind = MountOpKind::readonly;
        op.target = p;
        op.optional = true;
        plan.push_back(op);
    }
}

}  // namespace

const char* to_string(MountOpKind kind) {
    // No default: -Wswitch names a kind added to MountOpKind and missing here.
    switch (kind) {
        case MountOpKind::mount_fs: return "mount";
        case MountOpKind::bind: return "bind";
        case MountOpKind::remount_ro: return "remount-ro";
        case MountOpKind::symlink: return "symlink";
        case MountOpKind::mask: return "mask";
        case MountOpKind::readonly: return "readonly";
    }
    return "?";
}

const std::vector<std::string>& masked_paths() {
    static const std::vector<std::string> paths = {
        "/proc/asound",      "/proc/acpi",          "/proc/kcore",      "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",        "/sys/firmware",       "/sys/devices/virtual/powercap",
    };
    return paths;
}

const std::vector<std::string>& readonly_paths() {
    static const std::vector<std::string> paths = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    };
    return paths;
}

MountPlanInput plan_input_from_spec(const ContainerSpec& spec, bool cgroup2) {
    MountPlanInput in;
    in.rootless = spec.rootless;
    in.network = spec.network;
    in.cgroup2 = cgroup2;
    in.init_dir = spec.init_dir;
    in.binds = spec.binds;
    in.tmpfs = spec.tmpfs;
    return in;
}

std::vector<MountOp> build_mount_plan(const MountPlanInput& in) {
    for (const auto& b : in.binds) {
        if (b.target.empty() || b.target[0] != '/')
            throw UsageError("bind mount target must be an absolute path: \"" + b.target + "\"");
        if (!b.source.is_absolute())
            throw UsageError("bind mount source must be an absolute path: \"" + b.source.string() + "\"");
    }
    for (const auto& t : in.tmpfs)
        if (t.target.empty() || t.target[0] != '/')
            throw UsageError("tmpfs mount target must be an absolute path: \"" + t.target + "\"");
    std::vector<MountOp> plan;
    plan.push_back(system_mount("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
    add_dev(plan, in.rootless);
    add_sys(plan, in);
    add_init_files(plan, in);
    add_binds(plan, in);
    add_hardening(plan);
    return plan;
}

std::string describe(const MountOp& op) {
    std::string flags;
    for (const auto& f : kFlagNames) {
        if (!(op.flags & f.flag)) continue;
        if (!flags.empty()) flags += ",";
        flags += f.name;
    }
    if (!op.data.empty()) flags += (flags.empty() ? "" : ",") + op.data;
    std::string out = to_string(op.kind);
    switch (op.kind) {
        case MountOpKind::mount_fs: out += " " + op.source + " on " + op.target + " type " + op.fstype; break;
        case MountOpKind::bind:
            out += " " + op.source + " on " + op.target;
            if (op.device != 0) out += " c " + std::to_string(major(op.device)) + ":" + std::to_string(minor(op.device));
            break;
        case MountOpKind::symlink: out += " " + op.target + " -> " + op.source; break;
        case MountOpKind::mask:
        case MountOpKind::readonly:
        case MountOpKind::remount_ro: out += " " + op.target; break;
    }
    if (!flags.empty()) out += " (" + flags + ")";
    return out;
}

}  // namespace imgbuild::runtime
