#pragma once
// The parent side while the container runs: one poll loop over the child's pidfd, a
// signalfd (signals forwarded to the container's PID 1), the output pipes (on_output)
// and the pty. No threads, no timers, no polling intervals.
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "runtime/pty.h"

namespace imgbuild::runtime {

struct MonitorIo {
    int pidfd = -1;
    int signal_fd = -1;                 // -1: no forwarding
    struct Output {
        unique_fd fd;
        int stream;                     // 1 stdout, 2 stderr
    };
    std::vector<Output> outputs;        // pipes read for on_output
    std::function<void(int, std::string_view)> on_output;
    unique_fd tty_master;               // -1 without tty
    int tty_in = -1;                    // copied into the pty (-1: not interactive)
    int tty_out = -1;                   // the pty's output goes here
    int tty_size_from = -1;             // the caller's terminal: its size is copied on SIGWINCH
};

// Receives the container's pty master from tty_socket and wires it to the caller's
// streams: output to stdout_fd, the window size from the caller's terminal, and with
// `interactive` stdin_fd into the pty, that terminal put in raw mode for as long as `raw`
// lives. Used by a container's start and by exec.
void connect_terminal(MonitorIo& io, int tty_socket, int stdin_fd, int stdout_fd, bool interactive,
                      std::optional<RawTerminal>& raw);

// Runs until the container's PID 1 has exited and every output has reached EOF.
// Returns the exit status (128+N for signal N).
[[nodiscard]] int monitor_container(MonitorIo& io);

// Signals forwarded to the container (SIGWINCH resizes the pty instead).
[[nodiscard]] const std::vector<int>& forwarded_signals();

}  // namespace imgbuild::runtime
