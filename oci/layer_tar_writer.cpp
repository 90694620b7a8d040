// Layer dir (overlay format) -> deterministic tar stream. See layer_tar.h for the contract.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <exception>
#include <map>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/scope_exit.h"
#include "oci/layer_tar.h"
#include "oci/tar_output_pipe.h"
#include "oci/tar_stream.h"

namespace imgbuild::oci {

namespace tar_detail {
std::string fd_relative_path(int dirfd, const std::string& name) {
    return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

ScopedTarLocale::ScopedTarLocale() {
    mine_ = ::newlocale(LC_ALL_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (!mine_) mine_ = ::newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    if (mine_) previous_ = ::uselocale(mine_);
}

ScopedTarLocale::~ScopedTarLocale() {
    if (!mine_) return;
    ::uselocale(previous_);
    ::freelocale(mine_);
}
}  // namespace tar_detail

namespace {

using namespace tar_detail;

// What write_cb receives in place of a regular file's data: libarchive, writing with no
// blocking, passes archive_write_data's pointer straight to the callback and never reads it
// (the pax writer has no sparse map for our entries, and no filter is set), so the file's
// bytes need not be in memory here; the pipe reads them (TarOutputPipe::file_data). Inaccessible
// memory: if libarchive ever read through it, that would be a crash, never a wrong digest.
const char* file_data_marker() {
    static const char* marker = [] {
        void* p = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw_errno("mmap", "the tar writer's file-data marker");
        return static_cast<const char*>(p);
    }();
    return marker;
}

// All xattrs of the entry `name` in dirfd, sorted by name (the tar must not depend on the
// order the filesystem lists them in). `shown` names the entry in errors. With `fd` (the
// entry opened: regular files and dirs) the f*xattr calls are used, which skip the path
// walk through /proc that the l*xattr calls need (a tenth of the walk's time).
std::vector<Xattr> read_xattrs(int fd, int dirfd, const std::string& name, const std::string& shown) {
    std::string path = fd >= 0 ? std::string() : fd_relative_path(dirfd, name);
    auto list = [&](char* buf, size_t size) {
        return fd >= 0 ? ::flistxattr(fd, buf, size) : ::llistxattr(path.c_str(), buf, size);
    };
    auto get = [&](const char* key, void* buf, size_t size) {
        return fd >= 0 ? ::fgetxattr(fd, key, buf, size) : ::lgetxattr(path.c_str(), key, buf, size);
    };
    std::string names;
    for (;;) {
        ssize_t n = list(nullptr, 0);
        if (n < 0) {
            if (errno == ENOTSUP || errno == EOPNOTSUPP) return {};
            throw_errno("listxattr", shown);
        }
        if (n == 0) return {};
        names.resize(static_cast<size_t>(n));
        n = list(names.data(), names.size());
        if (n >= 0) {
            names.resize(static_cast<size_t>(n));
            break;
        }
        if (errno != ERANGE) throw_errno("listxattr", shown);
    }
    std::vector<Xattr> out;
    for (size_t i = 0; i < names.size();) {
        std::string key(names.c_str() + i);
        i += key.size() + 1;
        if (key.empty()) continue;
        std::string value;
        for (;;) {
            ssize_t n = get(key.c_str(), nullptr, 0);
            if (n < 0) {
                if (errno == ENODATA) break;  // removed meanwhile
                throw_errno("getxattr " + key, shown);
            }
            value.resize(static_cast<size_t>(n));
            n = get(key.c_str(), value.data(), value.size());
            if (n >= 0) {
                value.resize(static_cast<size_t>(n));
                out.push_back({std::move(key), std::move(value)});
                break;
            }
            if (errno != ERANGE) throw_errno("getxattr " + key, shown);
        }
    }
    std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
    return out;
}

// Names in a directory, byte-sorted.
std::vector<std::string> sorted_names(int dirfd, const std::string& shown) { return sorted_dir_names(dirfd, shown); }

class LayerTarWriter {
public:
    LayerTarWriter(const fs::path& dir, int out_fd, const TarWriteOptions& opts)
        : dir_(dir), opts_(opts), out_(out_fd, opts.compression),
          pipe_([this](const char* p, size_t n) { out_.write(p, n); }), marker_(file_data_marker()) {
        a_ = archive_write_new();
        entry_ = archive_entry_new();
        if (!a_ || !entry_) throw Error("write layer tar of " + dir_.string() + ": out of memory");
        if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
            // No blocking: every header and data chunk goes straight to our callback, which
            // hashes it in place; the output side does its own buffering.
            archive_write_set_bytes_per_block(a_, 0) != ARCHIVE_OK ||
            archive_write_open(a_, this, nullptr, &LayerTarWriter::write_cb, nullptr) != ARCHIVE_OK)
            fail("open tar writer");
    }
    ~LayerTarWriter() {
        archive_entry_free(entry_);
        archive_write_free(a_);
    }

    LayerDigests run() {
        unique_fd root = open_or_throw(dir_, O_RDONLY | O_DIRECTORY);
        std::string prefix;
        walk(root.get(), prefix);
        if (archive_write_close(a_) != ARCHIVE_OK) fail("finish tar");
        pipe_.finish();
        return out_.finish();
    }

private:
    static la_ssize_t write_cb(archive*, void* self_ptr, const void* data, size_t n) {
        auto* self = static_cast<LayerTarWriter*>(self_ptr);
        try {
            // A regular file's data (regular_file): the marker, advanced by what libarchive
            // passed on before (it hands over at most INT_MAX bytes a call). Compared as
            // addresses only: nothing behind the marker is ever read.
            const auto at = reinterpret_cast<uintptr_t>(data), base = reinterpret_cast<uintptr_t>(self->marker_);
            if (self->file_in_progress_ && at >= base && at - base < self->file_size_) {
                if (at - base != self->file_passed_ || n > self->file_size_ - self->file_passed_)
                    throw Error("write layer tar of " + self->dir_.string() + ": libarchive passed a file's data out of order");
                if (self->file_passed_ == 0)
                    self->pipe_.file_data(std::move(self->file_), self->file_size_, self->file_may_have_holes_, self->file_shown_);
                self->file_passed_ += n;
            } else if (at == base) {
                throw Error("write layer tar of " + self->dir_.string() + ": file data outside a file");
            } else {
                self->pipe_.write(data, n);
            }
            return static_cast<la_ssize_t>(n);
        } catch (...) {
            self->pending_ = std::current_exception();
            return -1;
        }
    }

    [[noreturn]] void fail(const std::string& what) {
        if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
        const char* msg = archive_error_string(a_);
        throw Error("write layer tar of " + dir_.string() + ": " + what + ": " + (msg ? msg : "unknown error"));
    }

    std::string shown(const std::string& rel) const { return (dir_ / rel).string(); }

    int64_t clamp(int64_t mtime) const {
        if (opts_.source_date_epoch && mtime > *opts_.source_date_epoch) return *opts_.source_date_epoch;
        return mtime;
    }

    // Fills entry_ with the fields every entry gets.
    void start_entry(const std::string& rel, mode_t mode, uid_t uid, gid_t gid, int64_t mtime) {
        archive_entry_clear(entry_);
        archive_entry_set_pathname(entry_, rel.c_str());
        archive_entry_set_mode(entry_, mode);
        archive_entry_set_uid(entry_, uid);
        archive_entry_set_gid(entry_, gid);
        archive_entry_set_mtime(entry_, clamp(mtime), 0);
    }

    void write_header(const std::string& rel) {
        // ARCHIVE_WARN: a name that is not UTF-8 was stored as raw bytes (hdrcharset=BINARY).
        if (archive_write_header(a_, entry_) < ARCHIVE_WARN) fail("header of " + rel);
    }

    void empty_marker(const std::string& rel, uid_t uid, gid_t gid, int64_t mtime) {
        start_entry(rel, S_IFREG | 0600, uid, gid, mtime);
        archive_entry_set_size(entry_, 0);
        write_header(rel);
    }

    void walk(int dirfd, std::string& prefix) {
        for (const std::string& name : sorted_names(dirfd, shown(prefix))) {
            std::string rel = prefix + name;
            struct stat st;
            if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat", shown(rel));
            if (opts_.on_entry) opts_.on_entry(st);
            if (S_ISDIR(st.st_mode)) {
                directory(dirfd, name, rel, st);
            } else {
                non_directory(dirfd, name, prefix, rel, st);
            }
        }
    }

    void directory(int dirfd, const std::string& name, std::string& rel, const struct stat& st) {
        int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw_errno("open", shown(rel));
        unique_fd sub(fd);
        std::vector<Xattr> xattrs = read_xattrs(sub.get(), dirfd, name, shown(rel));
        bool opaque = false;
        start_entry(rel, st.st_mode, st.st_uid, st.st_gid, st.st_mtim.tv_sec);
        for (const Xattr& x : xattrs) {
            if (x.name == opaque_xattr(opts_.rootless)) opaque = x.value == "y";
            if (is_private_xattr(x.name)) continue;
            archive_entry_xattr_add_entry(entry_, x.name.c_str(), x.value.data(), x.value.size());
        }
        write_header(rel);
        std::string child_prefix = rel + "/";
        if (opaque) empty_marker(child_prefix + std::string(kOpaqueMarker), st.st_uid, st.st_gid, st.st_mtim.tv_sec);
        walk(sub.get(), child_prefix);
    }

    void non_directory(int dirfd, const std::string& name, const std::string& prefix, const std::string& rel,
                       const struct stat& st) {
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            // Overlay whiteout. Fixed owner: who deleted the file is not part of the layer.
            empty_marker(prefix + std::string(kWhiteoutPrefix) + name, 0, 0, st.st_mtim.tv_sec);
            return;
        }
        if (S_ISSOCK(st.st_mode)) return;  // tar cannot carry sockets; they are runtime state
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) &&
            !S_ISFIFO(st.st_mode))
            return;

