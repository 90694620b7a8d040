#include <doctest/doctest.h>

#include "common/error.h"
#include "runtime/capabilities.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/exec.h"
#include "runtime/namespaces.h"
#include "runtime/seccomp.h"
#include "runtime/user_lookup.h"

#include <linux/capability.h>
#include <sched.h>

#include <algorithm>

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace {
constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "broken line\n";
constexpr const char* kGroup =
    "root:x:0:\n"
    "wheel:x:10:app,other\n"
    "app:x:1000:\n"
    "audio:x:29:app\n";
}  // namespace

TEST_CASE("user lookup: names and ids from the image's passwd and group") {
    auto root = resolve_user("", kPasswd, kGroup);
    CHECK(root.uid == 0);
    CHECK(root.gid == 0);
    CHECK(root.home == "/root");

    auto app = resolve_user("app", kPasswd, kGroup);
    CHECK(app.uid == 1000);
    CHECK(app.gid == 1000);
    CHECK(app.home == "/home/app");
    CHECK(app.groups == std::vector<gid_t>{1000, 10, 29});

    auto by_id = resolve_user("1000", kPasswd, kGroup);
    CHECK(by_id.gid == 1000);
    CHECK(by_id.home == "/home/app");

    auto explicit_group = resolve_user("app:wheel", kPasswd, kGroup);
    CHECK(explicit_group.gid == 10);
    CHECK(explicit_group.groups == std::vector<gid_t>{10});

    auto unknown_id = resolve_user("4242:4343", kPasswd, kGroup);
    CHECK(unknown_id.uid == 4242);
    CHECK(unknown_id.gid == 4343);
    CHECK(unknown_id.home == "/");

    CHECK_THROWS_AS((void)resolve_user("nobody-here", kPasswd, kGroup), Error);
    CHECK_THROWS_AS((void)resolve_user("app:nogroup", kPasswd, kGroup), Error);
    CHECK(resolve_user("5", "", "").uid == 5);
}

TEST_CASE("cgroup settings for v1 and v2") {
    Limits l;
    l.cpu_quota_us = 20000;
    l.memory_bytes = 64 << 20;
    l.pids = 10;
    auto v2 = cgroup_settings(l, CgroupVersion::v2);
    REQUIRE(v2.size() == 4);
    CHECK(v2[0].file == "cpu.max");
    CHECK(v2[0].value == "20000 100000");
    CHECK(v2[1].file == "memory.max");
    CHECK(v2[1].value == std::to_string(64 << 20));
    CHECK(v2[2].file == "memory.swap.max");
    CHECK(v2[2].optional);
    CHECK(v2[3].file == "pids.max");
    CHECK(v2[3].value == "10");

    auto v1 = cgroup_settings(l, CgroupVersion::v1);
    REQUIRE(v1.size() == 5);
    CHECK(v1[0].file == "cpu.cfs_period_us");  // the period must be set before the quota
    CHECK(v1[1].file == "cpu.cfs_quota_us");
    CHECK(v1[1].value == "20000");
    CHECK(v1[2].file == "memory.limit_in_bytes");
    CHECK(v1[3].file == "memory.memsw.limit_in_bytes");
    CHECK(v1[4].controller == "pids");

    CHECK(cgroup_settings(Limits{}, CgroupVersion::v2).empty());
}

TEST_CASE("capabilities: Docker's default set") {
    auto mask = default_capability_mask();
    CHECK(mask == 0xa80425fbULL);  // what `docker run busybox grep CapEff /proc/self/status` shows
    CHECK((mask & (1ULL << CAP_SYS_ADMIN)) == 0);
    CHECK((mask & (1ULL << CAP_SYS_PTRACE)) == 0);
    CHECK(default_capabilities().size() == 14);
}

