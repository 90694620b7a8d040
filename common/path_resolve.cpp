#include "common/path_resolve.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>

#include "common/error.h"

namespace imgbuild {

namespace {

constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS

// Splits on '/', keeping ".." and dropping "" and ".".
void split_into(std::string_view path, std::deque<std::string>& out, bool at_front) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view comp = path.substr(i, j - i);
        if (!comp.empty() && comp != ".") parts.emplace_back(comp);
        i = j + 1;
    }
    if (at_front)
        out.insert(out.begin(), parts.begin(), parts.end());
    else
        out.insert(out.end(), parts.begin(), parts.end());
}

std::string read_link_at(int dirfd, const std::string& name) {
    char buf[PATH_MAX];
    ssize_t n = ::readlinkat(dirfd, name.c_str(), buf, sizeof buf);
    if (n < 0) return {};
    return std::string(buf, static_cast<size_t>(n));
}

bool is_symlink_at(int dirfd, const std::string& name) {
    struct stat st;
    return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Symlinks of procfs include magic links (/proc/<pid>/fd/N, cwd, root, exe) whose text is
// not where they lead; following their text would make up paths, so the walk refuses to
// follow any symlink on procfs (as openat2 RESOLVE_NO_MAGICLINKS refuses magic links).
bool on_procfs(int dirfd) {
    struct statfs st {};
    return ::fstatfs(dirfd, &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
}

// One walk for both open_in_root (fallback) and mkdirs_in_root.
unique_fd walk_in_root(int root_fd, const std::string& path, int flags, mode_t mode, bool make_dirs, Symlinks symlinks) {
    std::deque<std::string> todo;
    split_into(path, todo, false);
    std::vector<unique_fd> stack;  // dirs below the root on the current path
    int links = 0;
    auto current = [&] { return stack.empty() ? root_fd : stack.back().get(); };
    auto follow = [&](int dirfd, const std::string& name) {
        if (++links > kMaxSymlinks) throw_errno(ELOOP, "resolve in root", path);
        if (symlinks == Symlinks::refuse) throw_errno(ELOOP, "resolve in root (a symlink in the way)", path);
        if (on_procfs(dirfd)) throw_errno(ELOOP, "resolve in root (symlink on /proc)", path);
        std::string target = read_link_at(dirfd, name);
        if (target.empty()) throw_errno(ENOENT, "resolve in root", path);
        if (target.front() == '/') stack.clear();
        split_into(target, todo, true);
    };

    while (!todo.empty()) {
        std::string comp = std::move(todo.front());
        todo.pop_front();
        if (comp == "..") {
            if (!stack.empty()) stack.pop_back();
            continue;
        }
        int dirfd = current();
        bool last = todo.empty();
        if (last && !make_dirs) {
            bool exclusive_create = (flags & O_CREAT) && (flags & O_EXCL);
            if (!(flags & O_NOFOLLOW) && !exclusive_create && is_symlink_at(dirfd, comp)) {
                follow(dirfd, comp);
                if (todo.empty()) break;  // link to the root itself
                continue;
            }
            int fd = ::openat(dirfd, comp.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
            if (fd < 0) throw_errno("open in root", path);
            return unique_fd(fd);
        }
        int fd = ::openat(dirfd, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            stack.emplace_back(fd);
            continue;
        }
        int err = errno;
        if ((err == ENOTDIR || err == ELOOP) && is_symlink_at(dirfd, comp)) {
            follow(dirfd, comp);
            continue;
        }
        if (err == ENOENT && make_dirs) {
            if (::mkdirat(dirfd, comp.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir in root", path);
            todo.push_front(comp);  // open it next round (or follow what raced in)
            continue;
        }
        throw_errno(err, make_dirs ? "mkdir in root" : "open in root", path);
    }
    // The path named a directory (the root, or it ended in "..", or mkdirs).
    int fd = ::openat(current(), ".", (make_dirs ? (O_PATH | O_DIRECTORY) : flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
    if (fd < 0) throw_errno(make_dirs ? "mkdir in root" : "open in root", path);
    return unique_fd(fd);
}

long sys_openat2(int dirfd, const char* path, open_how* how) {
    return ::syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

}  // namespace

std::optional<std::vector<std::string>> clean_path_components(std::string_view path) {
    std::deque<std::string> parts;
    split_into(path, parts, false);
    std::vector<std::string> out;
    for (auto& p : parts) {
        if (p == "..") {
            if (out.empty()) return std::nullopt;
            out.pop_back();
        } else {
            out.push_back(std::move(p));
        }
    }
    return out;
}

namespace detail {

bool have_openat2() {
    static const bool ok = [] {
        open_how how{};
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_IN_ROOT;
        long fd = sys_openat2(AT_FDCWD, "/", &how);
        if (fd < 0) return false;
        ::close(static_cast<int>(fd));
        return true;
    }();
    return ok;
}

unique_fd open_in_root_walk(int root_fd, const std::filesystem::path& path, int flags, mode_t mode, Symlinks symlinks) {
    return walk_in_root(root_fd, path.string(), flags, mode, false, symlinks);
}

}  // namespace detail

unique_fd open_in_root(int root_fd, const std::filesystem::path& path, int flags, mode_t mode, Symlinks symlinks) {
    if (!detail::have_openat2()) return detail::open_in_root_walk(root_fd, path, flags, mode, symlinks);
    const std::string p = path.empty() ? std::string(".") : path.string();
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (symlinks == Symlinks::refuse ? RESOLVE_NO_SYMLINKS : 0);
    for (int attempt = 0;; ++attempt) {
        long fd = sys_openat2(root_fd, p.c_str(), &how);
        if (fd >= 0) return unique_fd(static_cast<int>(fd));
        // EAGAIN: a rename raced with ".." resolution; the kernel asks us to retry.
        if (errno == EAGAIN && attempt < 16) continue;
        throw_errno("open in root", p);
    }
}

std::optional<std::string> read_small_file_in_root(int root_fd, const std::filesystem::path& path, size_t max_bytes) {
    unique_fd where;
    try {
        where = open_in_root(root_fd, path, O_PATH);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return std::nullopt;
        throw;
    }
    auto check = [&](int fd) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw_errno("stat", path.string());
        if (!S_ISREG(st.st_mode)) throw_errno(EINVAL, "read (not a regular file)", path.string());
        if (static_cast<uint64_t>(st.st_size) > max_bytes)
            throw_errno(EFBIG, "read (larger than " + std::to_string(max_bytes) + " bytes)", path.string());
    };
    check(where.get());
    // Reopen the checked inode itself for reading (no second path walk to race with);
    // without a /proc, a non-blocking open of the path, checked again.
    int raw = ::open(("/proc/self/fd/" + std::to_string(where.get())).c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC);
    unique_fd fd(raw);
    if (raw < 0) {
        fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        check(fd.get());
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", path.string());
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes)
            throw_errno(EFBIG, "read (larger than " + std::to_string(max_bytes) + " bytes)", path.string());
    }
}

unique_fd mkdirs_in_root(int root_fd, const std::filesystem::path& path, mode_t mode, Symlinks symlinks) {
    return walk_in_root(root_fd, path.string(), 0, mode, true, symlinks);
}

}  // namespace imgbuild
