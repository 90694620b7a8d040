#include "runtime/syscalls_recording.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace imgbuild::runtime {
namespace {

constexpr std::string_view kFdPrefix = "/proc/self/fd/";

// Flags a mount keeps (the rest of MS_* are actions or propagation).
constexpr unsigned long kPerMount =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
// Flags a user namespace locks on a mount it did not make: a remount must repeat them.
constexpr unsigned long kLocked = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
constexpr unsigned long kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

constexpr std::pair<unsigned long, unsigned long> kStatvfsFlags[] = {
    {MS_RDONLY, ST_RDONLY},     {MS_NOSUID, ST_NOSUID},         {MS_NODEV, ST_NODEV},        {MS_NOEXEC, ST_NOEXEC},
    {MS_NOATIME, ST_NOATIME}, {MS_NODIRATIME, ST_NODIRATIME}, {MS_RELATIME, ST_RELATIME},
};

struct FsMagic {
    const char* fstype;
    long magic;
};
constexpr FsMagic kFsMagic[] = {
    {"proc", PROC_SUPER_MAGIC}, {"sysfs", SYSFS_MAGIC},   {"tmpfs", TMPFS_MAGIC},
    {"devpts", DEVPTS_SUPER_MAGIC}, {"cgroup2", CGROUP2_SUPER_MAGIC}, {"mqueue", 0x19800202},
};

std::string text(const char* s) { return s ? s : ""; }

bool covers(const std::string& mount_point, const std::string& path) {
    if (mount_point == "/" || mount_point == path) return true;
    return path.size() > mount_point.size() && path.compare(0, mount_point.size(), mount_point) == 0 &&
           path[mount_point.size()] == '/';
}

}  // namespace

std::string to_string(const SyscallRecord& r) {
    char flags[32];
    std::snprintf(flags, sizeof flags, "%#lx", r.flags);
    return r.call + "(" + r.source + ", " + r.target + ", " + r.fstype + ", " + flags + ", \"" + r.data +
           "\") = " + (r.result == 0 ? "0" : std::string(strerrorname_np(r.result) ? strerrorname_np(r.result) : "?"));
}

RecordingSyscalls::RecordingSyscalls(const fs::path& root) : root_(fs::canonical(root).string()) {}

void RecordingSyscalls::fail(std::string call, std::string target, int err) {
    failures_.push_back({std::move(call), std::move(target), err});
}

std::string RecordingSyscalls::shown_fd(int fd) const {
    char buf[4096];
    std::string link = std::string(kFdPrefix) + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return "fd:" + std::to_string(fd);
    std::string path(buf, static_cast<size_t>(n));
    if (path == root_) return "/";
    if (path.size() > root_.size() && path.compare(0, root_.size(), root_) == 0 && path[root_.size()] == '/')
        return path.substr(root_.size());
    return "host:" + path;
}

std::string RecordingSyscalls::shown(const char* path) const {
    if (!path) return "";
    std::string_view p(path);
    if (p.substr(0, kFdPrefix.size()) != kFdPrefix || p.size() == kFdPrefix.size()) return std::string(p);
    int fd = 0;
    for (char c : p.substr(kFdPrefix.size())) {
        if (c < '0' || c > '9') return std::string(p);
        fd = fd * 10 + (c - '0');
    }
    return shown_fd(fd);
}

const RecordingSyscalls::Mount* RecordingSyscalls::mount_holding(const std::string& path) const {
    if (path.empty() || path[0] != '/') return nullptr;  // on the host mount
    const Mount* best = nullptr;
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
        if (covers(it->path, path) && (!best || it->path.size() > best->path.size())) best = &*it;
    return best;
}

int RecordingSyscalls::apply_to_table(const SyscallRecord& r) {
    if (r.flags & kPropagation) return 0;  // the table has no propagation
    if (r.flags & MS_REMOUNT) {
        for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) {
            if (it->path != r.target) continue;
            unsigned long next = r.flags & kPerMount;
            if (it->flags & kLocked & ~next) return EPERM;
            it->flags = next;
            return 0;
        }
        return EINVAL;  // not a mount point
    }
    if (r.flags & MS_BIND) {
        const Mount* from = mount_holding(r.source);
        Mount m{r.target, from ? from->fstype : "", from ? from->flags : host_flags_};
        mounts_.push_back(std::move(m));
        return 0;
    }
    unsigned long flags = r.flags & kPerMount;
    if (!(flags & (MS_NOATIME | MS_STRICTATIME))) flags |= MS_RELATIME;  // the kernel's default
    mounts_.push_back({r.target, r.fstype, flags});
    return 0;
}

int RecordingSyscalls::record(SyscallRecord r) {
    r.result = -1;
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
        if (it->call != r.call || it->target != r.target) continue;
        r.result = it->err;
        failures_.erase(it);
        break;
    }
    if (r.result == -1) r.result = r.call == "mount" ? apply_to_table(r) : 0;
    calls_.push_back(std::move(r));
    return calls_.back().result;
}

int RecordingSyscalls::mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                             const char* data) {
    return record({"mount", shown(source), shown(target), text(fstype), flags, text(data), 0});
}

int RecordingSyscalls::umount2(const char* target, int flags) {
    return record({"umount2", "", shown(target), "", static_cast<unsigned long>(flags), "", 0});
}

int RecordingSyscalls::pivot_root(const char* new_root, const char* put_old) {
    return record({"pivot_root", shown(new_root), shown(put_old), "", 0, "", 0});
}

int RecordingSyscalls::symlinkat(const char* link_text, int dirfd, const char* name) {
    std::string dir = shown_fd(dirfd);
    return record({"symlink", text(link_text), (dir == "/" ? "" : dir) + "/" + text(name), "", 0, "", 0});
}

int RecordingSyscalls::chdir(const char* path) { return record({"chdir", "", shown(path), "", 0, "", 0}); }

int RecordingSyscalls::fchdir(int fd) { return record({"fchdir", "", shown_fd(fd), "", 0, "", 0}); }

int RecordingSyscalls::fstatvfs(int fd, struct statvfs* out) {
    std::memset(out, 0, sizeof *out);
    const Mount* m = mount_holding(shown_fd(fd));
    unsigned long flags = m ? m->flags : host_flags_;
    for (const auto& [ms, st] : kStatvfsFlags)
        if (flags & ms) out->f_flag |= st;
    return 0;
}

int RecordingSyscalls::fstatfs(int fd, struct statfs* out) {
    std::memset(out, 0, sizeof *out);
    const Mount* m = mount_holding(shown_fd(fd));
    if (!m) return 0;
    for (const auto& f : kFsMagic)
        if (m->fstype == f.fstype) out->f_type = f.magic;
    return 0;
}

}  // namespace imgbuild::runtime
