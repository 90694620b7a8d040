#include "runtime/user_namespace.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"

namespace imgbuild::runtime {

std::vector<SubidRange> parse_subid_ranges(const std::string& text, const std::string& user, uid_t id) {
    std::vector<SubidRange> out;
    std::istringstream in(text);
    const std::string numeric = std::to_string(id);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        size_t a = line.find(':'), b = line.find(':', a == std::string::npos ? a : a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string who = line.substr(0, a);
        if (who != user && who != numeric) continue;
        try {
            size_t used1 = 0, used2 = 0;
            std::string start = line.substr(a + 1, b - a - 1), count = line.substr(b + 1);
            unsigned long s = std::stoul(start, &used1), c = std::stoul(count, &used2);
            if (used1 != start.size() || used2 != count.size() || c == 0 || s > 0xffffffffUL || c > 0xffffffffUL) continue;
            out.push_back({static_cast<uint32_t>(s), static_cast<uint32_t>(c)});
        } catch (const std::exception&) {
        }
    }
    return out;
}

std::vector<IdMap> rootless_id_map(uint32_t own, const std::vector<SubidRange>& ranges) {
    std::vector<IdMap> map = {{0, own, 1}};
    uint32_t next = 1;
    for (const auto& r : ranges) {
        map.push_back({next, r.start, r.count});
        next += r.count;
    }
    return map;
}

fs::path rootless_state_dir(uid_t uid) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    fs::path dir = xdg && *xdg ? fs::path(xdg) / "imgbuild" : fs::path("/tmp/imgbuild-" + std::to_string(uid));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("mkdir", dir.string());
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) throw_errno("lstat", dir.string());
    if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077) != 0)
        throw Error("rootless state dir " + dir.string() + ": must be a directory owned by uid " + std::to_string(uid) +
                    " with mode 0700 (found mode " + std::to_string(st.st_mode & 07777) + " owned by uid " +
                    std::to_string(st.st_uid) + ")");
    return dir;
}

namespace {

std::string user_name(uid_t uid) {
    if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
    return std::to_string(uid);
}

std::vector<SubidRange> ranges_from(const char* file, const std::string& user, uid_t id) {
    std::string text;
    try {
        text = read_file(file);
    } catch (const Error&) {
        return {};
    }
    return parse_subid_ranges(text, user, id);
}

// newuidmap PID 0 UID 1 1 START COUNT ...: the setuid helper checks the ranges against
// /etc/subuid itself; its own message reaches our stderr.
void run_id_mapper(const char* program, pid_t pid, const std::vector<IdMap>& map) {
    std::vector<std::string> args = {program, std::to_string(pid)};
    for (const auto& m : map)
        for (uint32_t v : {m.container_id, m.host_id, m.count}) args.push_back(std::to_string(v));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork", program);
    if (child == 0) {
        ::execvp(program, argv.data());
        std::string msg = std::string("imgbuild: exec ") + program + ": " + describe_errno(errno) +
                          " (install the uidmap package, or add no ranges to /etc/subuid to map only your own id)\n";
        (void)!::write(2, msg.data(), msg.size());
        ::_exit(127);
    }
    int status = wait_for_child(child, program);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(std::string(program) + " " + std::to_string(pid) + " failed (" + describe_wait_status(status) + ")");
}

void write_proc(pid_t pid, const char* name, const std::string& text) {
    fs::path path = fs::path("/proc") / std::to_string(pid) / name;
    auto fd = open_or_throw(path, O_WRONLY | O_CLOEXEC);
    write_all(fd.get(), text, path);
}

// The pause process: made by a double fork (so it is never our child to reap), it unshares
// the user namespace, reports its pid, waits until the maps are written and then sleeps
// until killed, holding no fd of ours (a caller's pipe would never see EOF otherwise).
[[noreturn]] void pause_process(int report_fd, int go_fd) {
    struct {
        pid_t pid;
        int err;
    } report{::getpid(), 0};
    if (::unshare(CLONE_NEWUSER) != 0) report.err = errno;
    (void)!::write(report_fd, &report, sizeof report);
    if (report.err != 0) ::_exit(1);
    char go = 0;
    if (::read(go_fd, &go, 1) != 1 || go != '1') ::_exit(1);
    (void)::setsid();
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd) (void)::dup2(null, fd);
    (void)::syscall(SYS_close_range, 3U, ~0U, 0U);
    (void)::prctl(PR_SET_NAME, "imgbuild-pause", 0, 0, 0);
    (void)!::chdir("/");
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGTERM);
    sigdelset(&all, SIGKILL);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    // (an ignored SIGTERM is inherited from whoever ran the first command: kill must end it)
    (void)::signal(SIGTERM, SIG_DFL);
    for (;;) ::pause();
}

