#pragma once
// A Syscalls (syscalls.h) that records each call instead of making it, for tests of the
// mount plan's apply half without root (youki's TestHelperSyscall). It changes nothing:
// no mount, no symlink, no chdir.
//
// Paths are recorded so that a test can read them: a "/proc/self/fd/N" argument (how
// mounts_apply reaches an O_PATH fd) and an fd argument are resolved back to the path the
// fd is open on (readlink), given relative to `root` when inside it ("/proc/sys") and as
// "host:<path>" when not ("host:/dev/null"). Any other path is recorded as passed.
//
// To answer the plan's queries (statvfs, statfs) it keeps a small mount table of the
// mounts recorded so far, as the kernel would see them: a new mount gets relatime unless
// noatime or strictatime is given; a bind mount takes the flags and type of the mount its
// source is on; a bind remount of a path that is not a mount point fails with EINVAL, and
// one that drops a nosuid/nodev/noexec/atime flag the mount has fails with EPERM (as in a
// user namespace, where those flags are locked). Paths that no recorded mount covers are
// on one "host" mount with the flags set by set_host_mount_flags (none by default).
#include <string>
#include <vector>

#include "common/fs.h"
#include "runtime/syscalls.h"

namespace imgbuild::runtime {

struct SyscallRecord {
    std::string call;       // "mount", "umount2", "pivot_root", "symlink", "chdir", "fchdir"
    std::string source;     // mount: source; pivot_root: new_root; symlink: link text
    std::string target;     // mount/umount2: target; pivot_root: put_old; symlink: dir/name
    std::string fstype;     // mount: "" for none
    unsigned long flags = 0;  // mount: MS_*; umount2: MNT_*
    std::string data;       // mount: "" for none
    int result = 0;         // what the call returned: 0 or an errno

    bool operator==(const SyscallRecord&) const = default;
};

// One line, for test failure messages: `mount(proc, /proc, proc, 0xe, "") = 0`.
[[nodiscard]] std::string to_string(const SyscallRecord& r);

class RecordingSyscalls final : public Syscalls {
public:
    explicit RecordingSyscalls(const fs::path& root);

    // The first call named `call` (as in SyscallRecord::call) on `target` (as recorded)
    // from now on fails with `err`; it is recorded with that result and changes nothing.
    void fail(std::string call, std::string target, int err);
    // MS_* flags of the mount that holds every path no recorded mount covers.
    void set_host_mount_flags(unsigned long flags) { host_flags_ = flags; }

    [[nodiscard]] const std::vector<SyscallRecord>& calls() const { return calls_; }

    int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
              const char* data) override;
    int umount2(const char* target, int flags) override;
    int pivot_root(const char* new_root, const char* put_old) override;
    int symlinkat(const char* link_text, int dirfd, const char* name) override;
    int chdir(const char* path) override;
    int fchdir(int fd) override;
    int fstatvfs(int fd, struct statvfs* out) override;
    int fstatfs(int fd, struct statfs* out) override;

private:
    struct Mount {
        std::string path;  // as recorded (in-root form for mounts inside the root)
        std::string fstype;
        unsigned long flags;
    };
    struct Failure {
        std::string call, target;
        int err;
    };

    [[nodiscard]] std::string shown(const char* path) const;
    [[nodiscard]] std::string shown_fd(int fd) const;
    // Records `r`, failing it when a fail() matches; returns the result to give back.
    int record(SyscallRecord r);
    [[nodiscard]] const Mount* mount_holding(const std::string& path) const;
    int apply_to_table(const SyscallRecord& r);

    std::string root_;  // canonical
    unsigned long host_flags_ = 0;
    std::vector<SyscallRecord> calls_;
    std::vector<Failure> failures_;
    std::vector<Mount> mounts_;  // in mount order: a later one at the same path is on top
};

}  // namespace imgbuild::runtime
