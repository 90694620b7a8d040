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
#include "common/strings.h"

namespace imgbuild {

namespace {

constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS

// Splits on '/', keeping ".." and dropping "" and ".".
void split_into(std::string_view path, std::deque<std::string>& out, bool at_front) {
    std::vector<std::string> parts;
    for (std::string_view comp : split(path, '/'))
        if (!comp.empty() && comp != ".") parts.emplace_back(comp);
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

// What mkdirs does with a dir it creates (nullptr: nothing beyond mkdirat's mode).
struct NewDirPolicy {
    uid_t uid;
    gid_t gid;
    mode_t mode;
    bool* created_last;
};

// What resolve_path_in_root wants from the walk: the names of the dirs it is in (so the
// resolved path can be told), and the caller's rules for ".." at the root and for
// absolute symlink targets.
struct PathTrace {
    const InRootRules* rules;
    std::vector<std::string> names;  // parallel to the walk's dir stack
    std::string last;                // the final component opened ("" when the path ended on a dir)
};

// One walk for open_in_root (fallback), mkdirs_in_root and resolve_path_in_root.
unique_fd walk_in_root(int root_fd, const std::string& path, int flags, mode_t mode, bool make_dirs, Symlinks symlinks,
                       const NewDirPolicy* policy = nullptr, PathTrace* trace = nullptr) {
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
        if (target.front() == '/') {
            if (trace && trace->rules && trace->rules->absolute_link) {
                auto mapped = trace->rules->absolute_link(target);
                if (!mapped) throw OutsideRootError(name, target);
                target = "/" + *mapped;
            }
            stack.clear();
            if (trace) trace->names.clear();
        }
        split_into(target, todo, true);
    };

    while (!todo.empty()) {
        std::string comp = std::move(todo.front());
        todo.pop_front();
        if (comp == "..") {
            if (stack.empty() && trace && trace->rules && trace->rules->refuse_dotdot_at_root)
                throw OutsideRootError("", "");
            if (!stack.empty()) stack.pop_back();
            if (trace && !trace->names.empty()) trace->names.pop_back();
            if (policy) *policy->created_last = false;
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
            if (trace) trace->last = comp;
            return unique_fd(fd);
        }
        int fd = ::openat(dirfd, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            stack.emplace_back(fd);
            if (trace) trace->names.push_back(comp);
            if (policy) *policy->created_last = false;
            continue;
        }
        int err = errno;
        if ((err == ENOTDIR || err == ELOOP) && is_symlink_at(dirfd, comp)) {
            follow(dirfd, comp);
            continue;
        }
        if (err == ENOENT && make_dirs) {
            if (::mkdirat(dirfd, comp.c_str(), mode) != 0) {
                if (errno != EEXIST) throw_errno("mkdir in root", path);
            } else if (policy) {
                // Just made by us, so not a symlink: fchownat/fchmodat cannot be redirected.
                if (::fchownat(dirfd, comp.c_str(), policy->uid, policy->gid, AT_SYMLINK_NOFOLLOW) != 0)
                    throw_errno("chown in root", path);
                if (::fchmodat(dirfd, comp.c_str(), policy->mode, 0) != 0) throw_errno("chmod in root", path);
                int made = ::openat(dirfd, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (made < 0) throw_errno("open in root", path);
                stack.emplace_back(made);
                if (trace) trace->names.push_back(comp);
                *policy->created_last = true;
                continue;
            }
            todo.push_front(comp);  // open it next round (or follow what raced in)
            continue;
        }
        throw_errno(err, make_dirs ? "mkdir in root" : "open in root", path);
    }
    // The path named a directory (the root, or it ended in "..", or mkdirs).
    if (policy && stack.empty()) *policy->created_last = false;
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

namespace {

// open_in_root through openat2: the fd, or -errno.
int openat2_in_root(int root_fd, const std::string& p, int flags, mode_t mode, Symlinks symlinks) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (symlinks == Symlinks::refuse ? RESOLVE_NO_SYMLINKS : 0);
    for (int attempt = 0;; ++attempt) {
        long fd = sys_openat2(root_fd, p.c_str(), &how);
        if (fd >= 0) return static_cast<int>(fd);
        // EAGAIN: a rename raced with ".." resolution; the kernel asks us to retry.
        if (errno == EAGAIN && attempt < 16) continue;
        return -errno;
    }
}

}  // namespace

unique_fd open_in_root(int root_fd, const std::filesystem::path& path, int flags, mode_t mode, Symlinks symlinks) {
    if (!detail::have_openat2()) return detail::open_in_root_walk(root_fd, path, flags, mode, symlinks);
    const std::string p = path.empty() ? std::string(".") : path.string();
    int fd = openat2_in_root(root_fd, p, flags, mode, symlinks);
    if (fd < 0) throw_errno(-fd, "open in root", p);
    return unique_fd(fd);
}

namespace {

// open_in_root, but nullopt when it fails with `expected` or `also_expected`.
std::optional<unique_fd> open_in_root_unless(int root_fd, const std::filesystem::path& path, int flags, mode_t mode,
                                             Symlinks symlinks, int expected, int also_expected) {
    if (!detail::have_openat2()) {
        try {
            return detail::open_in_root_walk(root_fd, path, flags, mode, symlinks);
        } catch (const SystemError& e) {
            if (e.error_number() == expected || e.error_number() == also_expected) return std::nullopt;
            throw;
        }
    }
    const std::string p = path.empty() ? std::string(".") : path.string();
    int fd = openat2_in_root(root_fd, p, flags, mode, symlinks);
    if (fd == -expected || fd == -also_expected) return std::nullopt;
    if (fd < 0) throw_errno(-fd, "open in root", p);
    return unique_fd(fd);
}

}  // namespace

std::optional<unique_fd> open_in_root_if_exists(int root_fd, const std::filesystem::path& path, int flags, mode_t mode,
                                                Symlinks symlinks) {
    return open_in_root_unless(root_fd, path, flags, mode, symlinks, ENOENT, ENOENT);
}

std::optional<unique_fd> create_new_in_root(int root_fd, const std::filesystem::path& path, mode_t mode,
                                            Symlinks symlinks) {
    return open_in_root_unless(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode, symlinks, EEXIST, ENOENT);
}

unique_fd mkdirs_in_root(int root_fd, const std::filesystem::path& path, mode_t mode, Symlinks symlinks) {
    // Most calls find the whole path there (an image's /proc and /etc, the new /dev once a
    // symlink or mount point is made in it): one openat2 then, resolved as the walk would
    // (open_in_root's contract). Whatever it cannot open, the walk makes or names the error of.
    if (detail::have_openat2()) {
        int fd = openat2_in_root(root_fd, path.empty() ? std::string(".") : path.string(), O_PATH | O_DIRECTORY, 0, symlinks);
        if (fd >= 0) return unique_fd(fd);
    }
    return walk_in_root(root_fd, path.string(), 0, mode, true, symlinks);
}

OutsideRootError::OutsideRootError(const std::string& link, const std::string& target)
    : Error(link.empty() ? std::string("path climbs above the root")
                         : "symlink " + link + " -> " + target + " leads outside the root"),
      link_(link),
      target_(target) {}

std::optional<InRootPath> resolve_path_in_root(int root_fd, std::string_view path, const InRootRules& rules) {
    PathTrace trace{&rules, {}, {}};
    unique_fd fd;
    try {
        fd = walk_in_root(root_fd, std::string(path), O_PATH, 0, false, Symlinks::follow, nullptr, &trace);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT || e.error_number() == ENOTDIR) return std::nullopt;
        throw;
    }
    InRootPath out;
    for (const auto& n : trace.names) out.path += (out.path.empty() ? "" : "/") + n;
    if (!trace.last.empty()) out.path += (out.path.empty() ? "" : "/") + trace.last;
    if (::fstat(fd.get(), &out.st) != 0) throw_errno("stat", std::string(path));
    out.fd = std::move(fd);
    return out;
}

MkdirsOwned mkdirs_in_root_owned(int root_fd, const std::filesystem::path& path, mode_t mode, uid_t uid, gid_t gid) {
    MkdirsOwned out;
    NewDirPolicy policy{uid, gid, mode, &out.created};
    out.fd = walk_in_root(root_fd, path.string(), 0, mode, true, Symlinks::follow, &policy);
    return out;
}

std::optional<std::string> read_small_file_in_root(int root_fd, const std::filesystem::path& path,
                                                   const std::string& what, size_t max_size) {
    unique_fd pfd;
    try {
        pfd = open_in_root(root_fd, path, O_PATH);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT || e.error_number() == ENOTDIR) return std::nullopt;
        throw;
    }
    struct stat st;
    if (::fstat(pfd.get(), &st) != 0) throw_errno("stat", path.string());
    if (!S_ISREG(st.st_mode)) throw Error(what + ": " + path.string() + " in the image is not a regular file");
    auto too_big = [&] {
        return Error(what + ": " + path.string() + " in the image is larger than " + std::to_string(max_size) +
                     " bytes");
    };
    if (static_cast<uint64_t>(st.st_size) > max_size) throw too_big();
    // Reopened through the O_PATH fd: the very inode just checked, whatever renames since.
    const std::string proc = "/proc/self/fd/" + std::to_string(pfd.get());
    unique_fd fd(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) throw_errno("open", path.string());
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", path.string());
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_size) throw too_big();  // grew since the fstat
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

}  // namespace imgbuild
