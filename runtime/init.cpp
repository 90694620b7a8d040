#include "runtime/init.h"

#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/process.h"

namespace imgbuild::runtime {

void block_all_signals(sigset_t* previous) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, previous);
}

void run_init(pid_t child) {
    // Init holds nothing: no stdio, no pipe the parent waits on.
    ::syscall(SYS_close_range, 0U, ~0U, 0U);
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info{};
        int sig = ::sigwaitinfo(&all, &info);
        if (sig < 0) {
            if (errno == EINTR) continue;
            _exit(125);
        }
        if (sig != SIGCHLD) {
            ::kill(child, sig);
            continue;
        }
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            if (pid == child) _exit(shell_status(status));
        }
    }
}

}  // namespace imgbuild::runtime
