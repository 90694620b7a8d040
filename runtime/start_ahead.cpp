#include "runtime/start_ahead.h"

#include <fcntl.h>
#include <sched.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/helper_thread.h"
#include "runtime/cgroup.h"
#include "runtime/namespaces.h"

namespace imgbuild::runtime {

StartAhead::StartAhead(StartAheadRequest request) : request_(std::move(request)) {
    thread_ = start_helper_thread([this] {
        if (request_.network) {
            try {
                if (::unshare(CLONE_NEWNET) != 0) throw_errno("unshare", "a network namespace (CLONE_NEWNET)");
                bring_up_loopback();
                netns_ = open_or_throw("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
            } catch (...) {
                network_error_ = std::current_exception();
            }
        }
        if (!request_.cgroup_name.empty()) {
            try {
                ContainerSpec spec;
                spec.cgroup_name = request_.cgroup_name;
                spec.limits = request_.limits;
                cgroup_ = create_container_cgroup(spec);
            } catch (...) {
                cgroup_error_ = std::current_exception();
            }
        }
    });
}

StartAhead::~StartAhead() { join(); }

void StartAhead::join() {
    if (thread_.joinable()) thread_.join();
}

int StartAhead::network_fd() {
    join();
    if (network_error_) std::rethrow_exception(network_error_);
    return netns_ ? netns_.get() : -1;
}

const Cgroup* StartAhead::cgroup() {
    join();
    if (cgroup_error_) std::rethrow_exception(cgroup_error_);
    return cgroup_.get();
}

}  // namespace imgbuild::runtime
