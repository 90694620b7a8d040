#pragma once
// The container's user: names are resolved in the image's own /etc/passwd and /etc/group
// (read after pivot_root, so the host's files are never consulted). Parsing is pure.
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::runtime {

struct ResolvedUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;   // supplementary groups (/etc/group memberships, or the explicit group)
    std::string home = "/";
};

// `spec` is "", "name", "uid", "name:group", "uid:gid", "name:gid", "uid:group".
// A numeric uid absent from passwd is fine (gid 0 unless given, as Docker); an unknown
// name is an Error naming it.
[[nodiscard]] ResolvedUser resolve_user(std::string_view spec, std::string_view passwd, std::string_view group);

// Reads /etc/passwd and /etc/group of the current root (missing files are empty).
[[nodiscard]] ResolvedUser resolve_user_in_current_root(std::string_view spec);

}  // namespace imgbuild::runtime
