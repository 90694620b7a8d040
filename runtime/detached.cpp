#include "runtime/detached.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "runtime/container_log.h"
#include "runtime/fd_hygiene.h"

namespace imgbuild::runtime {
namespace {

// What the monitor tells the caller through the start pipe (one record).
struct StartReport {
    int32_t started = 0;
    int32_t pid = 0;
    int32_t monitor_pid = 0;
    int32_t status = 0;
    char error[2000] = {};
};

void send_report(int fd, const StartReport& r) {
    if (fd < 0) return;
    (void)!::write(fd, &r, sizeof r);
    ::close(fd);
}

void null_stdio() {
    int fd = ::open("/dev/null", O_RDWR);
    if (fd < 0) return;
    for (int i = 0; i < 3; ++i) (void)::dup2(fd, i);
    if (fd > 2) ::close(fd);
}

[[noreturn]] void monitor_main(ContainerSpec spec, DetachedOptions& opt, int report_fd) {
    StartReport report;
    report.monitor_pid = ::getpid();
    int status = exit_runtime_failure;
    std::string error;
    try {
        // The caller's fds (its store lock, terminals, pipes) must not be held by a process
        // that outlives it: only the start pipe and the port listeners stay.
        std::vector<int> keep = {report_fd};
        for (const auto& f : opt.forwards) keep.push_back(f.listener.get());
        close_fds_except(keep);
        null_stdio();
        ::signal(SIGPIPE, SIG_IGN);
        (void)::prctl(PR_SET_NAME, "imgbuild-mon", 0, 0, 0);
        ::signal(SIGHUP, SIG_IGN);
        LogWriter log(opt.log_path);
        unique_fd tty_read;
        std::thread tty_logger;
        if (spec.tty) {
            // The pty's output reaches the monitor as stdout_fd: a pipe into the log.
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2", "tty log");
            tty_read.reset(p[0]);
            spec.stdout_fd = p[1];
            tty_logger = std::thread([&log, fd = p[0]] {
                char buf[65536];
                for (;;) {
                    ssize_t n = ::read(fd, buf, sizeof buf);
                    if (n < 0 && errno == EINTR) continue;
                    if (n <= 0) return;
                    try {
                        log.write(1, std::string_view(buf, static_cast<size_t>(n)));
                    } catch (const std::exception&) {
                    }
                }
            });
        } else {
            // A full disk must not take the container down with the log: drop the output.
            spec.on_output = [&log](int stream, std::string_view data) {
                try {
                    log.write(stream, data);
                } catch (const std::exception&) {
                }
            };
        }
        // -i without a terminal: stdin is a pipe that the monitor holds open and never
        // writes, so a shell waits on it as under docker run -di (nothing attaches to it yet).
        unique_fd stdin_hold;
        if (spec.interactive && !spec.tty) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2", "container stdin");
            spec.stdin_fd = p[0];
            stdin_hold.reset(p[1]);
        } else {
            spec.stdin_fd = -1;
        }
        spec.interactive = false;
        spec.forward_signals = false;
        spec.on_started = [&](pid_t pid) {
            report.started = 1;
            report.pid = pid;
            if (opt.on_started) opt.on_started(pid, report.monitor_pid);
            start_port_forwarding(pid, std::move(opt.forwards));
            send_report(report_fd, report);
            report_fd = -1;
        };
        try {
            status = run_container(spec);
        } catch (...) {
            if (spec.tty) {
                ::close(spec.stdout_fd);
                tty_logger.join();
            }
            throw;
        }
        if (spec.tty) {
            ::close(spec.stdout_fd);
            tty_logger.join();
        }
    } catch (const std::exception& e) {
        error = e.what();
        status = exit_runtime_failure;
    }
    if (report_fd >= 0) {
        report.status = status;
        std::string msg = error.empty() ? "the command exited at once with status " + std::to_string(status) : error;
        std::strncpy(report.error, msg.c_str(), sizeof report.error - 1);
        send_report(report_fd, report);
    }
    try {
        if (opt.on_exit) opt.on_exit(status, error);
    } catch (...) {
    }
    _exit(0);
}

}  // namespace

DetachedResult start_detached(const ContainerSpec& spec, DetachedOptions options) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2", "monitor start report");
    unique_fd read_end(p[0]), write_end(p[1]);
    pid_t first = ::fork();
    if (first < 0) throw_errno("fork", "container monitor");
    if (first == 0) {
        // The intermediate: a new session, then the monitor as its child, then gone; the
        // monitor is reparented to init (or the nearest subreaper), never the caller's child.
        read_end.reset();
        if (::setsid() < 0) _exit(1);
        pid_t monitor = ::fork();
        if (monitor < 0) _exit(1);
        if (monitor > 0) _exit(0);
        monitor_main(spec, options, write_end.release());
    }
    write_end.reset();
    options.forwards.clear();  // the monitor has them now
    (void)wait_for_child(first, "container monitor launcher");
    StartReport r;
    size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(&r);
    while (got < sizeof r) {
        ssize_t n = ::read(read_end.get(), bytes + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    DetachedResult result;
    if (got != sizeof r) {
        result.status = exit_runtime_failure;
        result.error = "the container monitor died before the container started";
        return result;
    }
    result.started = r.started != 0;
    result.pid = r.pid;
    result.monitor_pid = r.monitor_pid;
    result.status = r.status;
    result.error = r.error;
    return result;
}

}  // namespace imgbuild::runtime
