#pragma once
// A network namespace made once and joined by several containers, one after another: the
// RUN steps of one build stage (DESIGN.md §5 departure, docs/architecture.md). Making a
// netns per container costs a clone with CLONE_NEWNET plus its asynchronous teardown and,
// for "private", a slirp4netns started and configured per container: 5-10 ms of CPU and one
// or two scheduler round trips per RUN.
//
// Contracts:
// - KeptNetwork(mode) for none or private: a fresh network namespace with lo up, held by a
//   small holder process (a fork that does nothing but wait); for private, slirp4netns
//   (network_private.h) is attached to it and started when the constructor returns; fd()
//   waits until it is ready (or throws as PrivateNetwork does), so a build can start the
//   network ahead of the RUN that needs it and let slirp4netns come up meanwhile on the other
//   core. Where slirp4netns is missing, private is the same as none (the one note of
//   network_private.h).
// - fd() is an O_RDONLY|O_CLOEXEC fd of the namespace, for ContainerSpec::join_netns_fd.
// - The holder and slirp4netns die with the thread that made the KeptNetwork
//   (PR_SET_PDEATHSIG) and with the destructor; the thread must outlive every container
//   that joins. Not thread-safe: one user at a time.
// - What a container can leave in the namespace for the next one: nothing that it could
//   change with the default capabilities (no CAP_NET_ADMIN: routes, addresses, firewall
//   and /proc/sys/net are out of reach), only kernel socket state such as TIME_WAIT
//   entries; its processes and sockets are gone with its PID namespace.
#include <sys/types.h>

#include <filesystem>
#include <memory>

#include "common/unique_fd.h"
#include "runtime/container.h"

namespace imgbuild::runtime {

class PrivateNetwork;

class KeptNetwork {
public:
    // `log_file`: slirp4netns's stderr (private only).
    KeptNetwork(NetworkMode mode, const std::filesystem::path& log_file);
    ~KeptNetwork();
    KeptNetwork(const KeptNetwork&) = delete;
    KeptNetwork& operator=(const KeptNetwork&) = delete;

    // The namespace, once its network is ready (the first call waits for slirp4netns).
    [[nodiscard]] int fd();

private:
    void close();  // slirp4netns killed, the holder released and reaped

    bool ready_ = false;

    unique_fd holder_pidfd_, holder_release_, netns_;
    std::unique_ptr<PrivateNetwork> slirp_;
};

}  // namespace imgbuild::runtime
