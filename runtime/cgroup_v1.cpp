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
#include "runtime/cgroup_paths.h"
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

// The directory of the container's cgroup on the hierarchy of `controller` (cgroup_paths.h).
fs::path dir_on(const CgroupHierarchy& h, const std::string& name) {
    auto dir = container_cgroup_dir(h, name, false);
    if (!dir)
        throw Error("cgroup v1 hierarchy " + h.controllers + ": our cgroup " + h.path + " is outside its mount " +
                    h.mountpoint.string() + " (root " + h.root + ")");
    return *dir;
}

class CgroupV1 final : public Cgroup {
public:
    CgroupV1(const std::string& name, const Limits& limits, bool device_filter, DeviceMechanism devices) {
        auto hierarchies = cgroup_hierarchies_of(0);
        auto settings = cgroup_settings(limits, CgroupVersion::v1);
        try {
            for (const char* controller : kControllers) {
                if (!needs(settings, controller)) continue;
                const CgroupHierarchy* h = find_hierarchy(hierarchies, controller);
                if (!h || h->mountpoint.empty()) {
                    if (std::string(controller) == "cpuacct") continue;
                    throw Error(std::string("cgroup v1 controller ") + controller + " is not mounted");
                }
                fs::path dir = dir_on(*h, name);
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
            if (device_filter) set_up_device_filter(name, hierarchies, devices);
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
    void set_up_device_filter(const std::string& name, const std::vector<CgroupHierarchy>& hierarchies,
                              DeviceMechanism devices) {
        const CgroupHierarchy* unified = find_hierarchy(hierarchies, "");
        const CgroupHierarchy* v1_devices = find_hierarchy(hierarchies, "devices");
        if (v1_devices && v1_devices->mountpoint.empty()) v1_devices = nullptr;
        if (devices == DeviceMechanism::automatic && unified && !unified->mountpoint.empty()) {
            try {
                fs::path dir = dir_on(*unified, name);
                make_dirs(dir.parent_path());
                if (::mkdir(dir.c_str(), 0755) != 0) throw_errno("mkdir", dir.string());
                unified_dir_ = dir;
                unified_fd_ = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
                filter_devices_of(unified_fd_.get(), dir);
                return;
            } catch (const Error& e) {
                // A read-only or foreign unified mount: the devices controller does the same job.
                if (!v1_devices) throw;
                log::debug(std::string(e.what()) + "; using the v1 devices controller");
                unified_fd_.reset();
                if (!unified_dir_.empty()) remove_cgroup_dir(unified_dir_);
                unified_dir_.clear();
            }
        }
        if (!v1_devices) {
            static bool warned = false;
            if (!std::exchange(warned, true))
                log::warn("no cgroup2 mount and no v1 devices controller: containers are not limited to the default "
                          "devices (only nodev mounts protect the host's devices)");
            return;
        }
        fs::path dir = dir_on(*v1_devices, name);
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
