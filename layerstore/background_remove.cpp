#include "layerstore/background_remove.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <optional>
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

void remove_tree_in_background(const Store& store, const fs::path& doomed, unique_fd mount_ns) {
    const int lock = store.lock_fd();
    std::optional<Pipe> caller_closed;
    if (mount_ns) {
        try {
            caller_closed = make_pipe("mount namespace handoff");
        } catch (const std::exception&) {
            mount_ns.reset();  // no pipe: the unmounts are paid here, as without a holder
        }
    }
    // One fork, not waited for: the caller exits next (header), and the remover is then
    // reparented. (A middle process that the caller waited for cost a second fork and
    // a wait on the way to the exit status, ~0.25 ms of every `run --rm`.)
    pid_t remover = ::fork();
    if (remover < 0) {
        mount_ns.reset();
        remove_tree(doomed);  // no remover could be made: the tree goes now
        return;
    }
    if (remover > 0) {
        mount_ns.reset();  // before the pipe: the remover's copy is then the last
        return;
    }
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (mount_ns) {
        caller_closed->write.reset();
        char byte;
        while (::read(caller_closed->read.get(), &byte, 1) < 0 && errno == EINTR) {
        }
        mount_ns.reset();  // the container's mounts go now (their unmount runs in this close)
    }
    keep_only(lock);
    std::error_code ec;
    fs::remove_all(doomed, ec);
    ::_exit(ec ? 1 : 0);
}

}  // namespace imgbuild::layerstore
