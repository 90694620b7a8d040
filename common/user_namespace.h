#pragma once
// Whether this process runs in a user namespace other than the initial one: imgbuild
// started by an unprivileged user enters one at start (runtime/user_namespace.h) and is
// then root there. The store, the layer tars and the runtime ask this to pick the rootless
// variants (user.overlay.* xattrs, the userxattr overlay option, no cgroups of their own).
namespace imgbuild {

// True unless /proc/self/uid_map is the identity map of the initial namespace
// ("0 0 4294967295"). Read once, at the first call: call it only after the user namespace
// was entered (main does that before anything else).
[[nodiscard]] bool in_user_namespace();

}  // namespace imgbuild
