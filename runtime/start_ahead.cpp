#include "runtime/network_ahead.h"

#include <fcntl.h>
#include <sched.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/helper_thread.h"
#include "runtime/namespaces.h"

namespace imgbuild::runtime {

NetworkAhead::NetworkAhead() {
    thread_ = start_helper_thread([this] {
        try {
            if (::unshare(CLONE_NEWNET) != 0) throw_errno("unshare", "a network namespace (CLONE_NEWNET)");
            bring_up_loopback();
            netns_ = open_or_throw("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        } catch (...) {
            error_ = std::current_exception();
        }
    });
}

NetworkAhead::~NetworkAhead() { wait(); }

void NetworkAhead::wait() {
    if (thread_.joinable()) thread_.join();
}

int NetworkAhead::fd() {
    wait();
    if (error_) std::rethrow_exception(error_);
    return netns_.get();
}

}  // namespace imgbuild::runtime
