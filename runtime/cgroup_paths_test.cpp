#include <doctest/doctest.h>

#include <algorithm>

#include "runtime/cgroup_paths.h"
#include "runtime/container_procs.h"

using namespace imgbuild::runtime;
using Dirs = std::vector<std::string>;

namespace {

// A hybrid host: v1 controllers (cpu and cpuacct co-mounted), systemd's named hierarchy and
// the unified one, every mount showing the hierarchy's root.
const char* kHostMountinfo =
    "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
    "31 25 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
const char* kHostCgroup = "9:name=systemd:/user.slice\n8:pids:/user.slice\n4:memory:/job/7\n"
                          "1:cpu,cpuacct:/\n0::/user.slice\n";

// Inside a container whose /sys/fs/cgroup mounts show its own cgroups (/docker/abc) as
// their roots, while /proc/self/cgroup (no cgroup namespace) gives the full paths.
const char* kNestedMountinfo =
    "600 590 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "601 590 0:32 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "602 590 0:36 /docker/abc /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n"
    "603 590 0:38 /docker/abc /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n";
const char* kNestedCgroup = "8:pids:/docker/abc\n4:memory:/docker/abc/inner\n1:cpu,cpuacct:/docker/abc\n"
                            "0::/docker/abc\n";

}  // namespace