TEST_CASE("seccomp: the filter compiles and denies what Docker denies") {
    const auto& denied = denied_syscalls();
    for (const char* name : {"mount", "umount2", "pivot_root", "unshare", "setns", "kexec_load", "init_module",
                             "finit_module", "bpf", "keyctl", "open_by_handle_at"})
        CHECK_MESSAGE(std::find(denied.begin(), denied.end(), name) != denied.end(), name);
    CHECK(default_seccomp_program().size() > denied.size());
}

TEST_CASE("seccomp: AF_VSOCK and AF_ALG sockets are denied, on socket() and on i386 socketcall") {
    std::string pfc = describe_seccomp_filter();
    // "if ($a0.lo32 == 40)" (x86_64) / "if ($a0 == 40)" (x86): vsock is 40, alg 38; EAFNOSUPPORT is 97.
    auto count = [&](const std::string& what) {
        size_t n = 0;
        for (size_t pos = pfc.find(what); pos != std::string::npos; pos = pfc.find(what, pos + 1)) ++n;
        return n;
    };
    CHECK(count("== 40)") >= 2);
    CHECK(count("== 38)") >= 2);
    CHECK(count("ERRNO(97)") >= 4);
    if (pfc.find("filter for arch x86 ") != std::string::npos) {
        // socketcall(SYS_SOCKET=1, args*): BPF cannot read the family, so the call is denied.
        auto sc = pfc.find("\"socketcall\"");
        REQUIRE(sc != std::string::npos);
        CHECK(pfc.find("if ($a0 == 1)", sc) != std::string::npos);
    }
}

TEST_CASE("exec: statuses and environment") {
    CHECK(exec_failure_status(ENOENT) == 127);
    CHECK(exec_failure_status(EACCES) == 126);
    CHECK(exec_failure_status(ENOEXEC) == 126);
    auto env = container_environment({"A=1"}, "/root");
    CHECK(env == std::vector<std::string>{"A=1", std::string("PATH=") + kDefaultPath, "HOME=/root"});
    CHECK(container_environment({"PATH=/x", "HOME=/h"}, "/root") == std::vector<std::string>{"PATH=/x", "HOME=/h"});
}

TEST_CASE("namespaces and network modes") {
    ContainerSpec spec;
    spec.network = NetworkMode::host;
    CHECK((clone_namespace_flags(spec) & CLONE_NEWNET) == 0);
    spec.network = NetworkMode::none;
    CHECK(describe_namespaces(clone_namespace_flags(spec)) == "mnt,uts,ipc,pid,net");
    spec.rootless = true;  // in the shared rootless namespace: no nested one
    CHECK((clone_namespace_flags(spec) & CLONE_NEWUSER) == 0);
    spec.uid_map = {{0, 1000, 1}};  // a nested one when maps are given
    CHECK((clone_namespace_flags(spec) & CLONE_NEWUSER) != 0);
    CHECK(parse_network_mode("private") == NetworkMode::private_);
    CHECK(to_string(NetworkMode::none) == "none");
    CHECK_THROWS_AS((void)parse_network_mode("bridge"), UsageError);
}

#include "runtime/limits.h"

TEST_CASE("limits: sizes and --cpus") {
    CHECK(parse_byte_size("1048576") == 1048576);
    CHECK(parse_byte_size("512m") == 512LL << 20);
    CHECK(parse_byte_size("512MB") == 512LL << 20);
    CHECK(parse_byte_size("1g") == 1LL << 30);
    CHECK(parse_byte_size("1.5k") == 1536);
    CHECK_THROWS_AS((void)parse_byte_size("12q"), UsageError);
    CHECK_THROWS_AS((void)parse_byte_size("m"), UsageError);
    CHECK_THROWS_AS((void)parse_byte_size("-5m"), UsageError);
    Limits l;
    apply_cpus(l, "0.2");
    CHECK(*l.cpu_period_us == 100000);
    CHECK(*l.cpu_quota_us == 20000);
    CHECK_THROWS_AS(apply_cpus(l, "0"), UsageError);
    CHECK_THROWS_AS(apply_cpus(l, "abc"), UsageError);
}
