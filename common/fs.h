#pragma once
// Filesystem helpers whose errors name the operation and the path.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/unique_fd.h"

namespace imgbuild {

namespace fs = std::filesystem;

[[nodiscard]] unique_fd open_or_throw(const fs::path& path, int flags, mode_t mode = 0644);
[[nodiscard]] unique_fd openat_or_throw(int dirfd, const fs::path& path, int flags, mode_t mode = 0644);

// The sha256 of everything `fd` yields from its current offset to EOF, read in 1 MiB chunks
// (bounded memory whatever the size). Throws SystemError naming the path on a read error.
[[nodiscard]] Digest hash_to_end(int fd, const fs::path& path_for_errors);

// Whole small files (configs, manifests, metadata). Not for layers: those stream.
[[nodiscard]] std::string read_file(const fs::path& path);
// As write_all at `offset` (pwrite). A write that makes no progress is ENOSPC, never a stale errno.
void pwrite_all(int fd, const void* data, size_t size, int64_t offset, const std::filesystem::path& path_for_errors);
void write_all(int fd, std::string_view data, const fs::path& path_for_errors);

// How much a write must survive. Both are atomic against a kill (temp file + rename); only
// `durable` also survives a power loss (fsync of the file and of its directory). Data that
// is verified when read and merely costs a recomputation when lost (build cache entries,
// intermediate configs) is written `relaxed`: fsyncs are the bulk of a RUN step's overhead.
enum class Durability { durable, relaxed };

// Writes `data` to `path` atomically: a temp file in `tmp_dir` (same filesystem), (fsync,)
// rename over `path`, (fsync of the parent dir). A crash leaves the old file or the new one.
void atomic_write_file(const fs::path& path, std::string_view data, const fs::path& tmp_dir,
                       Durability durability = Durability::durable);

void fsync_path(const fs::path& path);
void fsync_dir(const fs::path& dir);
void make_dirs(const fs::path& dir, mode_t mode = 0755);
// Removes a tree; missing is fine. Errors name the path.
void remove_tree(const fs::path& path);
// rename(2) with an error naming both paths.
void rename_or_throw(const fs::path& from, const fs::path& to);

// A fresh directory under `parent` (mkdtemp); removed on destruction unless released.
class TempDir {
public:
    explicit TempDir(const fs::path& parent, std::string_view prefix = "tmp");
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&&) = delete;
    TempDir(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const fs::path& path() const { return path_; }
    fs::path release();

private:
    fs::path path_;
};

// A file being written in `dir` (same filesystem as its destination): commit() fsyncs it
// per `durability`, renames it over `dest` (and fsyncs dest's dir when durable). Removed on
// every other path (an exception, a failed commit). The one temp-file-and-rename of the code.
class TempFile {
public:
    TempFile(const fs::path& dir, std::string_view prefix = "write");
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile();
    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] const fs::path& path() const { return path_; }
    void write(std::string_view data) { write_all(fd_.get(), data, path_); }
    void commit(const fs::path& dest, Durability durability);

private:
    fs::path path_;
    unique_fd fd_;
    bool committed_ = false;
};

// The names in the directory `dirfd` (without . and ..), byte-sorted: walks that must be
// deterministic (layer tars, cache digests, copies) list directories through this.
[[nodiscard]] std::vector<std::string> sorted_dir_names(int dirfd, const std::string& path_for_errors);

// A random lowercase hex id of `bytes` bytes (container ids, temp names).
[[nodiscard]] std::string random_hex(size_t bytes);

// A pipe, both ends O_CLOEXEC. Throws SystemError naming `what` ("container start report").
struct Pipe {
    unique_fd read, write;
};
[[nodiscard]] Pipe make_pipe(const char* what);

// A connected AF_UNIX stream socket pair, both ends O_CLOEXEC (a send to a closed peer is
// EPIPE with MSG_NOSIGNAL, where a pipe raises SIGPIPE). Throws SystemError naming `what`.
struct SocketPair {
    unique_fd parent, child;
};
[[nodiscard]] SocketPair make_socket_pair(const char* what);

}  // namespace imgbuild

namespace imgbuild {

// An output file that appears at `target` only when complete: an unnamed O_TMPFILE in the
// target's directory, linked in and renamed over the target by commit(). A kill at any
// point leaves nothing behind (where O_TMPFILE is not supported, a uniquely named
// `.<name>.partial-<hex>` beside the target, removed on destruction unless committed).
class OutputFile {
public:
    explicit OutputFile(fs::path target, mode_t mode = 0644);
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;
    ~OutputFile();
    [[nodiscard]] int fd() const { return fd_.get(); }
    void commit();

private:
    fs::path target_, named_;  // named_: the fallback's name, empty with O_TMPFILE
    unique_fd fd_;
    bool committed_ = false;
};

}  // namespace imgbuild
