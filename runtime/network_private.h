#pragma once
// Network "private": the container's new network namespace gets outbound access through
// slirp4netns (user-mode TCP/IP; no veth, no bridge, no iptables), as rootless Podman does.
//
// Contracts:
// - private_network_available() is true when a slirp4netns binary is found on PATH and
//   /dev/net/tun can be opened (rootless: the device must be 0666). When not, the first
//   caller prints one note on stderr and the container gets `none` (only lo; -p still works,
//   the forwarder joins the namespace); private_network_problem() says why, for callers
//   that refuse an explicit `--network private` instead.
// - A PrivateNetwork attaches to the network namespace of `pid` (a fresh one: the container
//   child) and configures tap0 = 10.0.2.100/24, default route via 10.0.2.2, DNS at 10.0.2.3,
//   MTU 65520. The host's loopback (10.0.2.2 -> 127.0.0.1) is disabled; other host
//   addresses and the outside are reachable by TCP/UDP (ICMP only where ping sockets are).
// - wait_ready() returns once tap0 is configured, or throws naming slirp4netns and its
//   stderr. The helper sees no fd of imgbuild or the container (only /dev/null, its log
//   file and its two pipes), runs with --enable-sandbox and --enable-seccomp, and dies with
//   imgbuild (PR_SET_PDEATHSIG and an exit pipe). The destructor sends it SIGKILL; its exit
//   (the kernel tearing down tap0) is not waited for: it is reaped by a later PrivateNetwork
//   or, after imgbuild exits, by init (see DyingHelpers in the .cpp for why).
#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/unique_fd.h"
#include "runtime/container.h"

namespace imgbuild::runtime {

// Nameserver of the private network (slirp4netns forwards it to the host's resolvers).
inline constexpr const char* kPrivateDns = "10.0.2.3";

[[nodiscard]] bool private_network_available();
// Empty when the private network can be made, else why not ("/dev/net/tun: EACCES ...").
[[nodiscard]] std::string private_network_problem();

// The network of `run`/`create` from its --network flag ("" when not given) and
// private_network_problem(): an explicit "private" that cannot be made is refused
// (UsageError naming why), the default falls back to none (the caller prints the note by
// asking private_network_available()); other names as parse_network_mode. Pure.
[[nodiscard]] NetworkMode resolve_run_network(std::string_view flag, std::string_view problem);

// The container's resolv.conf for the private network: the host's search/options lines,
// nameserver 10.0.2.3.
[[nodiscard]] std::string private_resolv_conf(const std::string& host_conf);

// What the container child throws when the parent closes the "network ready" socket
// without its byte (child.cpp).
inline constexpr const char* kNetworkGaveUp = "network private: the parent gave up";

class PrivateNetwork {
public:
    // Starts slirp4netns for the network namespace of `pid` (it joins the user namespace of
    // `pid` first, which serves rootless containers). stderr of the helper goes to `log_file`.
    PrivateNetwork(pid_t pid, const std::filesystem::path& log_file);
    ~PrivateNetwork();
    PrivateNetwork(const PrivateNetwork&) = delete;
    PrivateNetwork& operator=(const PrivateNetwork&) = delete;

    // Blocks until tap0 is configured (at most 10 s).
    void wait_ready();

private:
    std::filesystem::path log_;
    unique_fd pidfd_, ready_, exit_;
    pid_t pid_ = -1;
};

}  // namespace imgbuild::runtime
