#pragma once
// Published ports without iptables: the monitor listens on the host and, for each
// connection, connects to the port inside the container's network namespace. The
// listening sockets are made in the host's namespace (before the container starts, so a
// port in use fails `run` at once); the forwarding thread then joins the container's
// network namespace (setns is per thread), so every socket it creates to reach the
// container is made there, and bytes are copied between the two.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

// A listening TCP socket on ip:port (IPv4; port 0 picks a free one, returned in *bound).
// Throws Error naming the address ("listen 0.0.0.0:8080: EADDRINUSE ...").
[[nodiscard]] unique_fd listen_tcp(const std::string& ip, uint16_t port, uint16_t* bound);

struct Forward {
    unique_fd listener;
    uint16_t container_port = 0;
};

// Starts the forwarding thread for the container whose PID 1 is `pid` (host pid). The
// thread lives as long as the process; connections that cannot reach the container are
// closed. Throws when the container's namespace cannot be opened.
void start_port_forwarding(pid_t pid, std::vector<Forward> forwards);

}  // namespace imgbuild::runtime
