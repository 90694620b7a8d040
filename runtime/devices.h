#pragma once
// Which device nodes a container may open: Docker's default allow list (runc's
// AllowedDevices without tun): mknod of any node, read/write of null, zero, full, random,
// urandom, tty, console, ptmx and the pty slaves (c 136:*); everything else is denied at
// open(2), including nodes the container made itself (it keeps CAP_MKNOD, as in Docker)
// and nodes that came in an image layer.
//
// Enforced by the kernel in one of two ways (cgroup.h picks):
// - a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's cgroup on the
//   unified hierarchy (cgroup v2 hosts, and the controller-less /sys/fs/cgroup/unified of
//   hybrid hosts: BPF cgroup programs need no controller, and joining costs nothing with
//   clone3(CLONE_INTO_CGROUP));
// - the v1 devices controller ("a" denied, the list allowed) on pure v1 hosts.
// The program is attached once to the containers' parent cgroup ("imgbuild", where no
// process lives): with BPF_F_ALLOW_MULTI the kernel runs it for every cgroup below, so a
// container's start only checks that it is there (a load and verification cost ~0.25 ms
// per start). Where that fails, it is loaded once per process and attached to each cgroup.
#include <linux/bpf.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace imgbuild::runtime {

inline constexpr int64_t kAnyDeviceNumber = -1;

struct DeviceRule {
    char type;         // 'c', 'b', or 'a' (both; BPF only: v1 takes "a" as allow-all)
    int64_t major;     // kAnyDeviceNumber: any
    int64_t minor;
    const char* access;  // subset of "rwm"
};

// The allow list (data; unit-tested).
[[nodiscard]] const std::vector<DeviceRule>& default_device_rules();

// Whether the rules allow `access` ('r', 'w' or 'm', one or more) on the node (pure).
[[nodiscard]] bool device_allowed(const std::vector<DeviceRule>& rules, char type, unsigned major, unsigned minor,
                                  const std::string& access);

// "c 1:3 rwm", "a *:* m": lines for a v1 devices.allow file.
[[nodiscard]] std::string to_v1_line(const DeviceRule& rule);

// The eBPF program for BPF_PROG_TYPE_CGROUP_DEVICE: returns 1 (allow) when a rule matches.
[[nodiscard]] std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules);

// Attaches the default program (loaded on first use) to the cgroup2 directory fd
// (BPF_F_ALLOW_MULTI: programs of parent cgroups still run too). Throws SystemError.
void attach_device_filter(int cgroup_dir_fd, const std::string& cgroup_path);

// Makes sure the default program is attached to the parent cgroup2 directory fd, attaching it
// when it is not, and detaches what other imgbuild builds attached there (programs named
// "ibdev_..." but not this one's: other rules). Throws SystemError.
void attach_device_filter_below(int parent_dir_fd, const std::string& parent_path);

// What a container's cgroup gets (cgroup.h): the program on its parent (above), else on
// itself (attach_device_filter). Throws SystemError when neither can be done.
void filter_devices_of(int cgroup_dir_fd, const std::filesystem::path& cgroup_dir);

struct AttachedDeviceProgram {
    unique_fd fd;
    std::string name;  // the name it was loaded with (BPF_OBJ_NAME_LEN - 1 at most)
};
// The BPF_CGROUP_DEVICE programs attached to the cgroup itself (not its parents').
[[nodiscard]] std::vector<AttachedDeviceProgram> attached_device_programs(int cgroup_dir_fd,
                                                                          const std::string& cgroup_path);

}  // namespace imgbuild::runtime
