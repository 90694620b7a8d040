// Tar stream -> layer dir (overlay format), never writing outside the dir. See layer_tar.h.
//
// Two chained libarchive readers let one pass hash both streams: `inner_` reads in_fd
// (hashing the raw bytes: blob digest), detects and undoes the compression (gzip, bzip2,
// xz, zstd; "raw" format), `outer_` parses tar from the inner reader's output (hashing the
// decompressed bytes: diffID). Neither ever seeks or skips: skipped data still flows
// through the read callbacks, and both streams are drained to EOF after the tar ends.
//
// Path safety: every entry path is cleaned lexically (clean_path_components), then its
// parent is walked from the root one component at a time with O_NOFOLLOW|O_DIRECTORY. A
// symlink on the way is an error, never followed; the last component is created with
// *at() calls that do not follow it either (existing entries are unlinked first, files are
// created O_EXCL|O_NOFOLLOW). So a symlink the archive made earlier cannot redirect a later
// write, whatever it points to.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/scope_exit.h"
#include "oci/layer_tar.h"
#include "common/path_resolve.h"
#include "oci/tar_stream.h"

namespace imgbuild::oci {

namespace {

using namespace tar_detail;

constexpr size_t kReadChunk = 1 << 20;

struct FilterSupport {
    const char* name;
    int (*enable)(archive*);
};
// Only in-process decompressors: never archive_read_support_filter_all, never a program.
constexpr std::array<FilterSupport, 4> kFilters{{
    {"gzip", archive_read_support_filter_gzip},
    {"bzip2", archive_read_support_filter_bzip2},
    {"xz", archive_read_support_filter_xz},
    {"zstd", archive_read_support_filter_zstd},
}};

struct CompressionByCode {
    int code;
    Compression ours;
    const char* name;
};
constexpr std::array<CompressionByCode, 5> kDetected{{
    {ARCHIVE_FILTER_NONE, Compression::none, "none"},
    {ARCHIVE_FILTER_GZIP, Compression::gzip, "gzip"},
    {ARCHIVE_FILTER_BZIP2, Compression::none, "bzip2"},
    {ARCHIVE_FILTER_XZ, Compression::none, "xz"},
    {ARCHIVE_FILTER_ZSTD, Compression::zstd, "zstd"},
}};

std::string join(const std::vector<std::string>& comps, size_t n) {
    std::string out;
    for (size_t i = 0; i < n && i < comps.size(); ++i) {
        if (i) out += '/';
        out += comps[i];
    }
    return out;
}

bool under_or_equal(const std::string& path, const std::string& prefix) {
    return path == prefix || (path.size() > prefix.size() && path.starts_with(prefix) && path[prefix.size()] == '/');
}

// Removes `name` in dirfd and everything below it, never following a symlink.
void remove_all_at(int dirfd, const std::string& name, const std::string& shown) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return;
        throw_errno("stat", shown);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("unlink", shown);
        return;
    }
    {
        unique_fd dir(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir) throw_errno("open", shown);
        for (const auto& n : sorted_dir_names(dir.get(), shown)) remove_all_at(dir.get(), n, shown + "/" + n);
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno("rmdir", shown);
}

class Extractor {
public:
    Extractor(int in_fd, int dir_fd, const std::string& shown, const ExtractOptions& opts)
        : in_fd_(in_fd), in_buf_(new char[kReadChunk]), dir_(shown), opts_(opts), guard_(opts.limits) {
        root_.reset(::openat(dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_) throw_errno("open", shown);
    }
    ~Extractor() {
        if (outer_) archive_read_free(outer_);
        if (inner_) archive_read_free(inner_);
    }

    ExtractResult run() {
        ExtractResult result;
        open_inner();
        if (!empty_input_) {
            detect_compression(result);
            open_outer();
            extract_entries();
            drain_inner();
        }
        drain_fd();
        apply_deferred_dirs();
        result.diff_id = tar_hash_.finish();
        result.tar_size = tar_size_;
        result.blob_digest = blob_hash_.finish();
        result.blob_size = blob_size_;
        return result;
    }

private:
    // ---- input: in_fd -> inner (decompress) -> outer (tar) --------------------------------

    static la_ssize_t inner_read_cb(archive* a, void* self_ptr, const void** buf) {
        auto* self = static_cast<Extractor*>(self_ptr);
        for (;;) {
            ssize_t n = ::read(self->in_fd_, self->in_buf_.get(), kReadChunk);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                archive_set_error(a, errno, "read layer stream: %s", std::strerror(errno));
                return -1;
            }
            self->blob_hash_.update(self->in_buf_.get(), static_cast<size_t>(n));
            self->blob_size_ += static_cast<uint64_t>(n);
            *buf = self->in_buf_.get();
            return n;
        }
    }

