#include "runtime/mounts_apply.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "runtime/syscalls.h"

namespace imgbuild::runtime {
namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// What every op is applied with: the kernel (or a recording of it) and the new root.
struct Target {
    Syscalls& sys;
    int root;
};

// Mount flags that a remount must repeat (in a user namespace they are locked, and
// leaving one out makes the remount fail with EPERM).
constexpr std::pair<unsigned long, unsigned long> kLockedFlags[] = {
    {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
};

unsigned long locked_flags(Syscalls& sys, int fd, const std::string& path_for_errors) {
    struct statvfs st {};
    if (int err = sys.fstatvfs(fd, &st); err != 0) throw_errno(err, "statvfs", path_for_errors);
    unsigned long flags = 0;
    for (const auto& [st_flag, ms_flag] : kLockedFlags)
        if (st.f_flag & st_flag) flags |= ms_flag;
    return flags;
}

void do_mount(Syscalls& sys, const char* source, int target_fd, const char* fstype, unsigned long flags,
              const std::string& data, const MountOp& op) {
    int err = sys.mount(source, fd_path(target_fd).c_str(), fstype, flags, data.empty() ? nullptr : data.c_str());
    if (err == 0) return;
    throw_errno(err,
                op.kind == MountOpKind::mount_fs ? "mount " + op.fstype + " on"
                                                 : std::string("mount (") + to_string(op.kind) + ") on",
                op.target);
}

// Optional ops skip a target that does not exist in this kernel's /proc or /sys (most of the
// masked paths on a given kernel): an errno check, not an exception thrown and caught in the
// child for each (defined below, beside resolve_in_root).
std::optional<unique_fd> resolve_optional(int root, const MountOp& op);

bool is_dir(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

void remount_read_only(const Target& t, const MountOp& op) {
    auto fd = resolve_in_root(t.root, op.target);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(t.sys, fd.get(), op.target);
    do_mount(t.sys, nullptr, fd.get(), nullptr, flags, "", op);
}

void apply_mount_fs(const Target& t, const MountOp& op) {
    auto fd = create_in_root(t.root, op.target, true, op.no_symlinks);
    if (!is_dir(fd.get())) throw_errno(ENOTDIR, "mount " + op.fstype + " on", op.target);
    do_mount(t.sys, op.source.c_str(), fd.get(), op.fstype.c_str(), op.flags, op.data, op);
}

void apply_bind(const Target& t, const MountOp& op) {
    auto src = open_or_throw(op.source, O_PATH);
    struct stat st {};
    if (::fstat(src.get(), &st) != 0) throw_errno("stat", op.source);
    if (op.device != 0 && (!S_ISCHR(st.st_mode) || st.st_rdev != op.device))
        throw Error("bind mount " + op.source + ": not the expected character device " + std::to_string(major(op.device)) +
                    ":" + std::to_string(minor(op.device)));
    const bool src_is_dir = S_ISDIR(st.st_mode);
    auto fd = create_in_root(t.root, op.target, src_is_dir, op.no_symlinks, op.target_new);
    // An image symlink such as /etc/hosts -> /proc/sys/kernel/hostname must not turn our
    // bind into a mount on the container's procfs or sysfs (runc CVE-2025-52881).
    struct statfs where {};
    if (t.sys.fstatfs(fd.get(), &where) == 0 && (where.f_type == PROC_SUPER_MAGIC || where.f_type == SYSFS_MAGIC))
        throw Error("bind mount " + op.source + " on " + op.target + ": the target resolves into /proc or /sys; refusing");
    if (src_is_dir != is_dir(fd.get()))
        throw Error("bind mount " + op.source + " on " + op.target + ": one is a directory and the other is not");
    do_mount(t.sys, fd_path(src.get()).c_str(), fd.get(), nullptr, op.flags, "", op);
}

void apply_symlink(const Target& t, const MountOp& op) {
    fs::path target(op.target);
    auto parent = create_in_root(t.root, target.parent_path().string(), true);
    std::string name = target.filename().string();
    if (int err = t.sys.symlinkat(op.source.c_str(), parent.get(), name.c_str()); err != 0 && err != EEXIST)
        throw_errno(err, "symlink " + op.target + " ->", op.source);
}

void apply_mask(const Target& t, const MountOp& op) {
    auto fd = resolve_optional(t.root, op);
    if (!fd) return;
    if (is_dir(fd->get())) {
        do_mount(t.sys, "tmpfs", fd->get(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", op);
    } else {
        auto null = open_or_throw(op.source, O_PATH);
        do_mount(t.sys, fd_path(null.get()).c_str(), fd->get(), nullptr, MS_BIND, "", op);
    }
}

void apply_readonly(const Target& t, const MountOp& op) {
    auto fd = resolve_optional(t.root, op);
    if (!fd) return;
    do_mount(t.sys, fd_path(fd->get()).c_str(), fd->get(), nullptr, MS_BIND | MS_REC, "", op);
    remount_read_only(t, op);
}

// bubblewrap's setup_newroot: one switch, no default, so that -Wswitch (an error with
// -Werror) names a kind added to MountOpKind and not handled here. A value outside the
// enum (a plan built wrongly) falls through to the throw: never silently skipped.
void apply_op(const Target& t, const MountOp& op) {
    switch (op.kind) {
        case MountOpKind::mount_fs: return apply_mount_fs(t, op);
        case MountOpKind::bind: return apply_bind(t, op);
        case MountOpKind::remount_ro: return remount_read_only(t, op);
        case MountOpKind::symlink: return apply_symlink(t, op);
        case MountOpKind::mask: return apply_mask(t, op);
        case MountOpKind::readonly: return apply_readonly(t, op);
    }
    throw Error("mount plan: unknown operation kind " + std::to_string(static_cast<int>(op.kind)) + " (target " +
                op.target + ", source " + op.source + "); refusing to set up the container");
}

}  // namespace

void make_mounts_private(Syscalls& sys) {
    if (int err = sys.mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr); err != 0)
        throw_errno(err, "mount --make-rprivate", "/");
}

void mount_overlay(const OverlayMount& m, const fs::path& merged, Syscalls& sys) {
    if (!m.chdir_to.empty())
        if (int err = sys.chdir(m.chdir_to.c_str()); err != 0) throw_errno(err, "chdir", m.chdir_to.string());
    // nodev: a device node shipped in a layer (a 0666 `c 1 11`) or made by the container
    // is unusable on the root filesystem, whoever opens it.
    if (int err = sys.mount("overlay", merged.c_str(), "overlay", MS_NODEV, m.data.c_str()); err != 0) {
        throw SystemError(err, "mount overlay on " + merged.string() + ": " + describe_errno(err) + " (" + m.data +
                                   (m.chdir_to.empty() ? "" : ", relative to " + m.chdir_to.string()) + ")");
    }
}

namespace {

Symlinks symlinks_for(bool no_symlinks) { return no_symlinks ? Symlinks::refuse : Symlinks::follow; }

SystemError in_root_error(const SystemError& e, const std::string& path, bool no_symlinks) {
    int err = e.error_number();
    std::string why = err == ELOOP && no_symlinks ? " (a symlink in the image; refusing to mount through it)" : "";
    return SystemError(err, "resolve " + path + " in the container root: " + describe_errno(err) + why);
}

// A missing file, or a symlink (chain) to a missing file such as an image's
// /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf: the final target is created
// (Docker creates it too), every step resolved in the root, never outside it.
unique_fd create_file_in_root(int root_fd, const std::string& path, Symlinks symlinks) {
    std::string current = path;
    for (int hops = 0; hops < 40; ++hops) {
        fs::path parent = fs::path(current).parent_path();
        (void)mkdirs_in_root(root_fd, parent, 0755, symlinks);
        std::optional<unique_fd> link = open_in_root_if_exists(root_fd, current, O_PATH | O_NOFOLLOW, 0, symlinks);
        if (!link) {
            (void)open_in_root(root_fd, current, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644, symlinks);
            break;
        }
        struct stat st {};
        if (::fstat(link->get(), &st) != 0) throw_errno("stat", current);
        if (!S_ISLNK(st.st_mode)) break;
        if (symlinks == Symlinks::refuse) throw_errno(ELOOP, "resolve", current);
        char buf[4096];
        ssize_t n = ::readlinkat(link->get(), "", buf, sizeof buf - 1);
        if (n <= 0) throw_errno("readlink", current);
        std::string target(buf, static_cast<size_t>(n));
        current = target[0] == '/' ? target : (parent / target).string();
    }
    return open_in_root(root_fd, path, O_PATH, 0, symlinks);
}

}  // namespace

unique_fd resolve_in_root(int root_fd, const std::string& path, bool no_symlinks) {
    try {
        return open_in_root(root_fd, path, O_PATH, 0, symlinks_for(no_symlinks));
    } catch (const SystemError& e) {
        throw in_root_error(e, path, no_symlinks);
    }
}

namespace {

std::optional<unique_fd> resolve_optional(int root, const MountOp& op) {
    if (!op.optional) return resolve_in_root(root, op.target);
    try {
        return open_in_root_if_exists(root, op.target, O_PATH);
    } catch (const SystemError& e) {
        throw in_root_error(e, op.target, false);
    }
}

}  // namespace

unique_fd create_in_root(int root_fd, const std::string& path, bool dir, bool no_symlinks, bool expect_new) {
    const Symlinks symlinks = symlinks_for(no_symlinks);
    try {
        if (dir) return mkdirs_in_root(root_fd, path, 0755, symlinks);
        if (expect_new)
            if (auto made = create_new_in_root(root_fd, path, 0644, symlinks)) return std::move(*made);
        // A missing target is the common case (a bind onto /etc/hosts of an image without
        // one, /dev/null on the fresh /dev): an errno check, not an exception to unwind.
        if (auto existing = open_in_root_if_exists(root_fd, path, O_PATH, 0, symlinks)) return std::move(*existing);
        return create_file_in_root(root_fd, path, symlinks);
    } catch (const SystemError& e) {
        throw in_root_error(e, path, no_symlinks);
    }
}

void apply_mount_plan(const std::vector<MountOp>& plan, const fs::path& root, Syscalls& sys) {
    auto root_fd = open_or_throw(root, O_PATH | O_DIRECTORY);
    const Target target{sys, root_fd.get()};
    for (const auto& op : plan) apply_op(target, op);
}

void pivot_into(const fs::path& root, Syscalls& sys) {
    auto old_root = open_or_throw("/", O_DIRECTORY | O_RDONLY);
    auto new_root = open_or_throw(root, O_DIRECTORY | O_RDONLY);
    if (int err = sys.fchdir(new_root.get()); err != 0) throw_errno(err, "chdir", root.string());
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
    // removes it without needing a put_old directory inside the image.
    if (int err = sys.pivot_root(".", "."); err != 0) throw_errno(err, "pivot_root", root.string());
    if (int err = sys.fchdir(old_root.get()); err != 0) throw_errno(err, "chdir", "old root");
    if (int err = sys.umount2(".", MNT_DETACH); err != 0) throw_errno(err, "umount2 (detach old root)", "/");
    if (int err = sys.chdir("/"); err != 0) throw_errno(err, "chdir", "/");
}

}  // namespace imgbuild::runtime