TEST_CASE("cgroup hierarchies: each /proc/self/cgroup line with its mount and the mount's root") {
    auto hs = cgroup_hierarchies_from(kHostCgroup, kHostMountinfo);
    REQUIRE(hs.size() == 5);
    CHECK(hs[0].controllers == "name=systemd");
    CHECK(hs[0].mountpoint == "/sys/fs/cgroup/systemd");
    CHECK(hs[2].path == "/job/7");
    CHECK(hs[2].mountpoint == "/sys/fs/cgroup/memory");
    CHECK(hs[2].root == "/");
    CHECK(hs[4].mountpoint == "/sys/fs/cgroup/unified");
    REQUIRE(find_hierarchy(hs, "cpuacct"));
    CHECK(find_hierarchy(hs, "cpuacct")->mountpoint == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(find_hierarchy(hs, "cpu") == find_hierarchy(hs, "cpuacct"));
    CHECK(find_hierarchy(hs, "")->controllers.empty());
    CHECK(find_hierarchy(hs, "devices") == nullptr);

    auto nested = cgroup_hierarchies_from(kNestedCgroup, kNestedMountinfo);
    REQUIRE(nested.size() == 4);
    CHECK(nested[1].root == "/docker/abc");
    // A controller without a mount here: known, but no directory.
    auto unmounted = cgroup_hierarchies_from("5:devices:/\n", kNestedMountinfo);
    REQUIRE(unmounted.size() == 1);
    CHECK(unmounted[0].mountpoint.empty());
    CHECK(!cgroup_dir(unmounted[0], "/"));
    // Escaped paths in mountinfo (\040 is a space).
    auto escaped = cgroup_hierarchies_from("4:memory:/a b/c\n", "1 2 0:3 /a\\040b /mnt/mem\\040cg rw - cgroup cgroup rw,memory\n");
    REQUIRE(escaped.size() == 1);
    CHECK(escaped[0].root == "/a b");
    CHECK(cgroup_dir(escaped[0], "/a b/c") == std::filesystem::path("/mnt/mem cg/c"));
}

TEST_CASE("cgroup dir: the mount's root is stripped from the path, component-wise") {
    auto nested = cgroup_hierarchies_from(kNestedCgroup, kNestedMountinfo);
    const CgroupHierarchy& memory = nested[1];
    CHECK(cgroup_dir(memory, "/docker/abc/inner") == std::filesystem::path("/sys/fs/cgroup/memory/inner"));
    CHECK(cgroup_dir(memory, "/docker/abc") == std::filesystem::path("/sys/fs/cgroup/memory"));
    CHECK(!cgroup_dir(memory, "/docker/abcd/x"));  // a sibling, not below the root
    CHECK(!cgroup_dir(memory, "/other"));
    CHECK(!cgroup_dir(memory, "/docker/abc/../x"));
}

TEST_CASE("the dirs a container gets: planned (recorded before start) == read back from its process") {
    SUBCASE("hybrid host, mount roots /") {
        auto own = cgroup_hierarchies_from(kHostCgroup, kHostMountinfo);
        auto planned = planned_cgroup_dirs_from(own, "imgbuild-x", false);
        CHECK(planned == Dirs{"/sys/fs/cgroup/systemd/user.slice/imgbuild/imgbuild-x",
                              "/sys/fs/cgroup/pids/user.slice/imgbuild/imgbuild-x",
                              "/sys/fs/cgroup/memory/job/7/imgbuild/imgbuild-x",
                              "/sys/fs/cgroup/cpu,cpuacct/imgbuild/imgbuild-x",
                              "/sys/fs/cgroup/unified/user.slice/imgbuild/imgbuild-x"});
        // The container's process, in the cgroups made for it (and in its parent's elsewhere).
        auto container = cgroup_hierarchies_from(
            "9:name=systemd:/user.slice\n8:pids:/user.slice/imgbuild/imgbuild-x\n4:memory:/job/7/imgbuild/imgbuild-x\n"
            "1:cpu,cpuacct:/\n0::/user.slice/imgbuild/imgbuild-x\n",
            kHostMountinfo);
        auto made = cgroup_dirs_from(container, "imgbuild-x");
        CHECK(made == Dirs{"/sys/fs/cgroup/pids/user.slice/imgbuild/imgbuild-x",
                           "/sys/fs/cgroup/memory/job/7/imgbuild/imgbuild-x",
                           "/sys/fs/cgroup/unified/user.slice/imgbuild/imgbuild-x"});
        for (const auto& d : made) CHECK_MESSAGE(std::find(planned.begin(), planned.end(), d) != planned.end(), d);
    }
    SUBCASE("inside a container: mount roots /docker/abc") {
        auto own = cgroup_hierarchies_from(kNestedCgroup, kNestedMountinfo);
        auto planned = planned_cgroup_dirs_from(own, "imgbuild-x", false);
        CHECK(planned == Dirs{"/sys/fs/cgroup/pids/imgbuild/imgbuild-x", "/sys/fs/cgroup/memory/inner/imgbuild/imgbuild-x",
                              "/sys/fs/cgroup/cpu,cpuacct/imgbuild/imgbuild-x", "/sys/fs/cgroup/unified/imgbuild/imgbuild-x"});
        auto container = cgroup_hierarchies_from(
            "8:pids:/docker/abc/imgbuild/imgbuild-x\n4:memory:/docker/abc/inner/imgbuild/imgbuild-x\n"
            "1:cpu,cpuacct:/docker/abc\n0::/docker/abc/imgbuild/imgbuild-x\n",
            kNestedMountinfo);
        auto made = cgroup_dirs_from(container, "imgbuild-x");
        CHECK(made == Dirs{"/sys/fs/cgroup/pids/imgbuild/imgbuild-x", "/sys/fs/cgroup/memory/inner/imgbuild/imgbuild-x",
                           "/sys/fs/cgroup/unified/imgbuild/imgbuild-x"});
    }
    SUBCASE("cgroup v2 host: the container sits at the top of the mount, not under our cgroup") {
        auto own = cgroup_hierarchies_from("0::/user.slice/session-1.scope\n",
                                           "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        CHECK(planned_cgroup_dirs_from(own, "imgbuild-x", true) == Dirs{"/sys/fs/cgroup/imgbuild/imgbuild-x"});
        auto container = cgroup_hierarchies_from("0::/imgbuild/imgbuild-x\n",
                                                 "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        CHECK(cgroup_dirs_from(container, "imgbuild-x") == Dirs{"/sys/fs/cgroup/imgbuild/imgbuild-x"});
    }
}
