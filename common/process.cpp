#include "common/process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild {

uint64_t process_start_time(pid_t pid) {
    if (pid <= 0) return 0;
    std::string text;
    try {
        text = read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const std::exception&) {
        return 0;
    }
    // "pid (comm) state ...": comm may hold spaces and parentheses, so count from the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    size_t pos = close + 2;
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'X')) return 0;
    for (int field = 3; field < 22 && pos < text.size(); ++field) {
        pos = text.find(' ', pos);
        if (pos == std::string::npos) return 0;
        ++pos;
    }
    return std::strtoull(text.c_str() + pos, nullptr, 10);
}

bool process_is(pid_t pid, uint64_t start_time) {
    uint64_t now = process_start_time(pid);
    return now != 0 && now == start_time;
}

int shell_status(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 125;
}

int shell_status(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED) return info.si_status;
    if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) return 128 + info.si_status;
    return 125;
}

std::string describe_wait_status(int wait_status) {
    if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
    if (WIFSIGNALED(wait_status)) {
        int sig = WTERMSIG(wait_status);
        const char* name = ::strsignal(sig);
        return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : std::string());
    }
    return "wait status " + std::to_string(wait_status);
}

int wait_for_child(pid_t pid, const std::string& what) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("waitpid", what);
    return status;
}

int wait_for_pidfd(int pidfd, const std::string& what) {
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) != 0)
        if (errno != EINTR) throw_errno("waitid", what);
    return shell_status(info);
}

bool reap_if_ended(int pidfd) {
    siginfo_t info{};
    int rc;
    while ((rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG)) != 0 &&
           errno == EINTR) {
    }
    return rc != 0 || info.si_pid != 0;
}

}  // namespace imgbuild
