#pragma once
// The kernel calls that set up a container's root (mounts_apply.cpp: the mount plan, the
// overlay, pivot_root and the detach of the old root) behind one small interface, as
// youki's Syscall trait: linux_syscalls() makes them, RecordingSyscalls
// (syscalls_recording.h) records them so that apply_mount_plan is tested without root.
//
// Path resolution is not behind the seam: targets are resolved, and missing ones created,
// by the one in-root resolver (common/path_resolve.h) on a real tree in both cases. The
// seam holds what mutates the mount table (and symlinkat, the plan's one other write),
// plus the two queries of the mount table the plan's checks read (statvfs, statfs).
//
// Every call returns 0 or an errno value, never -1 with errno: a caller names the error
// without relying on errno surviving whatever ran in between.
#include <sys/statfs.h>
#include <sys/statvfs.h>

namespace imgbuild::runtime {

class Syscalls {
public:
    virtual ~Syscalls() = default;

    virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                      const char* data) = 0;
    virtual int umount2(const char* target, int flags) = 0;
    virtual int pivot_root(const char* new_root, const char* put_old) = 0;
    // symlinkat(2): `name` in `dirfd` becomes a symlink whose text is `link_text`.
    virtual int symlinkat(const char* link_text, int dirfd, const char* name) = 0;
    virtual int chdir(const char* path) = 0;
    virtual int fchdir(int fd) = 0;

    // The mount `fd` is on: its flags (ST_*; locked ones a remount must repeat) and its
    // filesystem type (f_type: procfs and sysfs are refused as bind targets).
    virtual int fstatvfs(int fd, struct statvfs* out) = 0;
    virtual int fstatfs(int fd, struct statfs* out) = 0;
};

// The real kernel: one system call per method, nothing else.
[[nodiscard]] Syscalls& linux_syscalls();

}  // namespace imgbuild::runtime
