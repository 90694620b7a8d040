#pragma once
// Layer tars: the deterministic writer (layer dir in overlay format -> tar stream) and the
// safe extractor (tar stream -> layer dir in overlay format). See DESIGN.md §4.
//
// Overlay format <-> tar:
//   char device 0:0 `name`                     <-> regular empty file `.wh.name`
//   dir with trusted.overlay.opaque=y           <-> the dir plus an empty file `dir/.wh..wh..opq`
//     (user.overlay.opaque=y when rootless)
// Overlay-private xattrs (trusted.overlay.*, user.overlay.*) never enter a tar and are never
// taken from one; security.selinux is host policy and is not recorded either.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/user_namespace.h"
#include "oci/compression.h"
#include "oci/expansion_limit.h"

namespace imgbuild::oci {

struct TarWriteOptions {
    Compression compression = Compression::none;
    // mtimes later than this are clamped to it (the caller reads SOURCE_DATE_EPOCH).
    std::optional<int64_t> source_date_epoch;
    // Opaque dirs are marked with user.overlay.opaque instead of trusted.overlay.opaque
    // (a store written in the rootless user namespace).
    bool rootless = in_user_namespace();
    // Called with the lstat of every entry below `dir` as the walk meets it (sockets too, `dir`
    // itself not): a caller that wants a per-entry summary (layerstore's stamp) needs no
    // second walk.
    std::function<void(const struct stat&)> on_entry = nullptr;
};

struct LayerDigests {
    Digest diff_id = Digest::of("");  // sha256 of the uncompressed tar
    uint64_t tar_size = 0;
    Digest blob_digest = Digest::of("");  // sha256 of the bytes written; == diff_id when uncompressed
    uint64_t blob_size = 0;
};

// Streams the deterministic tar of `dir` (a layer in overlay format; `dir` itself is not an
// entry) to out_fd, compressed as asked; out_fd = -1 computes the digests and writes nothing.
// Deterministic: entries in path order (depth first, names byte-sorted), numeric owners with
// empty user/group names, PAX format, mtimes in whole seconds (clamped to
// source_date_epoch), no atime/ctime. Hardlinks (same dev/ino, nlink > 1) become link
// entries to the first path in that order. Sockets are skipped. Memory stays bounded: file
// data is read by the walk into 1 MiB segments (at most 2 queued), hashed, compressed and
// written on a second thread (oci/tar_output_pipe.h). Throws Error naming the path on failure.
LayerDigests write_layer_tar(const std::filesystem::path& dir, int out_fd, const TarWriteOptions& opts);

struct ExtractOptions {
    // Opaque dirs get user.overlay.opaque; failures to chown and to set privileged xattrs
    // are tolerated (skipped) instead of fatal; char and block devices, which the kernel
    // will not make, become empty regular files with mode 0 (a warning names each).
    bool rootless = in_user_namespace();
    // Decompression bomb guard (expansion_limit.h); applies to the decompressed stream.
    ExpansionLimits limits = expansion_limits_from_env();

    // The rest is the shape of containerd's archive.Apply options, for ADD of a local
    // archive (defaults: a layer).
    // Whiteouts (.wh.name, .wh..wh..opq) become overlay whiteouts and opaque dirs. Off
    // (ADD, as Docker's Untar): they are plain files; aufs bookkeeping (.wh..wh.*) is
    // skipped either way.
    bool whiteouts = true;
    // Symlinks already in the target (the image's lib -> usr/lib) are followed for an
    // entry's parent dirs, resolved with the target as root (open_in_root semantics: never
    // outside it), as Docker's chrootarchive does. Off (layers): such an entry is refused.
    bool follow_symlinks_in_target = false;
    // Overrides (ADD --chown, --chmod): every entry gets this owner / permission bits.
    std::optional<uint32_t> uid, gid;
    std::optional<uint32_t> perm;
    // Which xattrs to apply (nullptr: all but the private ones); with xattr_errors_warn,
    // failing to set one is a warning, not an error.
    bool (*keep_xattr)(std::string_view name) = nullptr;
    bool xattr_errors_warn = false;
    // The "./" entry changes the target dir's owner, mode and times (a layer root); off
    // (ADD): the existing destination dir keeps its metadata.
    bool apply_root_entry = true;
    // Applying a layer onto a dir that already holds lower layers (build --squash): an
    // opaque marker first empties its dir of what is there (the lower layers' entries;
    // the marker comes right after its dir, before this layer's own entries).
    bool opaque_clears = false;
};

struct ExtractResult {
    Digest diff_id = Digest::of("");  // sha256 of the decompressed tar stream, to its very end
    uint64_t tar_size = 0;
    Digest blob_digest = Digest::of("");  // sha256 of every byte read from in_fd
    uint64_t blob_size = 0;
    // gzip and zstd map to ours; plain, bzip2 and xz input report Compression::none and
    // say which in compression_name ("none", "gzip", "bzip2", "xz", "zstd").
    Compression compression = Compression::none;
    std::string compression_name = "none";
};

// Reads a tar stream (gzip, bzip2, xz, zstd or plain, detected by content; no external
// programs) from in_fd to EOF and extracts it into `dir` (must exist) in overlay format.
//
// Never writes outside `dir`:
//   - absolute paths are contained: "/etc/x" is extracted as dir/etc/x;
//   - ".." is resolved lexically and an entry or hardlink target that climbs above `dir` is
//     rejected ("../x", "a/../../x");
//   - no symlink is ever followed while extracting: an entry below a symlink ("a/x" after
//     the symlink "a") is rejected, an existing symlink at an entry's own path is replaced;
//   - hardlink targets must be entries already inside `dir`.
// A later entry with the same path replaces the earlier one (dir over dir merges).
// Ownership, modes (setuid too), mtimes and xattrs are applied; directory modes and mtimes
// are applied last. Throws Error naming the entry on a bad or hostile archive; `dir` is then
// left partly extracted (the caller extracts into a temp dir and discards it).
ExtractResult extract_layer_tar(int in_fd, const std::filesystem::path& dir, const ExtractOptions& opts);
// The same into an open directory (O_PATH is enough), e.g. one resolved inside a
// container root; `shown` names it in errors.
ExtractResult extract_layer_tar(int in_fd, int dir_fd, const std::string& shown, const ExtractOptions& opts);

// Whether the file behind fd is a tar stream (plain, gzip, bzip2, xz or zstd), judged by
// its content: the first tar header must parse. Reads from offset 0 and leaves the
// offset at 0.
[[nodiscard]] bool is_tar_stream(int fd);

// Compresses a stream (save/push compress an uncompressed tar): write() plain bytes, then
// finish(). Writes the compressed bytes to out_fd (-1: compute digests only). diff_id is the
// sha256 of the input, blob_digest that of the output. Both compressors use every CPU and
// their output is deterministic, the same for any thread count (gzip: 1 MiB members, level
// 6, no name or mtime, oci/parallel_gzip.h; zstd: level 3 with checksum, libzstd workers).
class CompressingWriter {
public:
    CompressingWriter(int out_fd, Compression c);
    ~CompressingWriter();
    CompressingWriter(const CompressingWriter&) = delete;
    CompressingWriter& operator=(const CompressingWriter&) = delete;
    void write(const void* data, size_t n);
    // Flushes the compressor and the output; call once.
    LayerDigests finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace imgbuild::oci
