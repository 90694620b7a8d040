#pragma once
// A fresh network namespace for one container, made on a thread of its own while the caller
// does the rest of a start (store, record, cgroup). The kernel's part of a new network
// namespace (copy_net_ns, ~0.7 ms here) and lo's ioctl are paid inside clone3 and the child
// otherwise, on the start's critical path; made ahead they run on the other core.
//
// Contracts:
// - The namespace is new and its own: the thread unshares CLONE_NEWNET (the kernel applies it
//   to that thread alone), brings lo up and opens /proc/thread-self/ns/net; the fd keeps the
//   namespace alive. Nothing else ever enters it before the container does, so the container
//   gets what CLONE_NEWNET would have given it, owned by this process's user namespace.
// - For ContainerSpec::join_netns_fd of one container with network none, as root outside a
//   user namespace (a rootless container's netns must belong to its own user namespace).
// - fd() waits for the thread and throws the error it had (SystemError naming the call).
//   The thread has every signal blocked; the destructor waits for it.
#include <exception>
#include <thread>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

class NetworkAhead {
public:
    NetworkAhead();  // starts the thread
    ~NetworkAhead();
    NetworkAhead(const NetworkAhead&) = delete;
    NetworkAhead& operator=(const NetworkAhead&) = delete;

    // The namespace (O_RDONLY|O_CLOEXEC), once the thread is done; stays owned by this object.
    [[nodiscard]] int fd();

private:
    void wait();
    unique_fd netns_;
    std::exception_ptr error_;
    std::thread thread_;
};

}  // namespace imgbuild::runtime