// Makes the pause process and maps its namespace; returns its pid.
pid_t make_pause_process(uid_t uid, gid_t gid) {
    int report[2], go[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) throw_errno("pipe2", "rootless pause process");
    unique_fd report_read(report[0]), report_write(report[1]), go_read(go[0]), go_write(go[1]);
    pid_t middle = ::fork();
    if (middle < 0) throw_errno("fork", "rootless pause process");
    if (middle == 0) {
        pid_t pause = ::fork();
        if (pause == 0) pause_process(report_write.get(), go_read.get());
        ::_exit(pause < 0 ? 1 : 0);
    }
    (void)wait_for_child(middle, "rootless pause process launcher");
    report_write.reset();
    go_read.reset();
    struct {
        pid_t pid;
        int err;
    } r{};
    if (::read(report_read.get(), &r, sizeof r) != static_cast<ssize_t>(sizeof r))
        throw Error("rootless pause process: it exited before reporting");
    if (r.err != 0)
        throw Error("unshare(CLONE_NEWUSER): " + describe_errno(r.err) +
                    " (unprivileged user namespaces are disabled? see kernel.unprivileged_userns_clone / "
                    "user.max_user_namespaces)");

    const std::string name = user_name(uid);
    auto uids = ranges_from("/etc/subuid", name, uid);
    auto gids = ranges_from("/etc/subgid", name, uid);
    if (!uids.empty()) {
        run_id_mapper("newuidmap", r.pid, rootless_id_map(uid, uids));
    } else {
        write_proc(r.pid, "uid_map", "0 " + std::to_string(uid) + " 1\n");
    }
    if (!gids.empty() && !uids.empty()) {
        run_id_mapper("newgidmap", r.pid, rootless_id_map(gid, gids));
    } else {
        write_proc(r.pid, "setgroups", "deny");
        write_proc(r.pid, "gid_map", "0 " + std::to_string(gid) + " 1\n");
    }
    if (uids.empty() || gids.empty())
        log::warn("no subordinate " + std::string(uids.empty() ? "uids" : "gids") + " for user " + name + " in /etc/sub" +
                  (uids.empty() ? "uid" : "gid") +
                  ": the user namespace maps only root (to your own id); images with files or users of other ids "
                  "fail at chown (an administrator can add a range: usermod --add-subuids 100000-165535 "
                  "--add-subgids 100000-165535 " + name + ")");
    if (::write(go_write.get(), "1", 1) != 1) throw_errno("write", "rootless pause process go");
    return r.pid;
}

void join(pid_t pid) {
    fs::path ns = fs::path("/proc") / std::to_string(pid) / "ns/user";
    auto fd = open_or_throw(ns, O_RDONLY | O_CLOEXEC);
    if (::setns(fd.get(), CLONE_NEWUSER) != 0) throw_errno("setns", ns.string());
}

}  // namespace

void enter_rootless_user_namespace() {
    if (::geteuid() == 0) return;
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    const fs::path dir = rootless_state_dir(uid);
    auto lock = open_or_throw(dir / "pause.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    while (::flock(lock.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("flock", (dir / "pause.lock").string());
    const fs::path pid_file = dir / "pause.pid";
    long pid = 0;
    unsigned long long start = 0;
    try {
        std::istringstream(read_file(pid_file)) >> pid >> start;
    } catch (const Error&) {
    }
    if (pid > 0 && process_is(static_cast<pid_t>(pid), start)) {
        join(static_cast<pid_t>(pid));
        return;
    }
    pid_t made = make_pause_process(uid, gid);
    std::string text = std::to_string(made) + " " + std::to_string(process_start_time(made)) + "\n";
    atomic_write_file(pid_file, text, dir);
    join(made);
}

}  // namespace imgbuild::runtime
