// Detection of a delegated cgroup v2 subtree (and the refusal of limits without one), on fake
// /sys/fs/cgroup trees in a temp dir: this host is hybrid, so the delegated case cannot be run
// for real here (tests/integration/rootless_runtime.sh checks the real refusal).
#include "runtime/cgroup_delegation.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace {

constexpr uid_t kUser = 4242;  // the delegatee of the fake trees

void put(const fs::path& file, const std::string& text, uid_t owner = 0) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    if (::lchown(file.c_str(), owner, owner) != 0) throw_errno("lchown", file.string());
}

// A cgroup dir with the files delegation is about, owned by `owner`.
void cgroup_dir(const fs::path& dir, uid_t owner, const std::string& controllers, const std::string& subtree) {
    fs::create_directories(dir);
    if (::lchown(dir.c_str(), owner, owner) != 0) throw_errno("lchown", dir.string());
    put(dir / "cgroup.controllers", controllers + "\n");
    put(dir / "cgroup.subtree_control", subtree.empty() ? "" : subtree + "\n", owner);
    put(dir / "cgroup.procs", "", owner);
}

const std::string kSelf = "0::/user.slice/user-4242.slice/user@4242.service/app.slice/imgbuild.scope\n";

// A systemd v2 host: user@4242.service and below belong to the user.
void v2_tree(const fs::path& root, const std::string& delegated_subtree) {
    cgroup_dir(root, 0, "cpuset cpu io memory hugetlb pids rdma misc", "cpuset cpu io memory pids");
    cgroup_dir(root / "user.slice", 0, "cpu memory pids", "cpu memory pids");
    cgroup_dir(root / "user.slice/user-4242.slice", 0, "cpu memory pids", "cpu memory pids");
    fs::path service = root / "user.slice/user-4242.slice/user@4242.service";
    cgroup_dir(service, kUser, "cpu memory pids", delegated_subtree);
    cgroup_dir(service / "app.slice", kUser, delegated_subtree, "");
    cgroup_dir(service / "app.slice/imgbuild.scope", kUser, "", "");
}

}  // namespace

