// The device filter enforced by the kernel (root only): the BPF program and the v1 devices
// controller both let a process open the default nodes and nothing else.
#include "runtime/devices.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "runtime/cgroup.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace {

// In a child put into `cgroup` the way a container's first process is (cloned into its
// unified-hierarchy dir, then writing "0" into the v1 tasks files), try to open each node;
// returns the bit mask of the opens that succeeded.
int open_mask_in(const Cgroup& cgroup, const std::vector<const char*>& nodes) {
    std::vector<unique_fd> tasks = cgroup.open_procs();
    clone_args args{};
    args.exit_signal = SIGCHLD;
    if (cgroup.clone_into_fd() >= 0) {
        args.flags = CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup.clone_into_fd());
    }
    auto pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (const auto& fd : tasks)
            if (::write(fd.get(), "0", 1) != 1) _exit(255);
        int mask = 0;
        for (size_t i = 0; i < nodes.size(); ++i) {
            int fd = ::open(nodes[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) continue;
            mask |= 1 << i;
            ::close(fd);
        }
        _exit(mask);
    }
    int status = wait_for_child(pid, "device test child");
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

// A program named `name` that allows everything, attached to `cgroup_fd` (BPF_F_ALLOW_MULTI).
unique_fd attach_allow_all(int cgroup_fd, const char* name) {
    bpf_insn allow[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
    static char license[] = "GPL";
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(allow);
    load.insn_cnt = 2;
    load.license = reinterpret_cast<uint64_t>(license);
    std::strncpy(load.prog_name, name, sizeof load.prog_name - 1);
    long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    REQUIRE(fd >= 0);
    bpf_attr at{};
    at.target_fd = static_cast<uint32_t>(cgroup_fd);
    at.attach_bpf_fd = static_cast<uint32_t>(fd);
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    REQUIRE(::syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof at) == 0);
    return unique_fd(static_cast<int>(fd));
}

std::vector<std::string> names_on(int cgroup_fd) {
    std::vector<std::string> out;
    for (const auto& p : attached_device_programs(cgroup_fd, "test cgroup")) out.push_back(p.name);
    return out;
}

}  // namespace

ROOT_TEST_CASE("device filter: attached once to the containers' parent cgroup; another build's goes, others' stay") {
    std::string name = "imgbuild-devtest-" + random_hex(6);
    auto first = create_cgroup(name, Limits{}, true);
    if (first->clone_into_fd() < 0) {
        std::cerr << "skipped: device filter on the parent: no unified hierarchy here\n";
        return;
    }
    fs::path dir = fs::read_symlink("/proc/self/fd/" + std::to_string(first->clone_into_fd()));
    unique_fd parent = open_or_throw(dir.parent_path(), O_RDONLY | O_DIRECTORY);
    auto ours = names_on(parent.get());
    REQUIRE(ours.size() >= 1);
    CHECK(ours.back().rfind("ibdev_", 0) == 0);
    CHECK(ours.back().size() == 15);
    CHECK(names_on(first->clone_into_fd()).empty());  // nothing on the container's own cgroup
    const std::string mine = ours.back();

    unique_fd stale = attach_allow_all(parent.get(), "ibdev_000000000");  // another build's
    unique_fd foreign = attach_allow_all(parent.get(), "someone_else");
    auto second = create_cgroup(name + "-2", Limits{}, true);
    auto after = names_on(parent.get());
    CHECK(std::count(after.begin(), after.end(), mine) == static_cast<long>(std::count(ours.begin(), ours.end(), mine)));
    CHECK(std::count(after.begin(), after.end(), "ibdev_000000000") == 0);
    CHECK(std::count(after.begin(), after.end(), "someone_else") == 1);
    // Still enforced for both (the foreign allow-all program does not widen it: all must allow).
    const std::vector<const char*> nodes = {"/dev/null", "/dev/mem"};
    CHECK(open_mask_in(*first, nodes) == 1);
    CHECK(open_mask_in(*second, nodes) == 1);
    bpf_attr d{};
    d.target_fd = static_cast<uint32_t>(parent.get());
    d.attach_bpf_fd = static_cast<uint32_t>(foreign.get());
    d.attach_type = BPF_CGROUP_DEVICE;
    CHECK(::syscall(SYS_bpf, BPF_PROG_DETACH, &d, sizeof d) == 0);
}

ROOT_TEST_CASE("device filter: the kernel lets a cgroup open only the default nodes") {
    // /dev/null and /dev/zero allowed; /dev/mem and /dev/kmsg denied (1 | 2 of the mask).
    const std::vector<const char*> nodes = {"/dev/null", "/dev/zero", "/dev/mem", "/dev/kmsg"};
    std::string name = "imgbuild-devtest-" + random_hex(6);
    SUBCASE("the automatic mechanism (BPF program on the unified hierarchy, else v1)") {
        auto cg = create_cgroup(name, Limits{}, true);
        CHECK(open_mask_in(*cg, nodes) == 3);
    }
    SUBCASE("the v1 devices controller (pure v1 hosts)") {
        if (detect_cgroup_version() != CgroupVersion::v1 || ::access("/sys/fs/cgroup/devices", F_OK) != 0) {
            std::cerr << "skipped: device filter / the v1 devices controller: not a pure v1 host\n";
            return;
        }
        auto cg = cgroup_detail::create_v1(name, Limits{}, true, cgroup_detail::DeviceMechanism::v1_controller);
        std::vector<unique_fd> tasks = cg->open_procs();  // the devices hierarchy alone
        REQUIRE(tasks.size() == 1);
        fs::path dir = fs::read_symlink("/proc/self/fd/" + std::to_string(tasks[0].get())).parent_path();
        std::string list = read_file(dir / "devices.list");
        CHECK(list.find("c 1:3 rwm") != std::string::npos);
        CHECK(list.find("c 136:* rwm") != std::string::npos);
        CHECK(open_mask_in(*cg, nodes) == 3);
    }
}
