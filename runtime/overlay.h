#pragma once
// The overlay root filesystem: option string (short lowerdir links, DESIGN.md §4 options)
// and the init layer that provides mount points the image lacks.
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "runtime/container.h"

namespace imgbuild::runtime {

struct OverlayMount {
    std::string data;      // the mount(2) option string
    fs::path chdir_to;     // relative lowerdirs ("l/...") are relative to this dir; empty: absolute
};

// Name of the short link for a lower dir: 12 hex chars of sha256(path), stable across runs.
[[nodiscard]] std::string short_link_name(const fs::path& lower_dir);

// Builds the option string. `lowers` bottom first (as in the spec); the init layer is put
// below them all. With a links dir, the links are named, not created (see ensure_short_links).
// An empty `upper` gives a read-only overlay (no upperdir/workdir; overlay then wants two
// lowers or more). Used by the runtime and the builder's rootfs views alike: one option
// set (DESIGN.md §4), one link naming scheme.
[[nodiscard]] OverlayMount overlay_options(const std::vector<fs::path>& lowers, const fs::path& init_layer,
                                           const fs::path& upper, const fs::path& work, const fs::path& links_dir,
                                           bool rootless, bool volatile_mount = false);

// Mounts the overlay `m` on `target` (absolute) without touching this process's working
// directory: when the lowerdirs are relative (short links), the chdir and the mount run in
// a short-lived CLONE_VM|CLONE_VFORK child that has its own cwd (no CLONE_FS) but shares
// the mount namespace, so the mount is ours. Costs a vfork (~0.1 ms). Throws SystemError
// naming the target and the options. (mounts_apply.h mount_overlay is the container
// child's: it may chdir, the child is about to chdir into the root anyway.)
void mount_overlay_no_chdir(const OverlayMount& m, const fs::path& target);

// The overlay `m` as a detached mount, made with the new mount API (fsopen, fsconfig of the
// same options, FSCONFIG_CMD_CREATE, fsmount with nodev as mount_overlay gives it), for a
// process in another mount namespace to attach (attach_overlay). The runtime makes it in the
// parent right after the clone and passes it to the child (fd_passing.h), so the superblock,
// the costly part of the mount (~0.3 ms: overlayfs makes and checks its work dir, on ext4
// inode creations), is made while the child closes its fds, resets its signals and joins its
// namespaces, not after. Relative lowerdirs (short links) are given as m.chdir_to/<link>: no
// chdir, the caller's cwd is the process's. Returns an empty fd where the API cannot take `m`
// (no fsopen; a lowerdir list over 255 bytes and no "lowerdir+", kernels before 6.8) or the
// mount failed: the child then mounts `m` itself (mount_overlay) and reports any error in the
// same words. The work dir must be ready (clear_volatile_marker).
[[nodiscard]] unique_fd make_detached_overlay(const OverlayMount& m);

// Attaches a detached overlay (make_detached_overlay) at `merged` in the caller's mount
// namespace (move_mount). Throws SystemError naming the target.
void attach_overlay(int mount_fd, const fs::path& merged);

// A volatile overlay leaves work/work/incompat/volatile behind; the kernel refuses to mount
// the same upper/work again until it is gone. Removes it (for a restarted container, a
// build stage's next RUN in the same run dir).
void clear_volatile_marker(const fs::path& work);
// Where that marker is, for a caller that removes it earlier (builder/deferred_removal.h).
[[nodiscard]] fs::path volatile_marker(const fs::path& work);

// Creates (idempotently, race-safe) links_dir/<short> -> lower for each lower dir.
void ensure_short_links(const std::vector<fs::path>& lowers, const fs::path& init_layer, const fs::path& links_dir);

// The init layer's content (empty mount points, below) made once at `layer` for every
// container that adds nothing of its own to it: staged in `staging_dir` (same filesystem)
// and renamed into place, so it is complete or absent; a concurrent maker is harmless.
void ensure_shared_init_layer(const fs::path& layer, const fs::path& staging_dir);

// init_dir/rootfs (or spec.shared_init_layer when set): empty mount points (proc, sys, dev, etc/hosts, ...) used as the
// bottom-most lowerdir; and the files hosts, hostname, resolv.conf in init_dir.
// Returns the init layer path.
fs::path prepare_init_dir(const ContainerSpec& spec);

}  // namespace imgbuild::runtime
