#include "layerstore/leases.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

namespace {

constexpr const char* kind_names[] = {"blob", "layer"};

void flock_or_throw(int fd, int op, const fs::path& path) {
    while (::flock(fd, op) != 0)
        if (errno != EINTR) throw_errno("flock", path.string());
}

}  // namespace

Lease::Lease(fs::path leases_dir, fs::path gc_lock_path)
    : dir_(std::move(leases_dir)), gc_lock_path_(std::move(gc_lock_path)) {}

Lease::~Lease() {
    // Only its maker removes it: a forked child that unwinds must not drop its parent's lease.
    if (fd_.valid() && ::getpid() == owner_) ::unlink(path_.c_str());
}

void Lease::hold(ObjectKind kind, const std::string& id) {
    LeaseEntry e{kind, id};
    if (held_.count(e)) return;
    if (!gc_lock_fd_.valid()) gc_lock_fd_ = open_or_throw(gc_lock_path_, O_RDWR | O_CREAT, 0600);
    flock_or_throw(gc_lock_fd_.get(), LOCK_SH, gc_lock_path_);
    try {
        if (!fd_.valid()) {
            pid_t pid = owner_ = ::getpid();
            path_ = dir_ / (std::to_string(pid) + "-" + std::to_string(process_start_time(pid)) + "-" + random_hex(4));
            fd_ = open_or_throw(path_, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600);
        }
        // One write(2) per line; gc takes the lock exclusive, so it never reads half a line
        // it must honour (a kill mid-write leaves a torn line of a dead process: ignored).
        write_all(fd_.get(), std::string(kind_names[static_cast<int>(kind)]) + " " + id + "\n", path_);
    } catch (...) {
        (void)::flock(gc_lock_fd_.get(), LOCK_UN);
        throw;
    }
    (void)::flock(gc_lock_fd_.get(), LOCK_UN);
    held_.insert(std::move(e));
}

std::vector<LeaseFile> list_leases(const fs::path& leases_dir) {
    std::vector<LeaseFile> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(leases_dir, ec)) {
        std::string name = entry.path().filename().string();
        LeaseFile f{entry.path(), 0, 0};
        char* end = nullptr;
        f.pid = static_cast<pid_t>(std::strtol(name.c_str(), &end, 10));
        if (end && *end == '-') f.start_time = std::strtoull(end + 1, nullptr, 10);
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<LeaseEntry> read_lease(const fs::path& lease_file) {
    std::vector<LeaseEntry> out;
    std::string text;
    try {
        text = read_file(lease_file);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return out;  // its process ended meanwhile
        throw;
    }
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) break;  // torn last line
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        size_t sp = line.find(' ');
        if (sp == std::string::npos) continue;
        std::string kind = line.substr(0, sp);
        if (kind == kind_names[0]) out.push_back({ObjectKind::blob, line.substr(sp + 1)});
        else if (kind == kind_names[1]) out.push_back({ObjectKind::layer, line.substr(sp + 1)});
    }
    return out;
}

}  // namespace imgbuild::layerstore
