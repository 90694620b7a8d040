// Store opening, the store lock and start-up cleanup of stale staging entries.
#include "layerstore/store.h"

#include <sys/file.h>

#include "common/error.h"
#include "layerstore/file_lock.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

Store::Store(fs::path root, LockMode mode) : root_(std::move(root)) {
    for (const char* sub : {"", "blobs/sha256", "layers", "l", "images", "cache", "containers", "volumes", "tmp"})
        make_dirs(root_ / sub, 0700);
    // Nobody else holding the lock means nobody is staging anything: what tmp/ holds is
    // left over from a crash or a kill, and goes.
    auto lock = FileLock::try_lock(root_ / "lock", LOCK_EX);
    if (lock.valid()) {
        for (const auto& entry : fs::directory_iterator(tmp_dir())) remove_tree(entry.path());
        if (mode == LockMode::shared) lock.change_mode(LOCK_SH);
    } else {
        lock = FileLock(root_ / "lock", mode == LockMode::shared ? LOCK_SH : LOCK_EX);
    }
    lock_fd_ = lock.release();
}

Store::~Store() = default;

TempDir Store::make_temp_dir(std::string_view prefix) const { return TempDir(tmp_dir(), prefix); }

}  // namespace imgbuild::layerstore