TEST_CASE("find_cgroup_delegation on fake cgroup trees") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: the fake trees need files owned by another uid (root)");
        return;
    }
    TempDir tmp(fs::temp_directory_path(), "cgroup-delegation-test");
    const fs::path root = tmp.path();

    SUBCASE("v2 with cpu, memory and pids delegated: the user's service dir, all three") {
        v2_tree(root, "cpu memory pids");
        auto d = find_cgroup_delegation(root, kSelf, kUser);
        CHECK(d.dir == root / "user.slice/user-4242.slice/user@4242.service");
        CHECK(d.has("cpu"));
        CHECK(d.has("memory"));
        CHECK(d.has("pids"));
        CHECK(d.problem.empty());
        Limits l;
        l.memory_bytes = 64 << 20;
        l.cpu_quota_us = 50000;
        l.pids = 10;
        CHECK_NOTHROW(refuse_rootless_limits(l, d));
    }
    SUBCASE("v2 delegated without memory (systemd's older default, pids only): --memory refused, naming it") {
        v2_tree(root, "pids");
        auto d = find_cgroup_delegation(root, kSelf, kUser);
        CHECK(d.dir == root / "user.slice/user-4242.slice/user@4242.service");
        CHECK(d.has("pids"));
        CHECK_FALSE(d.has("memory"));
        Limits pids;
        pids.pids = 10;
        CHECK_NOTHROW(refuse_rootless_limits(pids, d));
        Limits mem;
        mem.memory_bytes = 1 << 20;
        CHECK_THROWS_WITH_AS(refuse_rootless_limits(mem, d),
                             doctest::Contains("--memory needs cgroup v2 delegation of the memory controller"),
                             UsageError);
        CHECK_THROWS_WITH_AS(refuse_rootless_limits(mem, d), doctest::Contains("hands its children only \"pids\""),
                             UsageError);
    }
    SUBCASE("v2 without delegation (nothing belongs to the user): every limit refused, none asked is fine") {
        cgroup_dir(root, 0, "cpu memory pids", "cpu memory pids");
        cgroup_dir(root / "user.slice/user-4242.slice/session-3.scope", 0, "", "");
        auto d = find_cgroup_delegation(root, "0::/user.slice/user-4242.slice/session-3.scope\n", kUser);
        CHECK(d.dir.empty());
        CHECK(d.problem.find("no delegated cgroup v2 subtree") != std::string::npos);
        Limits cpu;
        cpu.cpu_quota_us = 1000;
        CHECK_THROWS_WITH_AS(refuse_rootless_limits(cpu, d), doctest::Contains("--cpus/--cpu-quota needs cgroup v2"),
                             UsageError);
        Limits unlimited;
        unlimited.pids = -1;
        CHECK_NOTHROW(refuse_rootless_limits(unlimited, d));
        CHECK_FALSE(asks_for_limits(unlimited));
    }
    SUBCASE("v1 only: no unified hierarchy") {
        cgroup_dir(root / "memory", 0, "", "");  // v1 hierarchies have no cgroup.controllers at their top
        fs::remove(root / "memory/cgroup.controllers");
        put(root / "pids/tasks", "");
        auto d = find_cgroup_delegation(root, "4:memory:/\n1:pids:/\n", kUser);
        CHECK(d.dir.empty());
        CHECK(d.problem.find("only cgroup v1") != std::string::npos);
        Limits mem;
        mem.memory_bytes = 1 << 20;
        CHECK_THROWS_WITH_AS(refuse_rootless_limits(mem, d), doctest::Contains("only cgroup v1"), UsageError);
    }
    SUBCASE("hybrid (this machine's shape): unified/ has no controllers and nothing of the user's") {
        put(root / "memory/tasks", "");
        cgroup_dir(root / "unified", 0, "", "");
        auto d = find_cgroup_delegation(root, "4:memory:/\n0::/\n", kUser);
        CHECK(d.dir.empty());
        CHECK(d.problem.find("hybrid") != std::string::npos);
    }
    SUBCASE("hybrid with a user-owned unified subtree but no controllers in it: found, offers nothing") {
        cgroup_dir(root / "unified", 0, "", "");
        cgroup_dir(root / "unified/user.slice/user-4242.slice/user@4242.service", kUser, "", "");
        auto d = find_cgroup_delegation(root, "0::/user.slice/user-4242.slice/user@4242.service\n", kUser);
        CHECK(d.dir == root / "unified/user.slice/user-4242.slice/user@4242.service");
        CHECK(d.controllers.empty());
        Limits pids;
        pids.pids = 5;
        CHECK_THROWS_WITH_AS(refuse_rootless_limits(pids, d), doctest::Contains("--pids-limit needs cgroup v2 delegation"),
                             UsageError);
    }
    SUBCASE("inside a container whose /sys/fs/cgroup shows only the user's service (mount root not /)") {
        // /proc/self/cgroup still names the full path; the mount's top is the delegated dir.
        const std::string service = "/user.slice/user-4242.slice/user@4242.service";
        cgroup_dir(root, kUser, "cpu memory pids", "cpu memory pids");
        cgroup_dir(root / "app.slice", kUser, "cpu memory pids", "");
        auto d = find_cgroup_delegation(root, "0::" + service + "/app.slice\n", kUser, service);
        CHECK(d.dir == root);
        CHECK(d.has("memory"));
        CHECK(d.problem.empty());
        // Not found through the full path joined to the mount (the old mistake): root/user.slice/...
        auto outside = find_cgroup_delegation(root, "0::/system.slice/other.service\n", kUser, service);
        CHECK(outside.dir.empty());
        CHECK(outside.problem.find("outside what") != std::string::npos);
    }
    SUBCASE("a dir owned by the user whose cgroup.subtree_control is root's is not delegated") {
        v2_tree(root, "cpu memory pids");
        fs::path service = root / "user.slice/user-4242.slice/user@4242.service";
        REQUIRE(::lchown((service / "cgroup.subtree_control").c_str(), 0, 0) == 0);
        auto d = find_cgroup_delegation(root, kSelf, kUser);
        CHECK(d.dir == service / "app.slice");  // the top that is fully ours
        CHECK(d.controllers.empty());
    }
}
