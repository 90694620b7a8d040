#include "runtime/mounts_apply.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"

namespace imgbuild::runtime {
namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Mount flags that a remount must repeat (in a user namespace they are locked, and
// leaving one out makes the remount fail with EPERM).
constexpr std::pair<unsigned long, unsigned long> kLockedFlags[] = {
    {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
};

unsigned long locked_flags(int fd, const std::string& path_for_errors) {
    struct statvfs st {};
    if (::fstatvfs(fd, &st) != 0) throw_errno("statvfs", path_for_errors);
    unsigned long flags = 0;
    for (const auto& [st_flag, ms_flag] : kLockedFlags)
        if (st.f_flag & st_flag) flags |= ms_flag;
    return flags;
}

void do_mount(const char* source, int target_fd, const char* fstype, unsigned long flags, const std::string& data,
              const MountOp& op) {
    if (::mount(source, fd_path(target_fd).c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) != 0)
        throw_errno(op.kind == MountOpKind::mount_fs ? "mount " + op.fstype + " on" : std::string("mount (") + to_string(op.kind) + ") on",
                    op.target);
}

bool is_dir(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

// Optional ops skip a target that does not exist in this kernel's /proc or /sys.
std::optional<unique_fd> resolve_optional(int root, const MountOp& op) {
    try {
        return resolve_in_root(root, op.target);
    } catch (const SystemError& e) {
        if (op.optional && e.error_number() == ENOENT) return std::nullopt;
        throw;
    }
}

void remount_read_only(int root, const MountOp& op) {
    auto fd = resolve_in_root(root, op.target);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(fd.get(), op.target);
    do_mount(nullptr, fd.get(), nullptr, flags, "", op);
}

void apply_mount_fs(int root, const MountOp& op) {
    auto fd = create_in_root(root, op.target, true, op.no_symlinks);
    if (!is_dir(fd.get())) throw_errno(ENOTDIR, "mount " + op.fstype + " on", op.target);
    do_mount(op.source.c_str(), fd.get(), op.fstype.c_str(), op.flags, op.data, op);
}

void apply_bind(int root, const MountOp& op) {
    auto src = open_or_throw(op.source, O_PATH);
    if (op.device != 0) {
        struct stat st {};
        if (::fstat(src.get(), &st) != 0) throw_errno("stat", op.source);
        if (!S_ISCHR(st.st_mode) || st.st_rdev != op.device)
            throw Error("bind mount " + op.source + ": not the expected character device " + std::to_string(major(op.device)) +
                        ":" + std::to_string(minor(op.device)));
    }
    auto fd = create_in_root(root, op.target, is_dir(src.get()), op.no_symlinks);
    // An image symlink such as /etc/hosts -> /proc/sys/kernel/hostname must not turn our
    // bind into a mount on the container's procfs or sysfs (runc CVE-2025-52881).
    struct statfs where {};
    if (::fstatfs(fd.get(), &where) == 0 && (where.f_type == PROC_SUPER_MAGIC || where.f_type == SYSFS_MAGIC))
        throw Error("bind mount " + op.source + " on " + op.target + ": the target resolves into /proc or /sys; refusing");
    if (is_dir(src.get()) != is_dir(fd.get()))
        throw Error("bind mount " + op.source + " on " + op.target + ": one is a directory and the other is not");
    do_mount(fd_path(src.get()).c_str(), fd.get(), nullptr, op.flags, "", op);
}

void apply_symlink(int root, const MountOp& op) {
    fs::path target(op.target);
    auto parent = create_in_root(root, target.parent_path().string(), true);
    std::string name = target.filename().string();
    if (::symlinkat(op.source.c_str(), parent.get(), name.c_str()) != 0 && errno != EEXIST)
        throw_errno("symlink " + op.target + " ->", op.source);
}

void apply_mask(int root, const MountOp& op) {
    auto fd = resolve_optional(root, op);
    if (!fd) return;
    if (is_dir(fd->get())) {
        do_mount("tmpfs", fd->get(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", op);
    } else {
        auto null = open_or_throw(op.source, O_PATH);
        do_mount(fd_path(null.get()).c_str(), fd->get(), nullptr, MS_BIND, "", op);
    }
}

void apply_readonly(int root, const MountOp& op) {
    auto fd = resolve_optional(root, op);
    if (!fd) return;
    do_mount(fd_path(fd->get()).c_str(), fd->get(), nullptr, MS_BIND | MS_REC, "", op);
    remount_read_only(root, op);
}

}  // namespace

void make_mounts_private() {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw_errno("mount --make-rprivate", "/");
}

void mount_overlay(const OverlayMount& m, const fs::path& merged) {
    if (!m.chdir_to.empty() && ::chdir(m.chdir_to.c_str()) != 0) throw_errno("chdir", m.chdir_to.string());
    // nodev: a device node shipped in a layer (a 0666 `c 1 11`) or made by the container
    // is unusable on the root filesystem, whoever opens it.
    if (::mount("overlay", merged.c_str(), "overlay", MS_NODEV, m.data.c_str()) != 0) {
        int err = errno;
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
        std::optional<unique_fd> link;
        try {
            link = open_in_root(root_fd, current, O_PATH | O_NOFOLLOW, 0, symlinks);
        } catch (const SystemError& e) {
            if (e.error_number() != ENOENT) throw;
        }
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

unique_fd create_in_root(int root_fd, const std::string& path, bool dir, bool no_symlinks) {
    const Symlinks symlinks = symlinks_for(no_symlinks);
    try {
        if (dir) return mkdirs_in_root(root_fd, path, 0755, symlinks);
        try {
            return open_in_root(root_fd, path, O_PATH, 0, symlinks);
        } catch (const SystemError& e) {
            if (e.error_number() != ENOENT) throw;
        }
        return create_file_in_root(root_fd, path, symlinks);
    } catch (const SystemError& e) {
        throw in_root_error(e, path, no_symlinks);
    }
}

void apply_mount_plan(const std::vector<MountOp>& plan, const fs::path& root) {
    auto root_fd = open_or_throw(root, O_PATH | O_DIRECTORY);
    using Apply = void (*)(int, const MountOp&);
    static constexpr std::pair<MountOpKind, Apply> kApply[] = {
        {MountOpKind::mount_fs, apply_mount_fs},      {MountOpKind::bind, apply_bind},
        {MountOpKind::remount_ro, remount_read_only},
        {MountOpKind::symlink, apply_symlink},        {MountOpKind::mask, apply_mask},
        {MountOpKind::readonly, apply_readonly},
    };
    for (const auto& op : plan) {
        for (const auto& [kind, apply] : kApply) {
            if (kind != op.kind) continue;
            apply(root_fd.get(), op);
            break;
        }
    }
}

void pivot_into(const fs::path& root) {
    auto old_root = open_or_throw("/", O_DIRECTORY | O_RDONLY);
    auto new_root = open_or_throw(root, O_DIRECTORY | O_RDONLY);
    if (::fchdir(new_root.get()) != 0) throw_errno("chdir", root.string());
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
    // removes it without needing a put_old directory inside the image.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) throw_errno("pivot_root", root.string());
    if (::fchdir(old_root.get()) != 0) throw_errno("chdir", "old root");
    if (::umount2(".", MNT_DETACH) != 0) throw_errno("umount2 (detach old root)", "/");
    if (::chdir("/") != 0) throw_errno("chdir", "/");
}

}  // namespace imgbuild::runtime
