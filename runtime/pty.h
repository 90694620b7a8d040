#pragma once
// Terminals: the container's pty comes from its own devpts (opened inside, after
// pivot_root), its master is passed to the parent over a socket (fd_passing.h) and the
// parent copies bytes between it and the caller's stdin/stdout.
#include <termios.h>

#include <optional>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

// Child side: opens /dev/ptmx of the current root, makes the slave the controlling
// terminal and fds 0, 1, 2 (the caller has already called setsid). Returns the master.
[[nodiscard]] unique_fd open_container_pty();

// The master's way to the monitor (fd_passing.h); both throw naming it.
void send_pty_master(int socket, int master);
[[nodiscard]] unique_fd receive_pty_master(int socket);

// Copies the window size of `from` (a terminal) to `to`; a non-terminal `from` is ignored.
void copy_window_size(int from, int to);

// Puts a terminal in raw mode for the lifetime of the object (no-op for non-terminals).
class RawTerminal {
public:
    explicit RawTerminal(int fd);
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    std::optional<termios> saved_;
};

}  // namespace imgbuild::runtime