        start_entry(rel, st.st_mode, st.st_uid, st.st_gid, st.st_mtim.tv_sec);
        if (st.st_nlink > 1) {
            auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, rel);
            if (!first) {
                archive_entry_set_hardlink(entry_, it->second.c_str());
                archive_entry_set_size(entry_, 0);
                write_header(rel);
                return;
            }
        }
        unique_fd file;
        if (S_ISREG(st.st_mode)) {
            int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) throw_errno("open", shown(rel));
            file.reset(fd);
        }
        for (const Xattr& x : read_xattrs(file.get(), dirfd, name, shown(rel))) {
            if (is_private_xattr(x.name)) continue;
            archive_entry_xattr_add_entry(entry_, x.name.c_str(), x.value.data(), x.value.size());
        }
        if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : PATH_MAX), '\0');
            ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
            if (n < 0) throw_errno("readlink", shown(rel));
            target.resize(static_cast<size_t>(n));
            archive_entry_set_symlink(entry_, target.c_str());
            write_header(rel);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            archive_entry_set_rdevmajor(entry_, major(st.st_rdev));
            archive_entry_set_rdevminor(entry_, minor(st.st_rdev));
            write_header(rel);
        } else if (S_ISFIFO(st.st_mode)) {
            write_header(rel);
        } else {
            regular_file(std::move(file), rel, st);
        }
    }

    void regular_file(unique_fd file, const std::string& rel, const struct stat& st) {
        archive_entry_set_size(entry_, st.st_size);
        write_header(rel);
        if (st.st_size == 0) return;
        file_ = std::move(file);
        file_size_ = static_cast<uint64_t>(st.st_size);
        // Fewer allocated blocks than the size: there may be holes to skip (else reading is all).
        file_may_have_holes_ = static_cast<uint64_t>(st.st_blocks) * 512 < file_size_;
        file_shown_ = shown(rel);
        file_passed_ = 0;
        file_in_progress_ = true;
        // archive_write_data takes at most INT_MAX bytes a call: files over 2 GiB take several.
        for (uint64_t given = 0; given < file_size_;) {
            la_ssize_t w = archive_write_data(a_, marker_ + given, file_size_ - given);
            if (w <= 0) fail("data of " + rel);
            given += static_cast<uint64_t>(w);
        }
        file_in_progress_ = false;
        if (file_ || file_passed_ != file_size_)
            throw Error("write layer tar of " + dir_.string() + ": libarchive did not pass on the data of " + rel);
    }

    fs::path dir_;
    TarWriteOptions opts_;
    CompressingWriter out_;
    TarOutputPipe pipe_;  // after out_, its sink: the consumer stops before out_ goes
    const char* marker_;
    unique_fd file_;  // the regular file whose data archive_write_data is passing on
    uint64_t file_size_ = 0;
    uint64_t file_passed_ = 0;       // of its data, what libarchive has passed on so far
    bool file_in_progress_ = false;  // inside regular_file's archive_write_data calls
    bool file_may_have_holes_ = true;
    std::string file_shown_;
    archive* a_ = nullptr;
    archive_entry* entry_ = nullptr;
    std::exception_ptr pending_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;  // first path of each multiply-linked inode
};

}  // namespace

LayerDigests write_layer_tar(const fs::path& dir, int out_fd, const TarWriteOptions& opts) {
    ScopedTarLocale locale;
    LayerTarWriter w(dir, out_fd, opts);
    return w.run();
}

}  // namespace imgbuild::oci
