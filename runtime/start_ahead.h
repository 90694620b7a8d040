#pragma once
// What a foreground container's start needs from the kernel before its record is complete,
// made on a helper thread (common/helper_thread.h) while the caller opens the store and
// writes the record: the network namespace of a container with network none, and the
// container's cgroup. Both were on the start's critical path: a new network namespace
// (copy_net_ns) and lo's ioctl inside clone3 and the child (~0.7 ms here), the cgroup's
// dirs, limits and device-filter check before the clone (~0.3 ms).
//
// Contracts:
// - The network namespace is new and its own: the thread unshares CLONE_NEWNET (the kernel
//   applies it to that thread alone), brings lo up and opens /proc/thread-self/ns/net; the fd
//   keeps the namespace alive. Nothing else ever enters it before the container does, so the
//   container gets what CLONE_NEWNET would have given it, owned by this process's user
//   namespace. For ContainerSpec::join_netns_fd of one container with network none.
// - The cgroup is create_container_cgroup's for the request's name and limits (the spec's
//   own), for ContainerSpec::cgroup; it is removed when this object is destroyed, which must
//   be after the container is gone. It exists before the record that names it: a kill in
//   between leaves an empty cgroup dir under imgbuild/ (as a killed build does), never a
//   record without its cgroup.
// - As root outside a user namespace only (a rootless container's namespaces and cgroup
//   belong to its own user namespace and delegation).
// - network_fd() and cgroup() wait for the thread and throw the error it had for that part
//   (SystemError naming the call). The thread has every signal blocked; the destructor
//   waits for it.
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "runtime/container.h"

namespace imgbuild::runtime {

class Cgroup;

struct StartAheadRequest {
    bool network = false;     // a network namespace (a container with network none)
    std::string cgroup_name;  // the container's cgroup, when not empty ...
    Limits limits;            // ... with these limits (before the default pids limit)
};

class StartAhead {
public:
    explicit StartAhead(StartAheadRequest request);  // starts the thread
    ~StartAhead();
    StartAhead(const StartAhead&) = delete;
    StartAhead& operator=(const StartAhead&) = delete;

    [[nodiscard]] const StartAheadRequest& request() const { return request_; }
    // Waits for the thread (whatever it made is then used or not): before a clone, so that
    // the child is never forked while the thread runs.
    void join();
    // The namespace (O_RDONLY|O_CLOEXEC), owned by this object; -1 when not asked for.
    [[nodiscard]] int network_fd();
    // The cgroup, owned by this object; null when not asked for (or none is needed).
    [[nodiscard]] const Cgroup* cgroup();

private:
    StartAheadRequest request_;
    unique_fd netns_;
    std::unique_ptr<Cgroup> cgroup_;
    std::exception_ptr network_error_, cgroup_error_;
    std::thread thread_;
};

}  // namespace imgbuild::runtime
