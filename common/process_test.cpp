#include <doctest/doctest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/process.h"

using namespace imgbuild;

namespace {

pid_t child_exiting(int code) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(code);
    return pid;
}

pid_t child_killed_by(int sig) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(sig, SIG_DFL);
        ::raise(sig);
        ::_exit(99);
    }
    return pid;
}

int pidfd_of(pid_t pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    REQUIRE(fd >= 0);
    return fd;
}

void on_alarm(int) {}

}  // namespace

TEST_CASE("shell_status: the exit code, or 128 + the signal") {
    CHECK(shell_status(wait_for_child(child_exiting(0), "child")) == 0);
    CHECK(shell_status(wait_for_child(child_exiting(3), "child")) == 3);
    CHECK(shell_status(wait_for_child(child_exiting(255), "child")) == 255);
    CHECK(shell_status(wait_for_child(child_killed_by(SIGKILL), "child")) == 128 + SIGKILL);
    CHECK(shell_status(wait_for_child(child_killed_by(SIGTERM), "child")) == 128 + SIGTERM);
}

TEST_CASE("describe_wait_status names exits and signals") {
    CHECK(describe_wait_status(wait_for_child(child_exiting(7), "child")) == "exit 7");
    std::string killed = describe_wait_status(wait_for_child(child_killed_by(SIGKILL), "child"));
    CHECK(killed.rfind("signal 9", 0) == 0);
}

TEST_CASE("wait_for_pidfd decodes exits and signals the same way") {
    pid_t a = child_exiting(42);
    int fa = pidfd_of(a);
    CHECK(wait_for_pidfd(fa, "child") == 42);
    ::close(fa);
    pid_t b = child_killed_by(SIGTERM);
    int fb = pidfd_of(b);
    CHECK(wait_for_pidfd(fb, "child") == 128 + SIGTERM);
    ::close(fb);
}

TEST_CASE("waiting survives a signal (EINTR) and fails clearly for a non-child") {
    struct sigaction sa {};
    sa.sa_handler = on_alarm;  // no SA_RESTART: waitpid returns EINTR
    struct sigaction old {};
    REQUIRE(::sigaction(SIGALRM, &sa, &old) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::usleep(300 * 1000);
        ::_exit(5);
    }
    ::ualarm(50 * 1000, 0);
    CHECK(shell_status(wait_for_child(pid, "child")) == 5);
    ::sigaction(SIGALRM, &old, nullptr);

    try {
        (void)wait_for_child(pid, "gone child");  // already reaped
        FAIL("waitpid of a reaped child succeeded");
    } catch (const SystemError& e) {
        CHECK(e.error_number() == ECHILD);
        CHECK(std::string(e.what()).find("waitpid gone child") != std::string::npos);
    }
}

TEST_CASE("reap_if_ended does not block on a running process") {
    int go[2];
    REQUIRE(::pipe(go) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char c;
        ::close(go[1]);
        (void)!::read(go[0], &c, 1);
        ::_exit(0);
    }
    ::close(go[0]);
    int fd = pidfd_of(pid);
    CHECK_FALSE(reap_if_ended(fd));
    ::close(go[1]);  // the child reads EOF and exits
    CHECK(wait_for_pidfd(fd, "child") == 0);
    CHECK(reap_if_ended(fd));  // nothing left to wait for
    ::close(fd);
}
