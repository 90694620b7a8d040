// Store opening, the store lock and start-up cleanup of stale staging entries.
#include "layerstore/store.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "common/error.h"
#include "layerstore/container_cleanup.h"
#include "layerstore/file_lock.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

Store::Store(fs::path root, LockMode mode) : root_(std::move(root)) {
    for (const char* sub : {"", "blobs/sha256", "layers", "l", "images", "cache", "containers", "volumes", "leases", "tmp"})
        make_dirs(root_ / sub, 0700);
    // Nobody else holding the lock means nobody is staging anything: what tmp/ holds is
    // left over from a crash or a kill, and goes.
    auto lock = FileLock::try_lock(root_ / "lock", LOCK_EX);
    if (lock.valid()) {
        for (const auto& entry : fs::directory_iterator(tmp_dir())) remove_tree(entry.path());
        (void)clean_abandoned_containers(*this);
        if (mode == LockMode::shared) lock.change_mode(LOCK_SH);
    } else {
        lock = FileLock(root_ / "lock", mode == LockMode::shared ? LOCK_SH : LOCK_EX);
    }
    lock_fd_ = lock.release();
}

Store::~Store() = default;

void Store::hold(ObjectKind kind, const std::string& id) const {
    if (gc_exclusive_) return;
    std::lock_guard<std::mutex> lock(lease_mu_);
    if (!lease_) lease_ = std::make_unique<Lease>(leases_dir(), gc_lock_path());
    lease_->hold(kind, id);
}

GcExclusive::GcExclusive(const Store& store) : store_(store) {
    fd_ = open_or_throw(store.gc_lock_path(), O_RDWR | O_CREAT, 0600);
    while (::flock(fd_.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("flock", store.gc_lock_path().string());
    store_.gc_exclusive_ = true;
}

GcExclusive::~GcExclusive() { store_.gc_exclusive_ = false; }

TempDir Store::make_temp_dir(std::string_view prefix) const { return TempDir(tmp_dir(), prefix); }

}  // namespace imgbuild::layerstore