    static la_ssize_t outer_read_cb(archive* a, void* self_ptr, const void** buf) {
        auto* self = static_cast<Extractor*>(self_ptr);
        size_t size = 0;
        if (!self->next_inner_block(buf, &size)) {
            archive_set_error(a, EIO, "%s", self->inner_error_.c_str());
            return -1;
        }
        return static_cast<la_ssize_t>(size);
    }

    // The next decompressed block (size 0 at the end), hashed. False on a decompression error.
    bool next_inner_block(const void** buf, size_t* size) {
        *size = 0;
        while (!inner_eof_) {
            la_int64_t offset = 0;
            int r = archive_read_data_block(inner_, buf, size, &offset);
            if (r == ARCHIVE_EOF) {
                inner_eof_ = true;
                *size = 0;
                return true;
            }
            if (r < ARCHIVE_WARN) {
                const char* msg = archive_error_string(inner_);
                inner_error_ = std::string("decompress: ") + (msg ? msg : "unknown error");
                return false;
            }
            if (*size == 0) continue;
            tar_hash_.update(*buf, *size);
            tar_size_ += *size;
            try {
                guard_.set(tar_size_, blob_size_, "layer stream");
            } catch (const Error& e) {
                inner_error_ = e.what();
                return false;
            }
            return true;
        }
        return true;
    }

    [[noreturn]] void fail(const std::string& what) const { throw Error("extract layer into " + dir_.string() + ": " + what); }

    void open_inner() {
        inner_ = archive_read_new();
        if (!inner_) fail("out of memory");
        for (const auto& f : kFilters) {
            // ARCHIVE_WARN means "will run an external program": refused.
            if (f.enable(inner_) != ARCHIVE_OK) fail(std::string("libarchive lacks built-in ") + f.name + " support");
        }
        archive_read_support_format_raw(inner_);
        int r = archive_read_open(inner_, this, nullptr, &Extractor::inner_read_cb, nullptr);
        if (r == ARCHIVE_OK) {
            archive_entry* e = nullptr;
            r = archive_read_next_header(inner_, &e);
        }
        if (r == ARCHIVE_OK || r == ARCHIVE_WARN) return;
        // The raw format refuses zero bytes: an empty stream is an empty layer (as Go reads it).
        if (blob_size_ == 0) {
            empty_input_ = true;
            return;
        }
        const char* msg = archive_error_string(inner_);
        fail(std::string("cannot read the stream: ") + (msg ? msg : "unknown error"));
    }

    void detect_compression(ExtractResult& result) {
        // Filter count-1 is the client reader; count-2 the outermost decompressor.
        int count = archive_filter_count(inner_);
        int code = count >= 2 ? archive_filter_code(inner_, count - 2) : ARCHIVE_FILTER_NONE;
        for (const auto& d : kDetected) {
            if (d.code == code) {
                result.compression = d.ours;
                result.compression_name = d.name;
                return;
            }
        }
        fail("unsupported compression " + std::to_string(code));
    }

    void open_outer() {
        outer_ = archive_read_new();
        if (!outer_) fail("out of memory");
        archive_read_support_format_tar(outer_);
        if (archive_read_open(outer_, this, nullptr, &Extractor::outer_read_cb, nullptr) != ARCHIVE_OK)
            fail(archive_error_string(outer_) ? archive_error_string(outer_) : "cannot open tar reader");
    }

