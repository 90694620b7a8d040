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

}  // namespace

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
