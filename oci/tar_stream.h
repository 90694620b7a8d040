#pragma once
// Internals shared by the layer tar writer and extractor (not a public API).
#include <locale.h>

#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::oci::tar_detail {

inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
inline constexpr std::string_view kTrustedOpaque = "trusted.overlay.opaque";
inline constexpr std::string_view kUserOpaque = "user.overlay.opaque";

struct Xattr {
    std::string name;
    std::string value;
};

// The opaque-dir xattr for the mode we run in.
[[nodiscard]] inline std::string_view opaque_xattr(bool rootless) { return rootless ? kUserOpaque : kTrustedOpaque; }

// Xattrs that never travel in a layer tar: overlay's private ones (they would change how
// the layer mounts: redirect, origin, metacopy...) and host SELinux labels.
[[nodiscard]] inline bool is_private_xattr(std::string_view name) {
    return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") || name == "security.selinux";
}

// "/proc/self/fd/<dirfd>/<name>": lets the l*xattr calls address an entry relative to a
// dir fd without following a symlink at `name` and without a long path.
[[nodiscard]] std::string fd_relative_path(int dirfd, const std::string& name);

// Makes this thread use the C.UTF-8 character set (plain "C" where that locale does not
// exist) while alive. libarchive converts names through the current locale: without this
// the same tree would give different tars in different locales. Valid UTF-8 names are then
// stored as standard PAX UTF-8 records, other bytes with hdrcharset=BINARY.
class ScopedTarLocale {
public:
    ScopedTarLocale();
    ~ScopedTarLocale();
    ScopedTarLocale(const ScopedTarLocale&) = delete;
    ScopedTarLocale& operator=(const ScopedTarLocale&) = delete;

private:
    locale_t mine_ = static_cast<locale_t>(0);
    locale_t previous_ = static_cast<locale_t>(0);
};

}  // namespace imgbuild::oci::tar_detail
