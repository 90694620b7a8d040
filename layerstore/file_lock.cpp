#include "layerstore/file_lock.h"

#include <fcntl.h>

#include <cerrno>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::layerstore {

FileLock::FileLock(const std::filesystem::path& path, int mode) : path_(path) {
    fd_ = open_or_throw(path, O_RDWR | O_CREAT, 0600);
    while (::flock(fd_.get(), mode) != 0) {
        if (errno != EINTR) throw_errno("flock", path.string());
    }
}

FileLock FileLock::try_lock(const std::filesystem::path& path, int mode) {
    FileLock lock;
    lock.path_ = path;
    lock.fd_ = open_or_throw(path, O_RDWR | O_CREAT, 0600);
    if (::flock(lock.fd_.get(), mode | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) throw_errno("flock", path.string());
        lock.fd_.reset();
    }
    return lock;
}

void FileLock::change_mode(int mode) {
    while (::flock(fd_.get(), mode) != 0) {
        if (errno != EINTR) throw_errno("flock", path_.string());
    }
}

}  // namespace imgbuild::layerstore
