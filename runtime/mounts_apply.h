#pragma once
// Applies a mount plan (mount_plan.h) inside the container's fresh mount namespace.
// Every target is resolved inside the new root (common/path_resolve.h: openat2 RESOLVE_IN_ROOT): a symlink in the
// image such as `etc -> /host-etc` resolves to the image's /host-etc, never the host's.
// Mounts then go onto "/proc/self/fd/N" of the resolved O_PATH fd, so nothing can swap
// the path between the check and the mount.
// The kernel calls go through a Syscalls (syscalls.h), the real kernel unless a test passes
// a RecordingSyscalls (syscalls_recording.h).
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "runtime/mount_plan.h"
#include "runtime/overlay.h"
#include "runtime/syscalls.h"

namespace imgbuild::runtime {

// mount --make-rprivate /: nothing we mount propagates back to the host.
void make_mounts_private(Syscalls& sys = linux_syscalls());

// Mounts the overlay root on `merged` (relative lowerdirs are resolved from m.chdir_to).
void mount_overlay(const OverlayMount& m, const fs::path& merged, Syscalls& sys = linux_syscalls());

// Resolves `path` (absolute, inside the root) to an O_PATH fd. With `no_symlinks` no
// symlink may be followed on the way. Throws SystemError naming the path.
[[nodiscard]] unique_fd resolve_in_root(int root_fd, const std::string& path, bool no_symlinks = false);

// As resolve_in_root, creating missing components (dirs, and the last one as a dir or an
// empty file) inside the root. With `expect_new` (a file only), the file is first made with
// one exclusive create; the fd is then O_WRONLY rather than O_PATH.
[[nodiscard]] unique_fd create_in_root(int root_fd, const std::string& path, bool is_dir, bool no_symlinks = false,
                                       bool expect_new = false);

// Applies every op in order; the first failure throws (naming the op and its target) and
// stops the plan. An op kind outside MountOpKind is an error, never skipped.
void apply_mount_plan(const std::vector<MountOp>& plan, const fs::path& root, Syscalls& sys = linux_syscalls());

// pivot_root into `root` and detach the old root: the host's tree is unreachable after.
void pivot_into(const fs::path& root, Syscalls& sys = linux_syscalls());

}  // namespace imgbuild::runtime
