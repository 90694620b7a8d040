#pragma once
// flock(2) on a lock file, held for the object's lifetime (RAII).
#include <sys/file.h>

#include <filesystem>

#include "common/unique_fd.h"

namespace imgbuild::layerstore {

class FileLock {
public:
    // Blocks until the lock is held in the given mode (LOCK_SH or LOCK_EX).
    FileLock(const std::filesystem::path& path, int mode);
    // Non-blocking attempt: valid() is false when another process holds a conflicting lock.
    static FileLock try_lock(const std::filesystem::path& path, int mode);
    FileLock(FileLock&&) noexcept = default;
    FileLock& operator=(FileLock&&) noexcept = default;
    [[nodiscard]] bool valid() const { return fd_.valid(); }
    [[nodiscard]] int fd() const { return fd_.get(); }
    // Converts the held lock (e.g. exclusive -> shared after start-up cleanup).
    void change_mode(int mode);
    unique_fd release() { return std::move(fd_); }

private:
    FileLock() = default;
    std::filesystem::path path_;
    unique_fd fd_;
};

}  // namespace imgbuild::layerstore
