// cgroup v1 (legacy and hybrid hosts): one directory per hierarchy that carries a
// controller we use, nested under this process's own cgroup in that hierarchy:
// <mount>/<own path>/imgbuild/<name>.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/cgroup.h"
#include "runtime/devices.h"

namespace imgbuild::runtime::cgroup_detail {
namespace {

// Controllers a container may get a directory in; cpuacct (the cpu accounting) comes
// with a cpu limit.
constexpr const char* kControllers[] = {"cpu", "cpuacct", "memory", "pids"};

bool needs(const std::vector<CgroupSetting>& settings, const std::string& controller) {
    const std::string wanted = controller == "cpuacct" ? "cpu" : controller;
    return std::any_of(settings.begin(), settings.end(), [&](const CgroupSetting& s) { return s.controller == wanted; });
}

struct Hierarchy {
    fs::path mountpoint;
    std::string root;  // the mount's root inside the hierarchy (not "/" inside a container)
};

// controller -> hierarchy, from /proc/self/mountinfo ("... - cgroup cgroup rw,cpu,cpuacct").
std::map<std::string, Hierarchy> find_hierarchies() {
    std::map<std::string, Hierarchy> out;
    std::istringstream in(read_file("/proc/self/mountinfo"));
    for (std::string line; std::getline(in, line);) {
        auto fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (dash == fields.end() || fields.size() < 5 || std::distance(dash, fields.end()) < 4) continue;
        if (*(dash + 1) != "cgroup") continue;
        for (const auto& opt : split(*(dash + 3), ','))
            out.try_emplace(std::string(opt), Hierarchy{fields[4], std::string(fields[3])});
    }
    return out;
}

// controller -> this process's cgroup path, from /proc/self/cgroup ("4:memory:/a/b").
std::map<std::string, std::string> own_paths() {
    std::map<std::string, std::string> out;
    std::istringstream in(read_file("/proc/self/cgroup"));
    for (std::string line; std::getline(in, line);) {
        auto first = line.find(':');
        auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        for (const auto& c : split(line.substr(first + 1, second - first - 1), ','))
            out[std::string(c)] = line.substr(second + 1);
    }
    return out;
}

// Hybrid hosts mount the unified hierarchy (no controllers) here: a BPF device program
// can be attached to a cgroup of it, and clone3 can start the child inside it for free.
constexpr const char* kUnifiedMount = "/sys/fs/cgroup/unified";

bool have_unified_mount() {
    struct statfs st {};
    return ::statfs(kUnifiedMount, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

// This process's cgroup on the unified hierarchy ("0::/a/b"); relative to the mount.
std::string own_unified_path() {
    std::istringstream in(read_file("/proc/self/cgroup"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("0::", 0) == 0) return line.substr(3);
    return "/";
}

class CgroupV1 final : public Cgroup {
public:
    CgroupV1(const std::string& name, const Limits& limits, bool device_filter, DeviceMechanism devices) {
        auto hierarchies = find_hierarchies();
        auto own = own_paths();
        auto settings = cgroup_settings(limits, CgroupVersion::v1);
        try {
            for (const char* controller : kControllers) {
                if (!needs(settings, controller)) continue;
                auto h = hierarchies.find(controller);
                if (h == hierarchies.end()) {
                    if (std::string(controller) == "cpuacct") continue;
                    throw Error(std::string("cgroup v1 controller ") + controller + " is not mounted");
                }
                std::string rel = own[controller];
                if (h->second.root != "/" && rel.rfind(h->second.root, 0) == 0) rel = rel.substr(h->second.root.size());
                fs::path dir = (h->second.mountpoint / fs::path(rel).relative_path() / "imgbuild" / name).lexically_normal();
                if (std::find(dirs_.begin(), dirs_.end(), dir) != dirs_.end()) {
                    by_controller_[controller] = dir;  // co-mounted (cpu,cpuacct)
                    continue;
                }
                make_dirs(dir.parent_path());
                if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("mkdir", dir.string());
                dirs_.push_back(dir);
                by_controller_[controller] = dir;
            }
            for (const auto& s : settings) write_setting(by_controller_.at(s.controller), s);
            if (device_filter) set_up_device_filter(name, hierarchies, own, devices);
        } catch (...) {
            remove_all();
            throw;
        }
    }
    ~CgroupV1() override { remove_all(); }

    int clone_into_fd() const override { return unified_fd_.get(); }

    std::vector<unique_fd> open_procs() const override {
        std::vector<unique_fd> fds;
        for (const auto& d : dirs_) fds.push_back(open_or_throw(d / "tasks", O_WRONLY));
        return fds;
    }

private:
    // The BPF program on the unified hierarchy when there is one (no migration cost: the
    // child is cloned into it); else the v1 devices controller (one more migration).
    void set_up_device_filter(const std::string& name, const std::map<std::string, Hierarchy>& hierarchies,
                              std::map<std::string, std::string>& own, DeviceMechanism devices) {
        if (devices == DeviceMechanism::automatic && have_unified_mount()) {
            try {
                fs::path dir = (fs::path(kUnifiedMount) / fs::path(own_unified_path()).relative_path() / "imgbuild" / name)
                                   .lexically_normal();
                make_dirs(dir.parent_path());
                if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("mkdir", dir.string());
                unified_dir_ = dir;
                unified_fd_ = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
                attach_device_filter(unified_fd_.get(), dir.string());
                return;
            } catch (const Error& e) {
                // A read-only or foreign unified mount: the devices controller does the same job.
                if (hierarchies.find("devices") == hierarchies.end()) throw;
                log::debug(std::string(e.what()) + "; using the v1 devices controller");
                unified_fd_.reset();
                if (!unified_dir_.empty()) remove_cgroup_dir(unified_dir_);
                unified_dir_.clear();
            }
        }
        auto h = hierarchies.find("devices");
        if (h == hierarchies.end()) {
            static bool warned = false;
            if (!std::exchange(warned, true))
                log::warn("no cgroup2 mount and no v1 devices controller: containers are not limited to the default "
                          "devices (only nodev mounts protect the host's devices)");
            return;
        }
        std::string rel = own["devices"];
        if (h->second.root != "/" && rel.rfind(h->second.root, 0) == 0) rel = rel.substr(h->second.root.size());
        fs::path dir = (h->second.mountpoint / fs::path(rel).relative_path() / "imgbuild" / name).lexically_normal();
        make_dirs(dir.parent_path());
        if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("mkdir", dir.string());
        dirs_.push_back(dir);
        write_setting(dir, {"devices", "devices.deny", "a"});
        for (const auto& rule : default_device_rules()) write_setting(dir, {"devices", "devices.allow", to_v1_line(rule)});
    }

    void remove_all() {
        unified_fd_.reset();
        if (!unified_dir_.empty()) remove_cgroup_dir(unified_dir_);
        unified_dir_.clear();
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) remove_cgroup_dir(*it);
        dirs_.clear();
    }
    std::vector<fs::path> dirs_;
    std::map<std::string, fs::path> by_controller_;
    fs::path unified_dir_;
    unique_fd unified_fd_;
};

}  // namespace

std::unique_ptr<Cgroup> create_v1(const std::string& name, const Limits& limits, bool device_filter,
                                  DeviceMechanism devices) {
    return std::make_unique<CgroupV1>(name, limits, device_filter, devices);
}

}  // namespace imgbuild::runtime::cgroup_detail
