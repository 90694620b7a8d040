#include "runtime/container_procs.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_paths.h"

namespace imgbuild::runtime {

std::vector<pid_t> processes_in_pid_namespace_of(pid_t pid) {
    std::vector<pid_t> out;
    struct stat target;
    std::string ns = "/proc/" + std::to_string(pid) + "/ns/pid";
    if (::stat(ns.c_str(), &target) != 0) return out;
    DIR* d = ::opendir("/proc");
    if (!d) throw_errno("opendir", "/proc");
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long n = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || n <= 0) continue;
        struct stat st;
        std::string p = std::string("/proc/") + e->d_name + "/ns/pid";
        if (::stat(p.c_str(), &st) == 0 && st.st_ino == target.st_ino && st.st_dev == target.st_dev)
            out.push_back(static_cast<pid_t>(n));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> cgroup_dirs_from(const std::vector<CgroupHierarchy>& hierarchies, const std::string& leaf) {
    std::vector<std::string> out;
    for (const auto& h : hierarchies) {
        if (fs::path(h.path).filename() != leaf) continue;
        if (auto dir = cgroup_dir(h, h.path)) out.push_back(dir->string());
    }
    return out;
}

std::vector<std::string> process_cgroup_dirs(pid_t pid, const std::string& leaf) {
    return cgroup_dirs_from(cgroup_hierarchies_of(pid), leaf);
}

std::vector<std::string> planned_cgroup_dirs_from(const std::vector<CgroupHierarchy>& own, const std::string& name,
                                                  bool unified_host) {
    std::vector<std::string> out;
    for (const auto& h : own)
        if (auto dir = container_cgroup_dir(h, name, unified_host)) out.push_back(dir->string());
    return out;
}

std::vector<std::string> planned_cgroup_dirs(const std::string& name) {
    return planned_cgroup_dirs_from(cgroup_hierarchies_of(0), name, detect_cgroup_version() == CgroupVersion::v2);
}

void remove_cgroup_dirs(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) remove_cgroup_dir(d);
}

ProcessInfo process_info(pid_t pid) {
    ProcessInfo info;
    info.pid = pid;
    std::string base = "/proc/" + std::to_string(pid);
    std::string stat = read_file(base + "/stat");
    size_t open = stat.find('('), close = stat.rfind(')');
    std::string comm = open != std::string::npos && close != std::string::npos ? stat.substr(open + 1, close - open - 1) : "";
    std::istringstream rest(close != std::string::npos ? stat.substr(close + 2) : "");
    std::vector<std::string> f;
    for (std::string w; rest >> w;) f.push_back(w);
    // rest fields: state(3) ppid(4) ... utime(14) stime(15): index = field - 3
    if (f.size() > 12) {
        info.ppid = static_cast<pid_t>(std::atoi(f[1].c_str()));
        info.cpu_ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
    }
    struct stat st;
    if (::stat(base.c_str(), &st) == 0) info.uid = st.st_uid;
    std::string cmdline;
    try {
        cmdline = read_file(base + "/cmdline");
    } catch (const SystemError&) {
    }
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    info.command = cmdline.empty() ? "[" + comm + "]" : cmdline;
    return info;
}

}  // namespace imgbuild::runtime
