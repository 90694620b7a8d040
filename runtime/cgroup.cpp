#include "runtime/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

namespace imgbuild::runtime {

CgroupVersion detect_cgroup_version() {
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) != 0) throw_errno("statfs", "/sys/fs/cgroup");
    return st.f_type == CGROUP2_SUPER_MAGIC ? CgroupVersion::v2 : CgroupVersion::v1;
}

bool have_pids_controller(CgroupVersion version) {
    try {
        if (version == CgroupVersion::v2) {
            std::string offered = " " + read_file("/sys/fs/cgroup/cgroup.controllers") + " ";
            for (char& c : offered)
                if (c == '\n') c = ' ';
            return offered.find(" pids ") != std::string::npos;
        }
        // "#subsys_name hierarchy num_cgroups enabled": hierarchy 0 is v2 (or unmounted).
        std::istringstream in(read_file("/proc/cgroups"));
        std::string name;
        int hierarchy = 0;
        for (std::string line; std::getline(in, line);) {
            std::istringstream fields(line);
            if (fields >> name >> hierarchy && name == "pids") return hierarchy != 0;
        }
    } catch (const Error&) {
    }
    return false;
}

Limits effective_limits(const Limits& limits, bool rootless, CgroupVersion version) {
    Limits out = limits;
    if (!out.pids && !rootless && have_pids_controller(version)) out.pids = kDefaultPidsLimit;
    return out;
}

std::unique_ptr<Cgroup> create_container_cgroup(const ContainerSpec& spec) {
    const Limits limits = effective_limits(spec.limits, spec.rootless, detect_cgroup_version());
    const std::string name = spec.cgroup_name.empty() ? "imgbuild-" + random_hex(8) : spec.cgroup_name;
    return spec.rootless ? create_rootless_cgroup(name, limits) : create_cgroup(name, limits, true);
}

std::vector<CgroupSetting> cgroup_settings(const Limits& limits, CgroupVersion version) {
    std::vector<CgroupSetting> out;
    const bool v2 = version == CgroupVersion::v2;
    if (limits.cpu_quota_us || limits.cpu_period_us) {
        uint64_t period = limits.cpu_period_us.value_or(100000);
        std::string quota = limits.cpu_quota_us ? std::to_string(*limits.cpu_quota_us) : (v2 ? "max" : "-1");
        if (v2) {
            out.push_back({"cpu", "cpu.max", quota + " " + std::to_string(period)});
        } else {
            out.push_back({"cpu", "cpu.cfs_period_us", std::to_string(period)});
            out.push_back({"cpu", "cpu.cfs_quota_us", quota});
        }
    }
    if (limits.memory_bytes) {
        std::string bytes = std::to_string(*limits.memory_bytes);
        if (v2) {
            out.push_back({"memory", "memory.max", bytes});
            out.push_back({"memory", "memory.swap.max", "0", true});
        } else {
            out.push_back({"memory", "memory.limit_in_bytes", bytes});
            out.push_back({"memory", "memory.memsw.limit_in_bytes", bytes, true});
        }
    }
    // Unlimited needs no v1 cgroup at all (and so no migration); v2 says "max".
    if (limits.pids && (v2 || *limits.pids > 0))
        out.push_back({"pids", "pids.max", *limits.pids <= 0 ? "max" : std::to_string(*limits.pids)});
    return out;
}

std::unique_ptr<Cgroup> create_cgroup(const std::string& name, const Limits& limits, bool device_filter) {
    cgroup_detail::check_name(name);
    return detect_cgroup_version() == CgroupVersion::v2 ? cgroup_detail::create_v2(name, limits, device_filter)
                                                        : cgroup_detail::create_v1(name, limits, device_filter);
}

namespace cgroup_detail {

void check_name(const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        throw Error("invalid cgroup name \"" + name + "\"");
}

void write_setting(const fs::path& dir, const CgroupSetting& s) {
    fs::path file = dir / s.file;
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (s.optional && errno == ENOENT) return;
        throw_errno("open", file.string());
    }
    unique_fd guard(fd);
    if (::write(fd, s.value.data(), s.value.size()) < 0) throw_errno("write " + s.value + " to", file.string());
}

}  // namespace cgroup_detail
}  // namespace imgbuild::runtime
