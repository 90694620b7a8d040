// cgroup v2 (unified hierarchy): <mount>/imgbuild/<name>. The parent sits at the top of
// the hierarchy, not under our own cgroup: v2 forbids enabling controllers for children
// of a cgroup that holds processes ("no internal processes"), and we are in ours.
#include <fcntl.h>
#include <sys/stat.h>


#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/cgroup.h"
#include "runtime/devices.h"

namespace imgbuild::runtime::cgroup_detail {
namespace {

constexpr const char* kMount = "/sys/fs/cgroup";
constexpr const char* kWantedControllers[] = {"cpu", "memory", "pids"};

// Enables the controllers we use (those the parent offers) for the children of `dir`.
void enable_controllers(const fs::path& dir) {
    std::string offered = " " + read_file(dir / "cgroup.controllers");
    for (char& c : offered)
        if (c == '\n') c = ' ';
    offered += " ";
    std::string enabled = read_file(dir / "cgroup.subtree_control");
    for (const char* c : kWantedControllers) {
        if (offered.find(std::string(" ") + c + " ") == std::string::npos) continue;
        if ((" " + enabled + " ").find(std::string(" ") + c) != std::string::npos) continue;
        CgroupSetting s{"", "cgroup.subtree_control", std::string("+") + c};
        try {
            write_setting(dir, s);
        } catch (const Error& e) {
            log::warn(e.what());
        }
    }
}

class CgroupV2 final : public Cgroup {
public:
    CgroupV2(const fs::path& top, const std::string& name, const Limits& limits, bool device_filter) {
        fs::path parent = top / "imgbuild";
        enable_controllers(top);
        if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir", parent.string());
        enable_controllers(parent);
        dir_ = parent / name;
        if (::mkdir(dir_.c_str(), 0755) != 0) throw_errno("mkdir", dir_.string());
        try {
            for (const auto& s : cgroup_settings(limits, CgroupVersion::v2)) write_setting(dir_, s);
            dir_fd_ = open_or_throw(dir_, O_RDONLY | O_DIRECTORY);
            if (device_filter) filter_devices_of(dir_fd_.get(), dir_);
        } catch (...) {
            remove_cgroup_dir(dir_);
            throw;
        }
    }
    ~CgroupV2() override { remove_cgroup_dir(dir_); }

    int clone_into_fd() const override { return dir_fd_.get(); }
    std::vector<unique_fd> open_procs() const override { return {}; }

private:
    fs::path dir_;
    unique_fd dir_fd_;
};

}  // namespace

std::unique_ptr<Cgroup> create_v2(const std::string& name, const Limits& limits, bool device_filter) {
    return std::make_unique<CgroupV2>(kMount, name, limits, device_filter);
}

std::unique_ptr<Cgroup> create_v2_in(const fs::path& top, const std::string& name, const Limits& limits,
                                     bool device_filter) {
    return std::make_unique<CgroupV2>(top, name, limits, device_filter);
}

}  // namespace imgbuild::runtime::cgroup_detail