    void drain_inner() {
        const void* buf = nullptr;
        size_t size = 0;
        do {
            if (!next_inner_block(&buf, &size)) fail(inner_error_);
        } while (size > 0);
    }

    void drain_fd() {
        for (;;) {
            ssize_t n = ::read(in_fd_, in_buf_.get(), kReadChunk);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("read", "layer stream");
            if (n == 0) return;
            blob_hash_.update(in_buf_.get(), static_cast<size_t>(n));
            blob_size_ += static_cast<uint64_t>(n);
        }
    }

    // ---- entries -------------------------------------------------------------------------

    void extract_entries() {
        std::string previous = "(start of archive)";
        for (;;) {
            archive_entry* e = nullptr;
            int r = archive_read_next_header(outer_, &e);
            if (r == ARCHIVE_EOF) return;
            if (r < ARCHIVE_WARN) {
                const char* msg = archive_error_string(outer_);
                fail(std::string("bad tar after entry \"") + previous + "\": " + (msg ? msg : "unknown error"));
            }
            const char* raw = archive_entry_pathname(e);
            if (!raw) raw = archive_entry_pathname_utf8(e);
            if (!raw) fail("entry after \"" + previous + "\" has an unreadable path");
            previous = raw;
            try {
                extract_entry(e, raw);
            } catch (const SystemError& err) {
                throw SystemError(err.error_number(),
                                  "extract layer into " + dir_.string() + ": entry \"" + raw + "\": " + err.what());
            }
        }
    }

    [[noreturn]] void hostile(const std::string& entry, const std::string& why) const {
        fail("entry \"" + entry + "\": " + why);
    }

    // Opens the directory comps[0..n) from the root without following any symlink,
    // creating missing dirs when `create`. Returns an invalid fd when `soft` and the
    // path is not there (or not a dir), otherwise throws naming `entry`.
    unique_fd walk(const std::vector<std::string>& comps, size_t n, bool create, const std::string& entry,
                   bool soft = false) {
        unique_fd cur(::openat(root_.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!cur) throw_errno("open", dir_.string());
        for (size_t i = 0; i < n; ++i) {
            const std::string& c = comps[i];
            int fd = ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT && create) {
                if (::mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir", join(comps, i + 1));
                fd = ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (fd < 0) {
                int err = errno;
                if (soft && (err == ENOENT || err == ENOTDIR || err == ELOOP)) return unique_fd();
                struct stat st;
                if ((err == ENOTDIR || err == ELOOP) && ::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                    if (S_ISLNK(st.st_mode))
                        hostile(entry, "\"" + join(comps, i + 1) + "\" is a symlink; refusing to extract through it");
                    hostile(entry, "\"" + join(comps, i + 1) + "\" is not a directory");
                }
                throw_errno(err, "open", join(comps, i + 1));
            }
            cur.reset(fd);
        }
        return cur;
    }

    // The existing dir holding comps.back() (invalid fd when missing), as the options say
    // symlinks in the target are treated.
    unique_fd dir_of(const std::vector<std::string>& comps, const std::string& entry) {
        if (!opts_.follow_symlinks_in_target) return walk(comps, comps.size() - 1, false, entry, true);
        try {
            return open_in_root(root_.get(), join(comps, comps.size() - 1), O_PATH | O_DIRECTORY);
        } catch (const SystemError& e) {
            if (e.error_number() == ENOENT || e.error_number() == ENOTDIR || e.error_number() == ELOOP) return {};
            throw;
        }
    }

    // The parent dir of an entry, cached: consecutive entries mostly share it.
    int parent_dir(const std::vector<std::string>& comps, const std::string& entry) {
        std::string parent = join(comps, comps.size() - 1);
        if (!cache_fd_ || parent != cache_path_) {
            cache_fd_.reset();
            cache_fd_ = opts_.follow_symlinks_in_target ? mkdirs_in_root(root_.get(), parent)
                                                        : walk(comps, comps.size() - 1, true, entry);
            cache_path_ = parent;
        }
        return cache_fd_.get();
    }

    // Something at `path` is going away: forget a cached fd at or below it.
    void invalidate(const std::string& path) {
        if (cache_fd_ && under_or_equal(cache_path_, path)) cache_fd_.reset();
    }

    // Clears the way for a new entry at (dirfd, name). Returns true when a directory is
    // there and stays (dir over dir merges).
    bool clear_path(int dirfd, const std::string& name, const std::string& path, bool new_is_dir) {
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) return false;
            throw_errno("stat", path);
        }
        if (S_ISDIR(st.st_mode)) {
            if (new_is_dir) return true;
            invalidate(path);
            remove_all_at(dirfd, name, path);
            return false;
        }
        if (::unlinkat(dirfd, name.c_str(), 0) != 0) throw_errno("unlink", path);
        return false;
    }

