#include "builder/container_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "common/unique_fd.h"
#include "runtime/fd_hygiene.h"

namespace imgbuild::builder {

namespace {

void write_all_raw(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// The helper: single threaded from here on. Its result goes to `result_fd` as "S<status>"
// or "E<error message>".
[[noreturn]] void helper_main(runtime::ContainerSpec& spec, pid_t parent, int result_fd) {
    std::string result;
    try {
        // Gone with the stage's thread (a killed imgbuild), and the container with it
        // (the container has its own PDEATHSIG on this process).
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_PDEATHSIG)", "RUN helper");
        if (::getppid() != parent) _exit(1);
        // Other stages' pipes must not stay open here, or their readers would wait for us.
        runtime::close_fds_except({0, 1, 2, spec.stdin_fd, spec.stdout_fd, spec.stderr_fd, spec.join_netns_fd, result_fd});
        spec.forward_signals = true;
        result = "S" + std::to_string(runtime::run_container(spec));
    } catch (const std::exception& e) {
        result = std::string("E") + e.what();
    } catch (...) {
        result = "Eunknown error";
    }
    write_all_raw(result_fd, result);
    _exit(0);
}

// Reads what is there (non-blocking); false at EOF.
bool forward_available(int fd, int stream, const std::function<void(int, std::string_view)>& on_output) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            if (on_output) on_output(stream, std::string_view(buf, static_cast<size_t>(n)));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        throw_errno("read", stream == 1 ? "RUN stdout" : "RUN stderr");
    }
}

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl(O_NONBLOCK)", "RUN output pipe");
}

}  // namespace

int run_container_in_subprocess(runtime::ContainerSpec spec, const std::atomic<bool>* cancelled) {
    auto on_output = std::move(spec.on_output);
    spec.on_output = nullptr;
    // Decided here: the helper then needs no random numbers (no library lock after fork).
    if (spec.cgroup_name.empty()) spec.cgroup_name = "imgbuild-" + random_hex(8);
    Pipe out = make_pipe("RUN stdout"), err = make_pipe("RUN stderr"), result = make_pipe("RUN helper result");
    spec.stdout_fd = out.write.get();
    spec.stderr_fd = err.write.get();

    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork", "RUN helper process");
    if (pid == 0) helper_main(spec, parent, result.write.get());
    out.write.reset();
    err.write.reset();
    result.write.reset();
    set_nonblocking(out.read.get());
    set_nonblocking(err.read.get());

    std::string report;
    bool out_open = true, err_open = true, result_open = true, sent_term = false;
    while (result_open || out_open || err_open) {
        if (cancelled && *cancelled && !sent_term) {
            (void)::kill(pid, SIGTERM);
            sent_term = true;
        }
        pollfd fds[3] = {{out_open ? out.read.get() : -1, POLLIN, 0},
                         {err_open ? err.read.get() : -1, POLLIN, 0},
                         {result_open ? result.read.get() : -1, POLLIN, 0}};
        int n = ::poll(fds, 3, 100);
        if (n < 0 && errno != EINTR) throw_errno("poll", "RUN helper process");
        if (n <= 0) continue;
        if (out_open && fds[0].revents) out_open = forward_available(out.read.get(), 1, on_output);
        if (err_open && fds[1].revents) err_open = forward_available(err.read.get(), 2, on_output);
        if (result_open && fds[2].revents) {
            char buf[4096];
            ssize_t r = ::read(result.read.get(), buf, sizeof buf);
            if (r > 0) report.append(buf, static_cast<size_t>(r));
            else if (r == 0 || errno != EINTR) result_open = false;
        }
        // The helper is done: whatever still holds the output pipes (nothing, once the
        // container's PID namespace is gone) is not waited for.
        if (!result_open) {
            if (out_open) (void)forward_available(out.read.get(), 1, on_output);
            if (err_open) (void)forward_available(err.read.get(), 2, on_output);
            out_open = err_open = false;
        }
    }
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR) throw_errno("waitpid", "RUN helper process");
    if (report.size() > 1 && report[0] == 'S') return std::stoi(report.substr(1));
    if (report.size() > 1 && report[0] == 'E') throw Error(report.substr(1));
    if (sent_term) throw Error("cancelled: another stage failed");
    throw Error("RUN helper process ended without a result (" +
                (WIFSIGNALED(wstatus) ? "signal " + std::to_string(WTERMSIG(wstatus)) : "exit " + std::to_string(WEXITSTATUS(wstatus))) + ")");
}

}  // namespace imgbuild::builder
