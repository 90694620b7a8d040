#include "runtime/freezer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_paths.h"
#include "runtime/container_procs.h"

namespace imgbuild::runtime {
namespace {

constexpr const char* kFreezerMount = "/sys/fs/cgroup/freezer";

void write_text(const fs::path& file, const std::string& value) {
    auto fd = open_or_throw(file, O_WRONLY);
    write_all(fd.get(), value, file);
}

bool is_freezer_dir(const std::string& d) { return d.rfind(std::string(kFreezerMount) + "/", 0) == 0; }

// Waits (bounded) until `check` holds: freezing takes the kernel a few milliseconds.
template <typename F>
void wait_for(F check, const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!check()) {
        if (std::chrono::steady_clock::now() > deadline) throw Error("timed out waiting for " + what);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

std::string v2_dir(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs)
        if (fs::exists(fs::path(d) / "cgroup.freeze")) return d;
    throw Error("the container has no cgroup v2 directory to freeze");
}

// The freezer hierarchy as `pid` is in it (cgroup_paths.h: the one mapping to directories).
CgroupHierarchy freezer_of(pid_t pid) {
    auto hierarchies = cgroup_hierarchies_of(pid);
    const CgroupHierarchy* h = find_hierarchy(hierarchies, "freezer");
    if (!h || h->mountpoint.empty())
        throw Error("cgroup v1 freezer is not mounted (no freezer line in /proc/" + std::to_string(pid) + "/cgroup)");
    return *h;
}

}  // namespace

void freeze_container(pid_t pid, const std::string& cgroup_name, std::vector<std::string>& cgroup_dirs) {
    if (detect_cgroup_version() == CgroupVersion::v2) {
        fs::path d = v2_dir(cgroup_dirs);
        write_text(d / "cgroup.freeze", "1");
        wait_for([&] { return read_file(d / "cgroup.events").find("frozen 1") != std::string::npos; },
                 (d / "cgroup.events").string() + " to say frozen");
        return;
    }
    auto it = std::find_if(cgroup_dirs.begin(), cgroup_dirs.end(), is_freezer_dir);
    fs::path dir;
    if (it != cgroup_dirs.end()) {
        dir = *it;
    } else {
        auto made = container_cgroup_dir(freezer_of(pid), cgroup_name, false);
        if (!made) throw Error("the container's freezer cgroup is outside the freezer mount");
        dir = *made;
        make_dirs(dir);
        cgroup_dirs.push_back(dir.string());
    }
    for (;;) {
        int moved = 0;
        for (pid_t p : processes_in_pid_namespace_of(pid)) {
            std::optional<fs::path> in;
            try {
                CgroupHierarchy h = freezer_of(p);
                in = cgroup_dir(h, h.path);
            } catch (const std::exception&) {
                continue;  // exited meanwhile
            }
            if (in == dir.lexically_normal()) continue;
            try {
                write_text(dir / "cgroup.procs", std::to_string(p));
                ++moved;
            } catch (const SystemError& e) {
                if (e.error_number() != ESRCH) throw;
            }
        }
        write_text(dir / "freezer.state", "FROZEN");
        wait_for([&] { return read_file(dir / "freezer.state").rfind("FROZEN", 0) == 0; },
                 (dir / "freezer.state").string() + " to say FROZEN");
        if (moved == 0) return;
    }
}

void thaw_container(pid_t pid, const std::vector<std::string>& cgroup_dirs) {
    (void)pid;
    if (detect_cgroup_version() == CgroupVersion::v2) {
        write_text(fs::path(v2_dir(cgroup_dirs)) / "cgroup.freeze", "0");
        return;
    }
    auto it = std::find_if(cgroup_dirs.begin(), cgroup_dirs.end(), is_freezer_dir);
    if (it == cgroup_dirs.end()) throw Error("the container is not frozen (no freezer cgroup)");
    write_text(fs::path(*it) / "freezer.state", "THAWED");
}

}  // namespace imgbuild::runtime
