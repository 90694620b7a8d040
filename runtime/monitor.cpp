#include "runtime/monitor.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "runtime/pty.h"

namespace imgbuild::runtime {
namespace {

constexpr size_t kChunk = 65536;

// Reads once from `fd`; false at EOF (or EIO: a pty master whose slave is gone).
bool pump(int fd, const std::function<void(std::string_view)>& sink) {
    char buf[kChunk];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            sink(std::string_view(buf, static_cast<size_t>(n)));
            return true;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        if (errno == EIO) return false;
        throw_errno("read", "container output");
    }
}

void write_fully(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // the reader went away (closed terminal, pipe): drop, as docker does
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

int wait_status(int pidfd) { return wait_for_pidfd(pidfd, "container"); }

}  // namespace

const std::vector<int>& forwarded_signals() {
    static const std::vector<int> sigs = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    return sigs;
}

int monitor_container(MonitorIo& io) {
    std::optional<int> status;
    bool tty_open = io.tty_master.valid();
    int tty_in = io.tty_in;
    enum Slot { kPid, kSignal, kTtyMaster, kTtyIn, kFirstOutput };
    while (!status || !io.outputs.empty() || tty_open) {
        std::vector<pollfd> fds(kFirstOutput + io.outputs.size());
        fds[kPid] = {status ? -1 : io.pidfd, POLLIN, 0};
        fds[kSignal] = {status ? -1 : io.signal_fd, POLLIN, 0};
        fds[kTtyMaster] = {tty_open ? io.tty_master.get() : -1, POLLIN, 0};
        fds[kTtyIn] = {status ? -1 : tty_in, POLLIN, 0};
        for (size_t i = 0; i < io.outputs.size(); ++i) fds[kFirstOutput + i] = {io.outputs[i].fd.get(), POLLIN, 0};
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll", "container");
        }
        if (fds[kPid].revents) status = wait_status(io.pidfd);
        if (fds[kSignal].revents) {
            signalfd_siginfo si{};
            if (::read(io.signal_fd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                    if (tty_open && io.tty_size_from >= 0) copy_window_size(io.tty_size_from, io.tty_master.get());
                } else {
                    (void)::syscall(SYS_pidfd_send_signal, io.pidfd, static_cast<int>(si.ssi_signo), nullptr, 0);
                }
            }
        }
        if (fds[kTtyMaster].revents)
            tty_open = pump(io.tty_master.get(), [&](std::string_view d) { write_fully(io.tty_out, d); });
        if (fds[kTtyIn].revents) {
            if (!pump(tty_in, [&](std::string_view d) { write_fully(io.tty_master.get(), d); })) {
                write_fully(io.tty_master.get(), "\x04");  // EOF on stdin: EOT to the pty
                tty_in = -1;
            }
        }
        for (size_t i = io.outputs.size(); i-- > 0;) {
            if (!fds[kFirstOutput + i].revents) continue;
            int stream = io.outputs[i].stream;
            if (!pump(io.outputs[i].fd.get(), [&](std::string_view d) { io.on_output(stream, d); }))
                io.outputs.erase(io.outputs.begin() + static_cast<long>(i));
        }
    }
    return *status;
}

void connect_terminal(MonitorIo& io, int tty_socket, int stdin_fd, int stdout_fd, bool interactive,
                      std::optional<RawTerminal>& raw) {
    io.tty_master = receive_pty_master(tty_socket);
    io.tty_out = stdout_fd;
    io.tty_size_from = stdin_fd >= 0 && ::isatty(stdin_fd) ? stdin_fd : stdout_fd;
    copy_window_size(io.tty_size_from, io.tty_master.get());
    if (interactive && stdin_fd >= 0) {
        io.tty_in = stdin_fd;
        raw.emplace(stdin_fd);
    }
}

}  // namespace imgbuild::runtime
