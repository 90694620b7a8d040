#pragma once
// Signals sent to imgbuild while a container (or an exec'ed process) runs are read from a
// signalfd and forwarded to it by the monitor loop (monitor.h).
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "common/error.h"
#include "common/unique_fd.h"
#include "runtime/monitor.h"

namespace imgbuild::runtime {

// Blocks the forwarded signals in this thread and reads them from a signalfd instead;
// the old mask comes back when the object dies.
class SignalForwarding {
public:
    explicit SignalForwarding(bool enabled) {
        if (!enabled) return;
        sigset_t set;
        sigemptyset(&set);
        for (int sig : forwarded_signals()) sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, &previous_);
        active_ = true;
        int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) throw_errno("signalfd", "forwarded signals");
        fd_.reset(fd);
    }
    ~SignalForwarding() {
        if (active_) pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
    [[nodiscard]] int fd() const { return fd_.get(); }

private:
    sigset_t previous_{};
    bool active_ = false;
    unique_fd fd_;
};

}  // namespace imgbuild::runtime
