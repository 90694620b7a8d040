#pragma once
// Rootless: the user namespace an unprivileged imgbuild works in (docs/rootless.md).
//
// Every imgbuild process of one user joins the same user namespace, kept alive by a small
// pause process ("imgbuild-pause", the shape of rootless podman's): the first command
// creates it with the user's ranges from /etc/subuid and /etc/subgid (mapped by the setuid
// newuidmap/newgidmap of Debian's uidmap package), later ones setns into it. Inside it the
// process is root: the store's files keep the container's owners (so a layer tars the same
// as one built by real root), overlays mount with userxattr, and containers started by one
// command can be joined, signalled and committed by the next (`exec`, `stop`, `commit`),
// which separate namespaces per command would forbid.
//
// Without ranges the namespace maps only root, to the user's own uid and gid: images whose
// files belong to other ids then fail at chown (a note says so when the namespace is made).
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/container.h"

namespace imgbuild::runtime {

struct SubidRange {
    uint32_t start = 0;
    uint32_t count = 0;
};

// The ranges of `user` (by name or numeric id) in an /etc/subuid or /etc/subgid text
// ("name:start:count" lines; '#' comments). Malformed lines are skipped.
[[nodiscard]] std::vector<SubidRange> parse_subid_ranges(const std::string& text, const std::string& user, uid_t id);

// The namespace map: container 0 -> `own`, then 1.. -> the ranges in order.
[[nodiscard]] std::vector<IdMap> rootless_id_map(uint32_t own, const std::vector<SubidRange>& ranges);

// $XDG_RUNTIME_DIR/imgbuild, or /tmp/imgbuild-<uid> when it is unset; created 0700 and
// checked: a directory (not a symlink) owned by `uid` with no access for others, else an
// Error naming it (another user could otherwise plant a pause pid of their choosing).
[[nodiscard]] std::filesystem::path rootless_state_dir(uid_t uid);

// For an unprivileged caller (euid != 0): joins the user's imgbuild user namespace, making
// it first when no pause process lives. Must run before any thread is started. No-op for
// root. Throws Error naming what failed (newuidmap's own message included).
void enter_rootless_user_namespace();

}  // namespace imgbuild::runtime
