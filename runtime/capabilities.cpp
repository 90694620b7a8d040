#include "runtime/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::runtime {
namespace {

constexpr std::pair<int, const char*> kDefaultCaps[] = {
    {CAP_CHOWN, "CAP_CHOWN"},
    {CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"},
    {CAP_FSETID, "CAP_FSETID"},
    {CAP_FOWNER, "CAP_FOWNER"},
    {CAP_MKNOD, "CAP_MKNOD"},
    {CAP_NET_RAW, "CAP_NET_RAW"},
    {CAP_SETGID, "CAP_SETGID"},
    {CAP_SETUID, "CAP_SETUID"},
    {CAP_SETFCAP, "CAP_SETFCAP"},
    {CAP_SETPCAP, "CAP_SETPCAP"},
    {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
    {CAP_SYS_CHROOT, "CAP_SYS_CHROOT"},
    {CAP_KILL, "CAP_KILL"},
    {CAP_AUDIT_WRITE, "CAP_AUDIT_WRITE"},
};

}  // namespace

const std::vector<int>& default_capabilities() {
    static const std::vector<int> caps = [] {
        std::vector<int> v;
        for (const auto& [cap, name] : kDefaultCaps) v.push_back(cap);
        return v;
    }();
    return caps;
}

uint64_t default_capability_mask() {
    uint64_t mask = 0;
    for (int cap : default_capabilities()) mask |= uint64_t{1} << cap;
    return mask;
}

std::string capability_name(int cap) {
    for (const auto& [c, name] : kDefaultCaps)
        if (c == cap) return name;
    return "capability " + std::to_string(cap);
}

int last_capability() {
    static const int last = [] {
        try {
            return std::atoi(read_file("/proc/sys/kernel/cap_last_cap").c_str());
        } catch (const Error&) {
            return CAP_LAST_CAP;
        }
    }();
    return last;
}

void drop_bounding_set(uint64_t keep, int last_cap) {
    for (int cap = 0; cap <= last_cap; ++cap) {
        if (keep & (uint64_t{1} << cap)) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            throw_errno("prctl(PR_CAPBSET_DROP)", capability_name(cap));
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        throw_errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", "");
}

void set_capabilities(uint64_t keep) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
        auto word = static_cast<uint32_t>(keep >> (32 * i));
        data[i].effective = word;
        data[i].permitted = word;
        data[i].inheritable = 0;
    }
    if (::syscall(SYS_capset, &header, data) != 0) throw_errno("capset", "");
}

}  // namespace imgbuild::runtime
