#include "builder/container_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "builder/container_spec_json.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"
#include "common/unique_fd.h"
#include "runtime/fd_hygiene.h"

extern char** environ;

namespace imgbuild::builder {

namespace {

// The helper's fds (container_process.h).
constexpr int kSpecFd = 3, kResultFd = 4, kStdoutFd = 5, kStderrFd = 6, kNetnsFd = 7;

void write_all_raw(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

std::string read_all(int fd, const char* what) {
    std::string text;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            text.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return text;
        if (errno != EINTR) throw_errno("read", what);
    }
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

// The spec goes into the pipe before the helper exists, so writing it can neither block on
// nor be cut by a helper that died early: the pipe is made large enough to hold it.
Pipe spec_pipe(const std::string& text) {
    Pipe p = make_pipe("RUN helper spec");
    if (text.size() >= 65536 && ::fcntl(p.write.get(), F_SETPIPE_SZ, static_cast<int>(text.size() + 1)) < 0)
        throw_errno("fcntl(F_SETPIPE_SZ)", "RUN helper spec (" + std::to_string(text.size()) + " bytes)");
    write_all_raw(p.write.get(), text);
    p.write.reset();
    return p;
}

// A copy of `fd` above the fds the helper's layout uses, so that each dup2 of the spawn
// really makes a new descriptor (dup2 onto itself would keep close-on-exec set).
unique_fd high_copy(int fd, const char* what) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (copy < 0) throw_errno("fcntl(F_DUPFD_CLOEXEC)", what);
    return unique_fd(copy);
}

const char* log_level_name() {
    if (log::enabled(log::Level::debug)) return "debug";
    if (log::enabled(log::Level::info)) return "info";
    if (log::enabled(log::Level::warn)) return "warn";
    return "error";
}

// `netns_fd`: the stage's kept network (-1: none), passed on as kNetnsFd.
pid_t spawn_helper(int stdin_fd, int spec_fd, int result_fd, int stdout_fd, int stderr_fd, int netns_fd) {
    unique_fd in = high_copy(stdin_fd, "RUN stdin"), spec = high_copy(spec_fd, "RUN helper spec"),
              result = high_copy(result_fd, "RUN helper result"), out = high_copy(stdout_fd, "RUN stdout"),
              err = high_copy(stderr_fd, "RUN stderr");
    unique_fd netns = netns_fd >= 0 ? high_copy(netns_fd, "RUN network namespace") : unique_fd();
    posix_spawn_file_actions_t actions;
    if (int e = ::posix_spawn_file_actions_init(&actions); e != 0) throw_errno(e, "posix_spawn_file_actions_init", "RUN helper");
    const std::pair<int, int> layout[] = {{in.get(), 0}, {spec.get(), kSpecFd}, {result.get(), kResultFd},
                                          {out.get(), kStdoutFd}, {err.get(), kStderrFd}};
    int e = 0;
    for (const auto& [from, to] : layout)
        if (e == 0) e = ::posix_spawn_file_actions_adddup2(&actions, from, to);
    if (e == 0 && netns) e = ::posix_spawn_file_actions_adddup2(&actions, netns.get(), kNetnsFd);
    std::string parent = std::to_string(::getpid());
    char* argv[] = {const_cast<char*>("imgbuild"), const_cast<char*>(kContainerHelperVerb), parent.data(),
                    const_cast<char*>(log_level_name()), nullptr};
    pid_t pid = -1;
    if (e == 0) e = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (e != 0) throw_errno(e, "posix_spawn", "/proc/self/exe (RUN helper)");
    return pid;
}

}  // namespace

int container_helper_main(int argc, char** argv) {
    std::string result;
    try {
        if (argc != 4) throw UsageError(std::string(kContainerHelperVerb) + ": internal use only");
        // Gone with the stage's thread (a killed imgbuild), and the container with it
        // (the container has its own PDEATHSIG on this process).
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("prctl(PR_SET_PDEATHSIG)", "RUN helper");
        if (std::to_string(::getppid()) != argv[2]) return 1;
        log::set_level(argv[3]);
        runtime::ContainerSpec spec = container_spec_from_json(read_all(kSpecFd, "RUN helper spec"), "RUN helper spec");
        ::close(kSpecFd);
        spec.stdin_fd = 0;
        spec.stdout_fd = kStdoutFd;
        spec.stderr_fd = kStderrFd;
        spec.forward_signals = true;
        if (spec.join_netns_fd >= 0) spec.join_netns_fd = kNetnsFd;
        runtime::close_fds_except({0, 1, 2, kResultFd, kStdoutFd, kStderrFd, spec.join_netns_fd});
        result = "S" + std::to_string(runtime::run_container(spec));
    } catch (const std::exception& e) {
        result = std::string("E") + e.what();
    }
    write_all_raw(kResultFd, result);
    return 0;
}

int run_container_in_subprocess(runtime::ContainerSpec spec, const std::atomic<bool>* cancelled) {
    // The helper could not call back into this process before its exec.
    if (spec.before_exec) throw Error("container in a helper process: before_exec is not supported there");
    auto on_output = std::move(spec.on_output);
    Pipe out = make_pipe("RUN stdout"), err = make_pipe("RUN stderr"), result = make_pipe("RUN helper result");
    Pipe spec_text = spec_pipe(container_spec_to_json(spec));
    pid_t pid = spawn_helper(spec.stdin_fd, spec_text.read.get(), result.write.get(), out.write.get(), err.write.get(),
                             spec.join_netns_fd);
    spec_text.read.reset();
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
    int wstatus = wait_for_child(pid, "RUN helper process");
    if (report.size() > 1 && report[0] == 'S') return std::stoi(report.substr(1));
    if (report.size() > 1 && report[0] == 'E') throw Error(report.substr(1));
    if (sent_term) throw Error("cancelled: another stage failed");
    throw Error("RUN helper process ended without a result (" + describe_wait_status(wstatus) + ")");
}

}  // namespace imgbuild::builder
