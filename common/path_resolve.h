#pragma once
// Resolving paths inside a directory tree that is someone else's root (an image rootfs, a
// layer being extracted): nothing outside the tree is ever opened or created.
#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace imgbuild {

// Lexical cleaning of a path that is meant to stay below a root: a leading "/" is dropped
// (absolute means "from the root"), "" and "." components vanish, ".." removes the previous
// component. Returns nullopt when ".." would climb above the root ("../x", "a/../../x").
// "/" and "." give an empty vector (the root itself). Symlinks are not consulted.
[[nodiscard]] std::optional<std::vector<std::string>> clean_path_components(std::string_view path);

// Whether a path may pass through symlinks (of the tree, resolved in it) at all. Mount
// points such as /proc, /dev, /sys refuse any: an image whose /proc is a symlink is refused.
enum class Symlinks { follow, refuse };

// Opens `path` in the tree at root_fd as if root_fd were "/" (chroot semantics): absolute
// symlinks restart at the root, ".." stops at the root, /proc magic links are refused.
// `path` may be absolute or relative (both from the root); "" and "/" are the root itself.
// `flags` as for openat (O_CREAT creates the last component, O_NOFOLLOW does not follow a
// final symlink; O_CLOEXEC is always added). Uses openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) and, where the kernel lacks it, an equivalent walk. Throws
// SystemError naming `path`. With Symlinks::refuse any symlink on the way is ELOOP.
[[nodiscard]] unique_fd open_in_root(int root_fd, const std::filesystem::path& path, int flags, mode_t mode = 0,
                                     Symlinks symlinks = Symlinks::follow);

// open_in_root, but nullopt (no exception: cheap) when `path` or a directory on the way does
// not exist (ENOENT); other errors throw as open_in_root does.
[[nodiscard]] std::optional<unique_fd> open_in_root_if_exists(int root_fd, const std::filesystem::path& path, int flags,
                                                              mode_t mode = 0, Symlinks symlinks = Symlinks::follow);
// Makes the file `path` (O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, `mode`) in the tree at
// root_fd, resolved as open_in_root does, and returns it; nullopt (no exception) when
// something is there already (EEXIST, a symlink included) or a directory on the way is
// missing (ENOENT). Other errors throw as open_in_root does.
[[nodiscard]] std::optional<unique_fd> create_new_in_root(int root_fd, const std::filesystem::path& path, mode_t mode,
                                                          Symlinks symlinks = Symlinks::follow);

// Creates the directory `path` and any missing parents in the tree at root_fd, resolving
// symlinks as open_in_root does (an image's /var/run -> /run creates under the image's
// /run). New dirs get `mode` (minus umask) and the caller's owner. Returns an
// O_PATH|O_DIRECTORY fd of the final directory. Throws SystemError naming `path` (ENOTDIR
// when a component is not a directory).
[[nodiscard]] unique_fd mkdirs_in_root(int root_fd, const std::filesystem::path& path, mode_t mode = 0755,
                                       Symlinks symlinks = Symlinks::follow);

// mkdirs_in_root for callers that own what they create (COPY's parents: BuildKit's
// MkdirAll with the --chown user): every new dir is chowned to uid:gid and chmodded to
// `mode` exactly (no umask); `created` says whether the final dir was made by this call.
// A dangling symlink on the way is followed and its target created inside the root (as
// Docker and BuildKit do).
struct MkdirsOwned {
    unique_fd fd;  // O_PATH|O_DIRECTORY
    bool created = false;
};
[[nodiscard]] MkdirsOwned mkdirs_in_root_owned(int root_fd, const std::filesystem::path& path, mode_t mode, uid_t uid,
                                               gid_t gid);

// Reads a small configuration file of an image (/etc/passwd, /etc/group, /etc/hosts...)
// at `path` in the tree at root_fd, resolved as open_in_root does. Only a regular file is
// read: the path is first opened O_PATH and fstat'ed (so a device or FIFO is never even
// opened: no blocking, no driver side effects), then reopened through /proc/self/fd
// O_RDONLY|O_NONBLOCK, and at most max_size bytes are accepted. Returns nullopt when the
// path does not exist (ENOENT/ENOTDIR on the way). Throws Error "<what>: <path> in the image
// is not a regular file" / "... is larger than <max_size> bytes", SystemError otherwise.
inline constexpr size_t kSmallFileMax = 1 << 20;
[[nodiscard]] std::optional<std::string> read_small_file_in_root(int root_fd, const std::filesystem::path& path,
                                                                 const std::string& what,
                                                                 size_t max_size = kSmallFileMax);

// resolve_path_in_root for a tree with stricter rules than a chroot (a build context).
struct InRootRules {
    // ".." at the root is an OutsideRootError instead of staying at the root.
    bool refuse_dotdot_at_root = false;
    // An absolute symlink target: return where it leads relative to the root (a build
    // context accepts links that name it by its host path), or nullopt to refuse it
    // (OutsideRootError). Unset: the target is taken from the root (chroot semantics).
    std::function<std::optional<std::string>(const std::string& target)> absolute_link;
};

// Refused by InRootRules: `link` -> `target` (both empty for ".." at the root).
class OutsideRootError : public Error {
public:
    OutsideRootError(const std::string& link, const std::string& target);
    [[nodiscard]] const std::string& link() const { return link_; }
    [[nodiscard]] const std::string& target() const { return target_; }

private:
    std::string link_, target_;
};

struct InRootPath {
    std::string path;  // relative to the root, no symlink in it; "" is the root
    struct stat st;    // of what it names
    unique_fd fd;      // O_PATH
};

// Resolves `path` (relative or absolute, both from the root) in the tree at root_fd with
// the walk behind open_in_root, every symlink followed (the last one too), and tells the
// path it ends at. nullopt when something on the way is missing or not a directory.
// Not safe against a concurrent renamer inside the tree (a build context is the user's).
[[nodiscard]] std::optional<InRootPath> resolve_path_in_root(int root_fd, std::string_view path,
                                                             const InRootRules& rules = {});

namespace detail {
// The userspace walk behind open_in_root (used when openat2 is unavailable); exposed so
// that tests check both give the same answers. Not safe against a concurrent renamer
// inside the tree (openat2 is): use it on trees nobody else is modifying.
[[nodiscard]] unique_fd open_in_root_walk(int root_fd, const std::filesystem::path& path, int flags, mode_t mode,
                                          Symlinks symlinks = Symlinks::follow);
// Whether openat2 with RESOLVE_IN_ROOT works here (probed once).
[[nodiscard]] bool have_openat2();
}  // namespace detail

}  // namespace imgbuild
