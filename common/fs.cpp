#include "common/fs.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace imgbuild {

unique_fd open_or_throw(const fs::path& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("open", path.string());
    return unique_fd(fd);
}

unique_fd openat_or_throw(int dirfd, const fs::path& path, int flags, mode_t mode) {
    int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("open", path.string());
    return unique_fd(fd);
}

std::string read_file(const fs::path& path) {
    auto fd = open_or_throw(path, O_RDONLY);
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path.string());
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Digest hash_to_end(int fd, const fs::path& path_for_errors) {
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path_for_errors.string());
        }
        if (n == 0) return hash.finish();
        hash.update(buf.data(), static_cast<size_t>(n));
    }
}

void write_all(int fd, std::string_view data, const fs::path& path_for_errors) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path_for_errors.string());
        }
        // write(2) returns 0 only when nothing fits: the disk is full (no errno is set for it).
        if (n == 0) throw_errno(ENOSPC, "write (short write)", path_for_errors.string());
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void pwrite_all(int fd, const void* data, size_t size, int64_t offset, const fs::path& path_for_errors) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::pwrite(fd, p, size, offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path_for_errors.string());
        }
        if (n == 0) throw_errno(ENOSPC, "write (short write)", path_for_errors.string());
        p += n;
        offset += n;
        size -= static_cast<size_t>(n);
    }
}

void fsync_path(const fs::path& path) {
    auto fd = open_or_throw(path, O_RDONLY);
    if (::fsync(fd.get()) != 0) throw_errno("fsync", path.string());
}

void fsync_dir(const fs::path& dir) {
    auto fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
    if (::fsync(fd.get()) != 0) throw_errno("fsync", dir.string());
}

TempFile::TempFile(const fs::path& dir, std::string_view prefix)
    : path_(dir / (std::string(prefix) + "-" + random_hex(8))),
      fd_(open_or_throw(path_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) {}

TempFile::~TempFile() {
    if (!committed_) ::unlink(path_.c_str());
}

void TempFile::commit(const fs::path& dest, Durability durability) {
    if (durability == Durability::durable && ::fsync(fd_.get()) != 0) throw_errno("fsync", path_.string());
    // close(2) is where some filesystems (NFS, quotas) report a full disk first.
    if (::close(fd_.release()) != 0) throw_errno("close", path_.string());
    // Relaxed, over an existing file: swapped in (RENAME_EXCHANGE), the old one unlinked. A
    // plain rename over a file makes ext4 start writing the new one back (auto_da_alloc,
    // ~0.1 ms a commit, twice per `run`, once per cached RUN step): durability that relaxed
    // writes do not promise. Readers see the old file or the new one either way.
    struct stat st;
    if (durability == Durability::relaxed && ::lstat(dest.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) == 0) {
        committed_ = true;
        (void)::unlink(path_.c_str());  // now the old file; a leftover goes with tmp/ or the record
        return;
    }
    if (::rename(path_.c_str(), dest.c_str()) != 0) throw_errno("rename " + path_.string() + " to", dest.string());
    committed_ = true;
    if (durability == Durability::durable) fsync_dir(dest.parent_path());
}

void atomic_write_file(const fs::path& path, std::string_view data, const fs::path& tmp_dir, Durability durability) {
    TempFile tmp(tmp_dir);
    tmp.write(data);
    tmp.commit(path, durability);
}

void make_dirs(const fs::path& dir, mode_t mode) {
    if (dir.empty()) return;
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) throw_errno(ENOTDIR, "mkdir", dir.string());
        return;
    }
    // A parent removed between its check and our mkdir (a concurrent prune of cache/explain):
    // made again, a few times, before ENOENT is an error.
    for (int attempt = 0;; ++attempt) {
        make_dirs(dir.parent_path(), mode);
        if (::mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) return;
        if (errno != ENOENT || attempt == 3) throw_errno("mkdir", dir.string());
    }
}

void remove_tree(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) throw_errno(ec.value(), "remove", path.string());
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("rename " + from.string() + " to", to.string());
}

TempDir::TempDir(const fs::path& parent, std::string_view prefix) {
    std::string tmpl = (parent / (std::string(prefix) + "-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw_errno("mkdtemp", tmpl);
    path_ = buf.data();
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir::~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

fs::path TempDir::release() {
    fs::path p = std::move(path_);
    path_.clear();
    return p;
}

std::vector<std::string> sorted_dir_names(int dirfd, const std::string& path_for_errors) {
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open", path_for_errors);
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int err = errno;
        ::close(fd);
        throw_errno(err, "opendir", path_for_errors);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    int err = errno;
    ::closedir(d);
    if (err) throw_errno(err, "readdir", path_for_errors);
    std::sort(names.begin(), names.end());
    return names;
}

Pipe make_pipe(const char* what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", what);
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

SocketPair make_socket_pair(const char* what) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair", what);
    return {unique_fd(sv[0]), unique_fd(sv[1])};
}

std::string random_hex(size_t bytes) {
    // The kernel's CSPRNG: no library state to set up and no lock to take.
    std::vector<unsigned char> raw(bytes);
    for (size_t got = 0; got < bytes;) {
        ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("getrandom", std::to_string(bytes) + " bytes");
        got += static_cast<size_t>(n);
    }
    return hex_encode(raw.data(), raw.size());
}

}  // namespace imgbuild

namespace imgbuild {

OutputFile::OutputFile(fs::path target, mode_t mode) : target_(std::move(target)) {
    fs::path dir = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
    // A `F.partial` left by a killed save of an older version goes with the next save of F.
    ::unlink((target_.string() + ".partial").c_str());
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("open O_TMPFILE in", dir.string());
        named_ = dir / ("." + target_.filename().string() + ".partial-" + random_hex(4));
        fd = ::open(named_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) throw_errno("open", named_.string());
    } else {
        (void)::fchmod(fd, mode);  // O_TMPFILE applies the umask like open(2); keep it so
    }
    fd_ = unique_fd(fd);
}

OutputFile::~OutputFile() {
    if (!committed_ && !named_.empty()) ::unlink(named_.c_str());
}

void OutputFile::commit() {
    if (named_.empty()) {
        fs::path link = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
        named_ = link / ("." + target_.filename().string() + ".partial-" + random_hex(4));
        std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
        if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, named_.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            int err = errno;
            named_.clear();
            throw_errno(err, "link", target_.string());
        }
    }
    try {
        rename_or_throw(named_, target_);
    } catch (...) {
        ::unlink(named_.c_str());
        throw;
    }
    committed_ = true;
}

}  // namespace imgbuild