    void extract_entry(archive_entry* e, const std::string& raw) {
        auto cleaned = clean_path_components(raw);
        if (!cleaned) hostile(raw, "path climbs out of the layer root");
        std::vector<std::string>& comps = *cleaned;
        mode_t type = archive_entry_filetype(e);
        const char* hardlink = archive_entry_hardlink(e);
        if (!hardlink) hardlink = archive_entry_hardlink_utf8(e);

        if (comps.empty()) {  // "./" or "/": the layer root itself
            if (type != AE_IFDIR || hardlink) hostile(raw, "the layer root must be a directory");
            if (!opts_.apply_root_entry) return;
            unique_fd fd(::openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!fd) throw_errno("open", dir_.string());
            finish_dir(fd.get(), e, "", raw);
            return;
        }
        const std::string name = comps.back();
        const std::string path = join(comps, comps.size());

        if (name.starts_with(".wh..wh.") && !(opts_.whiteouts && name == kOpaqueMarker))
            return;  // aufs bookkeeping (.wh..wh.plnk etc.): not content
        if (name == kOpaqueMarker) {
            comps.pop_back();
            unique_fd d = walk(comps, comps.size(), true, raw);
            if (opts_.opaque_clears) {
                const std::string dir_path = join(comps, comps.size());
                unique_fd rd(::openat(d.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (!rd) throw_errno("open", dir_path);
                for (const auto& n : sorted_dir_names(rd.get(), dir_path)) {
                    invalidate(dir_path.empty() ? n : dir_path + "/" + n);
                    remove_all_at(rd.get(), n, dir_path + "/" + n);
                }
            }
            mark_opaque(d.get(), raw);
            return;
        }
        if (opts_.whiteouts && name.starts_with(kWhiteoutPrefix)) {
            std::string target = name.substr(kWhiteoutPrefix.size());
            if (target.empty() || target == "." || target == "..") hostile(raw, "bad whiteout name");
            comps.back() = target;
            whiteout(parent_dir(comps, raw), target, join(comps, comps.size()), e, raw);
            return;
        }

        int parent = parent_dir(comps, raw);
        if (hardlink) {
            link_entry(parent, name, path, hardlink, raw);
            return;
        }
        switch (type) {
            case AE_IFDIR: directory(parent, name, path, e, raw); break;
            case AE_IFREG: regular_file(parent, name, path, e, raw); break;
            case AE_IFLNK: symlink_entry(parent, name, path, e, raw); break;
            case AE_IFCHR:
            case AE_IFBLK:
            case AE_IFIFO: special_file(parent, name, path, type, e, raw); break;
            default: hostile(raw, "unsupported entry type " + std::to_string(type));
        }
    }

    void whiteout(int parent, const std::string& target, const std::string& path, archive_entry* e,
                  const std::string& raw) {
        clear_path(parent, target, path, false);
        if (::mknodat(parent, target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) throw_errno("mknod whiteout", path);
        chown_at(parent, target, path, e);
        set_times_at(parent, target, path, e);
        (void)raw;
    }

    void mark_opaque(int dirfd, const std::string& raw) {
        std::string key(opaque_xattr(opts_.rootless));
        std::string p = "/proc/self/fd/" + std::to_string(dirfd);
        if (::setxattr(p.c_str(), key.c_str(), "y", 1, 0) != 0) throw_errno("setxattr " + key, raw);
    }

    void link_entry(int parent, const std::string& name, const std::string& path, const std::string& target_raw,
                    const std::string& raw) {
        auto target = clean_path_components(target_raw);
        if (!target) hostile(raw, "hardlink target \"" + target_raw + "\" climbs out of the layer root");
        if (target->empty()) hostile(raw, "hardlink to the layer root");
        std::string target_path = join(*target, target->size());
        if (target_path == path) return;  // a link to itself: nothing to do
        unique_fd tdir = dir_of(*target, raw);
        struct stat st;
        if (!tdir || ::fstatat(tdir.get(), target->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            hostile(raw, "hardlink target \"" + target_raw + "\" is not in the layer");
        if (S_ISDIR(st.st_mode)) hostile(raw, "hardlink target \"" + target_raw + "\" is a directory");
        clear_path(parent, name, path, false);
        if (::linkat(tdir.get(), target->back().c_str(), parent, name.c_str(), 0) != 0) throw_errno("link", path);
    }

    void directory(int parent, const std::string& name, const std::string& path, archive_entry* e,
                   const std::string& raw) {
        if (!clear_path(parent, name, path, true)) {
            if (::mkdirat(parent, name.c_str(), 0700) != 0) throw_errno("mkdir", path);
        }
        int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw_errno("open", path);
        unique_fd d(fd);
        finish_dir(d.get(), e, path, raw);
    }

    // Owner and xattrs now; mode and times once every child is in (children would change
    // the mtime, and a read-only mode would stop an unprivileged extraction).
    void finish_dir(int fd, archive_entry* e, const std::string& path, const std::string& raw) {
        if (::fchown(fd, uid_of(e), gid_of(e)) != 0) chown_failed(path);
        apply_xattrs(e, raw, [&](const char* k, const void* v, size_t n) { return ::fsetxattr(fd, k, v, n, 0); });
        dirs_.push_back({path, perm_of(e), entry_times(e)});
    }

    void regular_file(int parent, const std::string& name, const std::string& path, archive_entry* e,
                      const std::string& raw) {
        clear_path(parent, name, path, false);
        int fd = ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) throw_errno("create", path);
        unique_fd f(fd);
        int64_t end = 0;
        for (;;) {
            const void* buf = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            int r = archive_read_data_block(outer_, &buf, &size, &offset);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) {
                const char* msg = archive_error_string(outer_);
                hostile(raw, std::string("reading data: ") + (msg ? msg : "unknown error"));
            }
            pwrite_all(fd, buf, size, offset, path);
            end = std::max<int64_t>(end, offset + static_cast<int64_t>(size));
        }
        // Sparse entries may end in a hole.
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > end && ::ftruncate(fd, archive_entry_size(e)) != 0)
            throw_errno("truncate", path);
        // Order matters: chown clears setuid bits and capabilities, so mode and xattrs follow it.
        if (::fchown(fd, uid_of(e), gid_of(e)) != 0) chown_failed(path);
        if (::fchmod(fd, perm_of(e)) != 0) throw_errno("chmod", path);
        apply_xattrs(e, raw, [&](const char* k, const void* v, size_t n) { return ::fsetxattr(fd, k, v, n, 0); });
        auto times = entry_times(e);
        if (::futimens(fd, times.data()) != 0) throw_errno("utimens", path);
    }

    void symlink_entry(int parent, const std::string& name, const std::string& path, archive_entry* e,
                       const std::string& raw) {
        const char* target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target || !*target) hostile(raw, "symlink without a target");
        clear_path(parent, name, path, false);
        // The target is stored as is: it is only ever resolved inside a container's root.
        if (::symlinkat(target, parent, name.c_str()) != 0) throw_errno("symlink", path);
        chown_at(parent, name, path, e);
        set_xattrs_at(parent, name, e, raw);
        set_times_at(parent, name, path, e);
    }

    void special_file(int parent, const std::string& name, const std::string& path, mode_t type, archive_entry* e,
                      const std::string& raw) {
        clear_path(parent, name, path, false);
        dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (::mknodat(parent, name.c_str(), type | 0600, dev) != 0) {
            if (opts_.rootless && errno == EPERM && type != AE_IFIFO) return device_placeholder(parent, name, path, e, raw);
            throw_errno("mknod", path);
        }
        chown_at(parent, name, path, e);
        // We just created it as a device or fifo: fchmodat cannot meet a symlink here.
        if (::fchmodat(parent, name.c_str(), perm_of(e), 0) != 0) throw_errno("chmod", path);
        set_xattrs_at(parent, name, e, raw);
        set_times_at(parent, name, path, e);
    }

    // Rootless, the kernel refuses mknod of a char or block device (only 0:0 whiteouts are
    // allowed). Skipping the entry, as moby's and containers/storage's archive code do in a
    // user namespace, would let a file of a lower layer at the same path show through; an
    // empty regular file with mode 0 (owned as the entry says) shadows it as the device
    // would, and a container's /dev is its own tmpfs anyway. docs/rootless.md.
    void device_placeholder(int parent, const std::string& name, const std::string& path, archive_entry* e,
                            const std::string& raw) {
        log::warn("extract " + dir_.string() + ": device node \"" + raw +
                  "\" cannot be made rootless: an empty file with mode 0 stands in for it");
        unique_fd fd(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
        if (!fd) throw_errno("create placeholder for device", path);
        if (::fchown(fd.get(), uid_of(e), gid_of(e)) != 0) chown_failed(path);
        if (::fchmod(fd.get(), 0) != 0) throw_errno("chmod", path);
        apply_xattrs(e, raw, [&](const char* k, const void* v, size_t n) { return ::fsetxattr(fd.get(), k, v, n, 0); });
        auto times = entry_times(e);
        if (::futimens(fd.get(), times.data()) != 0) throw_errno("utimens", path);
    }

    // ---- metadata helpers ----------------------------------------------------------------

    [[nodiscard]] uid_t uid_of(archive_entry* e) const {
        return opts_.uid ? *opts_.uid : static_cast<uid_t>(archive_entry_uid(e));
    }
    [[nodiscard]] gid_t gid_of(archive_entry* e) const {
        return opts_.gid ? *opts_.gid : static_cast<gid_t>(archive_entry_gid(e));
    }
    [[nodiscard]] mode_t perm_of(archive_entry* e) const {
        return opts_.perm ? (*opts_.perm & 07777) : archive_entry_perm(e);
    }

    void chown_failed(const std::string& path) {
        if (opts_.rootless && (errno == EPERM || errno == EINVAL)) {  // an id the user namespace does not map
            if (!warned_unmapped_) log::warn("extract " + dir_.string() + ": " + path +
                                             ": its owner is not mapped in the rootless user namespace (too few "
                                             "subordinate ids in /etc/subuid, /etc/subgid?): it stays root's");
            warned_unmapped_ = true;
            return;
        }
        throw_errno("chown", path);
    }

    void chown_at(int parent, const std::string& name, const std::string& path, archive_entry* e) {
        if (::fchownat(parent, name.c_str(), uid_of(e), gid_of(e), AT_SYMLINK_NOFOLLOW) != 0)
            chown_failed(path);
    }

    static std::array<timespec, 2> entry_times(archive_entry* e) {
        timespec mtime{archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        timespec atime = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                                                       : mtime;
        return {atime, mtime};
    }

    void set_times_at(int parent, const std::string& name, const std::string& path, archive_entry* e) {
        auto times = entry_times(e);
        if (::utimensat(parent, name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) throw_errno("utimens", path);
    }

    void set_xattrs_at(int parent, const std::string& name, archive_entry* e, const std::string& raw) {
        std::string p = fd_relative_path(parent, name);
        apply_xattrs(e, raw, [&](const char* k, const void* v, size_t n) { return ::lsetxattr(p.c_str(), k, v, n, 0); });
    }

    template <typename Set>
    void apply_xattrs(archive_entry* e, const std::string& raw, Set set) {
        if (archive_entry_xattr_reset(e) == 0) return;
        const char* key = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
            if (!key || is_private_xattr(key)) continue;
            if (opts_.keep_xattr && !opts_.keep_xattr(key)) continue;
            if (set(key, value, size) == 0) continue;
            if (opts_.xattr_errors_warn) {
                log::warn("cannot set xattr " + std::string(key) + " on " + dir_.string() + "/" + raw + ": " +
                          describe_errno(errno));
                continue;
            }
            if (errno == ENOTSUP || errno == EOPNOTSUPP) continue;  // the filesystem has no such namespace
            // The kernel allows user.* only on files and dirs, never on symlinks or devices.
            if (errno == EPERM && std::string_view(key).starts_with("user.")) continue;
            if (opts_.rootless && (errno == EPERM || errno == EACCES)) continue;
            throw_errno(std::string("setxattr ") + key, raw);
        }
    }

    struct DeferredDir {
        std::string path;  // "" is the root
        mode_t mode;
        std::array<timespec, 2> times;
    };

    void apply_deferred_dirs() {
        for (const DeferredDir& d : dirs_) {
            unique_fd fd;
            if (d.path.empty()) {
                fd.reset(::openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            } else {
                auto comps = *clean_path_components(d.path);
                unique_fd parent = dir_of(comps, d.path);
                if (!parent) continue;  // replaced by a later entry
                fd.reset(::openat(parent.get(), comps.back().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            }
            if (!fd) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;  // replaced later
                throw_errno("open", d.path);
            }
            if (::fchmod(fd.get(), d.mode) != 0) throw_errno("chmod", d.path);
            if (::futimens(fd.get(), d.times.data()) != 0) throw_errno("utimens", d.path);
        }
    }

    int in_fd_;
    std::unique_ptr<char[]> in_buf_;
    fs::path dir_;
    ExtractOptions opts_;
    bool warned_unmapped_ = false;  // one warning per archive
    ExpansionGuard guard_;
    unique_fd root_;
    archive* inner_ = nullptr;
    archive* outer_ = nullptr;
    bool inner_eof_ = false;
    bool empty_input_ = false;
    std::string inner_error_;
    Sha256 blob_hash_;
    uint64_t blob_size_ = 0;
    Sha256 tar_hash_;
    uint64_t tar_size_ = 0;
    std::string cache_path_;
    unique_fd cache_fd_;
    std::vector<DeferredDir> dirs_;
};

}  // namespace

bool is_tar_stream(int fd) {
    if (::lseek(fd, 0, SEEK_SET) != 0) return false;
    bool is_tar = false;
    {
        archive* a = archive_read_new();
        if (!a) return false;
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        for (const auto& f : kFilters) (void)f.enable(a);
        archive_entry* e = nullptr;
        is_tar = archive_read_open_fd(a, fd, 1 << 16) == ARCHIVE_OK && archive_read_next_header(a, &e) == ARCHIVE_OK;
        archive_read_free(a);
    }
    (void)::lseek(fd, 0, SEEK_SET);
    return is_tar;
}

ExtractResult extract_layer_tar(int in_fd, int dir_fd, const std::string& shown, const ExtractOptions& opts) {
    ScopedTarLocale locale;
    Extractor x(in_fd, dir_fd, shown, opts);
    return x.run();
}

ExtractResult extract_layer_tar(int in_fd, const fs::path& dir, const ExtractOptions& opts) {
    unique_fd d = open_or_throw(dir, O_PATH | O_DIRECTORY);
    return extract_layer_tar(in_fd, d.get(), dir.string(), opts);
}

}  // namespace imgbuild::oci
