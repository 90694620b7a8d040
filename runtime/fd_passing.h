#pragma once
// Passing a file descriptor to another process over a unix socket (SCM_RIGHTS), one byte
// with it: the container's pty master from the child to its monitor, the overlay made in the
// parent to the child (container.cpp). A message may carry no fd: "none made, do it yourself".
#include <string_view>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

// Sends one byte and `fd` (none when fd < 0). False with errno set when the send failed
// (EPIPE: the peer is gone; never SIGPIPE).
[[nodiscard]] bool send_fd(int socket, int fd);

// Receives one message: its fd, or an empty one when it carried none. Throws Error naming
// `what` when the peer closed the socket first or the receive failed.
[[nodiscard]] unique_fd receive_fd(int socket, std::string_view what);

}  // namespace imgbuild::runtime
