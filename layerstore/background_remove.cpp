#include "layerstore/background_remove.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <system_error>

#include "common/fs.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

namespace {

// Closes every fd but `keep` (and 0-2, pointed at /dev/null).
void keep_only(int keep) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        for (int fd = 0; fd < 3; ++fd) (void)::dup2(null, fd);
    }
    if (keep > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U);
    ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0U, 0U);
}

}  // namespace

void remove_tree_in_background(const Store& store, const fs::path& doomed) {
    const int lock = store.lock_fd();
    // One fork, not waited for: the caller exits next (header), and the remover is then
    // reparented. (A middle process that the caller waited for cost a second fork and
    // a wait on the way to the exit status, ~0.25 ms of every `run --rm`.)
    pid_t remover = ::fork();
    if (remover < 0) {
        remove_tree(doomed);  // no remover could be made: the tree goes now
        return;
    }
    if (remover > 0) return;
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    keep_only(lock);
    std::error_code ec;
    fs::remove_all(doomed, ec);
    ::_exit(ec ? 1 : 0);
}

}  // namespace imgbuild::layerstore
