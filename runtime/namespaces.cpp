#include "runtime/namespaces.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::runtime {

const std::vector<NamespaceInfo>& namespace_table() {
    static const std::vector<NamespaceInfo> table = {
        {"mnt", CLONE_NEWNS},  {"uts", CLONE_NEWUTS},  {"ipc", CLONE_NEWIPC},       {"user", CLONE_NEWUSER},
        {"pid", CLONE_NEWPID}, {"net", CLONE_NEWNET},  {"cgroup", CLONE_NEWCGROUP},
    };
    return table;
}

bool joins_kept_network(const ContainerSpec& spec, unsigned long flags) {
    return spec.join_netns_fd >= 0 && spec.network != NetworkMode::host && !(flags & CLONE_NEWUSER);
}

unsigned long clone_namespace_flags(const ContainerSpec& spec) {
    unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec.rootless && !spec.uid_map.empty()) flags |= CLONE_NEWUSER;
    if (spec.network != NetworkMode::host && !joins_kept_network(spec, flags)) flags |= CLONE_NEWNET;
    return flags;
}

std::string describe_namespaces(unsigned long flags) {
    std::string out;
    for (const auto& ns : namespace_table()) {
        if (!(flags & ns.flag)) continue;
        if (!out.empty()) out += ",";
        out += ns.name;
    }
    return out;
}

namespace {

std::string map_text(const std::vector<IdMap>& maps, uint32_t fallback_host_id) {
    std::string text;
    if (maps.empty()) return "0 " + std::to_string(fallback_host_id) + " 1\n";
    for (const auto& m : maps)
        text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.count) + "\n";
    return text;
}

void write_proc_file(pid_t pid, const char* name, const std::string& text) {
    fs::path path = fs::path("/proc") / std::to_string(pid) / name;
    auto fd = open_or_throw(path, O_WRONLY);
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw_errno("write \"" + text.substr(0, text.find('\n')) + "\" to", path.string());
}

}  // namespace

void write_id_maps(pid_t pid, const ContainerSpec& spec) {
    write_proc_file(pid, "uid_map", map_text(spec.uid_map, ::getuid()));
    // An unprivileged writer may only map its own gid, and only with setgroups denied.
    if (::geteuid() != 0) write_proc_file(pid, "setgroups", "deny");
    write_proc_file(pid, "gid_map", map_text(spec.gid_map, ::getgid()));
}

void bring_up_loopback() {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("socket", "AF_INET (to bring up lo)");
    unique_fd sock(fd);
    ifreq req{};
    std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) throw_errno("ioctl(SIOCGIFFLAGS)", "lo");
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0) throw_errno("ioctl(SIOCSIFFLAGS)", "lo");
}

}  // namespace imgbuild::runtime
