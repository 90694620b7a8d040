#pragma once
// The COPY/ADD file engine: copies already-matched sources into a container root (the
// step's merged overlay view), with Docker's (BuildKit's) semantics. Every destination
// path is resolved INSIDE dest_root_fd (open_in_root): an image symlink /var/run ->
// /run puts files in the image's /run and an absolute symlink never reaches the host.
#include <sys/types.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::builder {

class IgnoreMatcher;

struct CopySource {
    CopySource() = default;
    CopySource(int root_fd_, std::string path_, std::string name_ = {})
        : root_fd(root_fd_), path(std::move(path_)), name(std::move(name_)) {}

    int root_fd = -1;  // the context dir or another stage's rootfs (any fd usable with openat)
    // Relative to root_fd. A symlink on the way (the source itself too) is followed inside
    // that root; symlinks below a copied directory are copied as symlinks.
    std::string path;
    // The name a non-directory source lands under in a destination directory; empty means
    // the last component of `path`. (BuildContext::copy_source sets it to the name as
    // written when `path` is a resolved symlink.)
    std::string name;
    // COPY --parents: only the entries below `path` that this matches (paths relative to
    // `path`, moby/patternmatcher rules) are copied, with the directories that lead to them;
    // null: everything.
    std::shared_ptr<const IgnoreMatcher> include;
};

struct CopySpec {
    std::vector<CopySource> sources;  // already matched (wildcards expanded), in order
    std::string dest;                 // absolute path in the container (WORKDIR joined)
    bool dest_trailing_slash = false; // dest ended in '/' (or "/."): it is a directory
    // The instruction had several sources or a wildcard. With more than one source the
    // destination must end in '/' (Docker's error otherwise).
    bool multiple_sources_pattern = false;
    // --chown, resolved by the caller. Unset: 0:0, or the source's owner when
    // preserve_ownership (COPY --from, as BuildKit and the classic builder do).
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    bool preserve_ownership = false;
    std::optional<mode_t> mode;  // --chmod: replaces the permission bits of every file and dir copied
    // ADD: a source that is a tar (plain, gzip, bzip2, xz or zstd, detected by CONTENT, not
    // by name) is extracted into dest (a directory) instead of copied.
    bool extract_archives = false;
    // Context sources: paths (relative to the source's root) excluded here are not copied.
    const IgnoreMatcher* ignore = nullptr;
    // COPY/ADD --exclude: entries below each source (paths relative to that source, as
    // BuildKit's copy matches them; the source itself is never excluded) are not copied.
    const IgnoreMatcher* exclude = nullptr;
};

// Copies every source to spec.dest in dest_root_fd. Rules (Docker):
//   - a directory copies its CONTENTS into dest, which is created if missing;
//   - a file to "dest/" lands at dest/<name>; to "dest" it is written at dest, unless dest
//     already is a directory (after following symlinks in the root): then dest/<name>;
//   - missing parents of dest are created 0755, owned by --chown's user (else root), as
//     BuildKit's MkdirAll; existing directories keep their owner and mode;
//   - files keep their permission bits (setuid/setgid/sticky too) and mtimes; directories
//     created by the copy get the source's mode and mtime;
//   - symlinks below a copied dir stay symlinks (never followed); hardlinks among the
//     copied files stay hardlinks; xattrs user.* and security.capability are copied;
//     device nodes and fifos are recreated; sockets are skipped;
//   - an existing non-directory at a destination path is replaced; a file or symlink over
//     an existing directory, or a directory over an existing file, is an Error naming both.
// Data is copied with copy_file_range (sendfile, read/write as fallbacks): never held in
// memory. Throws Error/SystemError naming the paths; dest may be partly written then.
void copy_into_root(int dest_root_fd, const CopySpec& spec);

// Writes `content` as the file dest_path (absolute in the container; parents created 0755
// root-owned) with mode/owner; for COPY <<EOF heredocs. Replaces an existing file.
void write_file_in_root(int dest_root_fd, const std::string& dest_path, std::string_view content, mode_t mode,
                        uid_t uid, gid_t gid);

// ADD <url>: places the downloaded temp file (read from its start; not moved or closed)
// at dest: dest/<url_basename> when dest ends in '/' or is an existing directory, else
// dest itself. Docker's defaults: mode 0600, mtime from Last-Modified when known.
void place_downloaded_file(int dest_root_fd, const std::string& dest, bool dest_trailing_slash,
                           const std::string& url_basename, int fd_of_downloaded_tmp_file, mode_t mode = 0600,
                           uid_t uid = 0, gid_t gid = 0, std::optional<timespec> mtime = std::nullopt);

// Whether the file behind fd is a tar stream (plain, gzip, bzip2, xz or zstd), judged by
// its content: the first tar header must parse. Reads through pread-like access from
// offset 0; the offset is left at 0.
[[nodiscard]] bool is_tar_archive(int fd);

}  // namespace imgbuild::builder
