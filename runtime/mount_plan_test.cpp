// The mount plan as data: no root, no kernel.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "common/error.h"
#include "runtime/mount_plan.h"
#include "runtime/devices.h"
#include "runtime/overlay.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace {

MountPlanInput base_input() {
    MountPlanInput in;
    in.init_dir = "/store/containers/c1/init";
    return in;
}

std::vector<MountOp>::const_iterator find_op(const std::vector<MountOp>& plan, const std::string& target,
                                             MountOpKind kind) {
    return std::find_if(plan.begin(), plan.end(),
                        [&](const MountOp& op) { return op.target == target && op.kind == kind; });
}

ptrdiff_t index_of(const std::vector<MountOp>& plan, const std::string& target, MountOpKind kind) {
    auto it = find_op(plan, target, kind);
    REQUIRE(it != plan.end());
    return it - plan.begin();
}

}  // namespace

TEST_CASE("mount plan: system mounts come first, are strict about symlinks and carry Docker's flags") {
    auto plan = build_mount_plan(base_input());
    REQUIRE(!plan.empty());
    CHECK(plan[0].kind == MountOpKind::mount_fs);
    CHECK(plan[0].target == "/proc");
    CHECK(plan[0].fstype == "proc");
    CHECK(plan[0].no_symlinks);
    CHECK(plan[0].flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC));

    auto dev = find_op(plan, "/dev", MountOpKind::mount_fs);
    REQUIRE(dev != plan.end());
    CHECK(dev->fstype == "tmpfs");
    CHECK(dev->no_symlinks);

    auto sys = find_op(plan, "/sys", MountOpKind::mount_fs);
    REQUIRE(sys != plan.end());
    CHECK((sys->flags & MS_RDONLY) != 0);
    CHECK(find_op(plan, "/sys/fs/cgroup", MountOpKind::mount_fs) == plan.end());

    auto pts = find_op(plan, "/dev/pts", MountOpKind::mount_fs);
    REQUIRE(pts != plan.end());
    CHECK(pts->data.find("newinstance") != std::string::npos);
    CHECK(find_op(plan, "/dev/shm", MountOpKind::mount_fs) != plan.end());
    CHECK(find_op(plan, "/dev/mqueue", MountOpKind::mount_fs) != plan.end());
}

TEST_CASE("mount plan: /dev is nodev, its default nodes are the host's (bound), plus /dev links") {
    for (bool rootless : {false, true}) {
        auto in = base_input();
        in.rootless = rootless;
        auto plan = build_mount_plan(in);
        CHECK((find_op(plan, "/dev", MountOpKind::mount_fs)->flags & MS_NODEV) != 0);
        for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
            auto op = find_op(plan, std::string("/dev/") + name, MountOpKind::bind);
            REQUIRE_MESSAGE(op != plan.end(), name);
            CHECK(op->source == std::string("/dev/") + name);
            CHECK_FALSE(op->target_is_dir);
            CHECK(op->no_symlinks);
            CHECK(op->device != 0);
        }
        CHECK(find_op(plan, "/dev/null", MountOpKind::bind)->device == makedev(1, 3));
        CHECK(find_op(plan, "/dev/ptmx", MountOpKind::symlink)->source == "pts/ptmx");
        CHECK(find_op(plan, "/dev/fd", MountOpKind::symlink)->source == "/proc/self/fd");
        CHECK(find_op(plan, "/dev/stderr", MountOpKind::symlink)->source == "/proc/self/fd/2");
        // Nodes go into the tmpfs: after it in the plan.
        CHECK(index_of(plan, "/dev", MountOpKind::mount_fs) < index_of(plan, "/dev/null", MountOpKind::bind));
        // Every writable tmpfs of the container is nodev.
        for (const char* dir : {"/dev/shm", "/dev/mqueue"})
            CHECK((find_op(plan, dir, MountOpKind::mount_fs)->flags & MS_NODEV) != 0);
        CHECK((find_op(plan, "/dev/pts", MountOpKind::mount_fs)->data.find("gid=5") == std::string::npos) == rootless);
    }
}

TEST_CASE("mount plan: init files are bound from the init dir, never written into the image") {
    auto plan = build_mount_plan(base_input());
    for (const char* name : {"hosts", "hostname", "resolv.conf"}) {
        auto op = find_op(plan, std::string("/etc/") + name, MountOpKind::bind);
        REQUIRE_MESSAGE(op != plan.end(), name);
        CHECK(op->source == std::string("/store/containers/c1/init/") + name);
        CHECK_FALSE(op->no_symlinks);  // resolved inside the root like any other target
    }
}

TEST_CASE("mount plan: binds sorted parents first, read-only ones remounted") {
    auto in = base_input();
    in.binds = {{"/host/sub", "/data/sub", false}, {"/host/data", "/data", true}, {"/host/x", "/x", false}};
    auto plan = build_mount_plan(in);
    auto data = index_of(plan, "/data", MountOpKind::bind);
    auto sub = index_of(plan, "/data/sub", MountOpKind::bind);
    CHECK(data < sub);
    CHECK(index_of(plan, "/data", MountOpKind::remount_ro) == data + 1);
    CHECK(find_op(plan, "/data/sub", MountOpKind::remount_ro) == plan.end());
    CHECK(find_op(plan, "/x", MountOpKind::bind)->flags == (MS_BIND | MS_REC));
    // User binds come after the system mounts and before the hardening.
    CHECK(index_of(plan, "/sys", MountOpKind::mount_fs) < data);
    CHECK(sub < index_of(plan, "/proc/kcore", MountOpKind::mask));
}

TEST_CASE("mount plan: tmpfs mounts sorted with the binds") {
    auto in = base_input();
    in.binds = {{"/host/data", "/data", false}};
    in.tmpfs = {{"/data/cache", "size=1m", false}, {"/scratch", "", true}};
    auto plan = build_mount_plan(in);
    auto cache = index_of(plan, "/data/cache", MountOpKind::mount_fs);
    CHECK(index_of(plan, "/data", MountOpKind::bind) < cache);
    CHECK(plan[cache].fstype == "tmpfs");
    CHECK(plan[cache].data == "size=1m");
    CHECK(plan[cache].flags == (MS_NOSUID | MS_NODEV));
    CHECK(find_op(plan, "/scratch", MountOpKind::mount_fs)->flags == (MS_NOSUID | MS_NODEV | MS_RDONLY));
    in.tmpfs = {{"relative", "", false}};
    CHECK_THROWS_AS((void)build_mount_plan(in), UsageError);
}

TEST_CASE("mount plan: relative bind paths are refused") {
    auto in = base_input();
    in.binds = {{"/host", "relative/target", false}};
    CHECK_THROWS_AS((void)build_mount_plan(in), UsageError);
    in.binds = {{"host", "/target", false}};
    CHECK_THROWS_AS((void)build_mount_plan(in), UsageError);
}

TEST_CASE("mount plan: Docker's masked and read-only paths, last, optional") {
    auto plan = build_mount_plan(base_input());
    for (const auto& p : masked_paths()) {
        auto op = find_op(plan, p, MountOpKind::mask);
        REQUIRE_MESSAGE(op != plan.end(), p);
        CHECK(op->optional);
        CHECK(op->source == "/dev/null");
    }
    for (const auto& p : readonly_paths()) CHECK(find_op(plan, p, MountOpKind::readonly) != plan.end());
    CHECK(find_op(plan, "/proc/sys", MountOpKind::readonly) != plan.end());
    CHECK(find_op(plan, "/proc/kcore", MountOpKind::mask) != plan.end());
    CHECK(plan.back().kind == MountOpKind::readonly);
}

TEST_CASE("mount plan: cgroup2 host gets a read-only cgroup2 mount; rootless host network binds /sys") {
    auto in = base_input();
    in.cgroup2 = true;
    auto plan = build_mount_plan(in);
    auto cg = find_op(plan, "/sys/fs/cgroup", MountOpKind::mount_fs);
    REQUIRE(cg != plan.end());
    CHECK(cg->fstype == "cgroup2");
    CHECK((cg->flags & MS_RDONLY) != 0);

    in = base_input();
    in.rootless = true;
    in.network = NetworkMode::host;
    plan = build_mount_plan(in);
    CHECK(find_op(plan, "/sys", MountOpKind::bind) != plan.end());
    CHECK(find_op(plan, "/sys", MountOpKind::remount_ro) != plan.end());
}

TEST_CASE("mount plan: describe() prints one readable line per op") {
    auto plan = build_mount_plan(base_input());
    CHECK(describe(plan[0]) == "mount proc on /proc type proc (nosuid,nodev,noexec)");
    CHECK(describe(*find_op(plan, "/dev/null", MountOpKind::bind)) == "bind /dev/null on /dev/null c 1:3 (bind)");
    CHECK(describe(*find_op(plan, "/dev/fd", MountOpKind::symlink)) == "symlink /dev/fd -> /proc/self/fd");
}

TEST_CASE("overlay options: top layer first, init layer at the bottom, DESIGN §4 options") {
    auto m = overlay_options({"/s/layers/a/diff", "/s/layers/b/diff"}, "/s/c/init/rootfs", "/s/c/upper", "/s/c/work", "",
                             false);
    CHECK(m.data ==
          "lowerdir=/s/layers/b/diff:/s/layers/a/diff:/s/c/init/rootfs,upperdir=/s/c/upper,workdir=/s/c/work,"
          "redirect_dir=off,metacopy=off,index=off");
    CHECK(m.chdir_to.empty());

    auto rootless = overlay_options({}, "/i", "/u", "/w", "", true);
    CHECK(rootless.data == "lowerdir=/i,upperdir=/u,workdir=/w,redirect_dir=nofollow,metacopy=off,index=off,userxattr");
}

TEST_CASE("overlay options: short links keep 150 layers under a page") {
    std::vector<fs::path> lowers;
    for (int i = 0; i < 150; ++i)
        lowers.push_back("/var/lib/imgbuild/layers/" + std::string(64, 'a' + static_cast<char>(i % 26)) + std::to_string(i) +
                         "/diff");
    auto m = overlay_options(lowers, "/var/lib/imgbuild/containers/x/init/rootfs", "/u", "/w", "/var/lib/imgbuild/l", false);
    CHECK(m.chdir_to == "/var/lib/imgbuild");
    CHECK(m.data.size() < 4096);
    CHECK(m.data.rfind("lowerdir=l/" + short_link_name(lowers.back()) + ":", 0) == 0);
    CHECK(short_link_name("/a/b") == short_link_name("/a//b"));
    CHECK(short_link_name("/a/b").size() == 12);
}

TEST_CASE("devices: Docker's default allow list, as data, v1 lines and a BPF program") {
    const auto& rules = default_device_rules();
    // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in CHECK_MESSAGE.
    for (auto dev : {std::pair{1u, 3u}, {1u, 5u}, {1u, 7u}, {1u, 8u}, {1u, 9u}, {5u, 0u}, {5u, 1u}, {5u, 2u}, {136u, 7u}}) {
        unsigned major = dev.first, minor = dev.second;
        CHECK_MESSAGE(device_allowed(rules, 'c', major, minor, "rw"), major, ":", minor);
    }
    CHECK_FALSE(device_allowed(rules, 'c', 1, 1, "r"));    // mem
    CHECK_FALSE(device_allowed(rules, 'c', 1, 11, "w"));   // kmsg
    CHECK_FALSE(device_allowed(rules, 'b', 7, 0, "r"));    // loop0
    CHECK_FALSE(device_allowed(rules, 'c', 10, 200, "r")); // tun: not in Docker's list
    CHECK(device_allowed(rules, 'b', 7, 0, "m"));          // mknod of anything (CAP_MKNOD kept)
    CHECK(device_allowed(rules, 'c', 1, 1, "m"));
    CHECK_FALSE(device_allowed(rules, 'c', 1, 1, "rm"));
    CHECK(to_v1_line(rules[0]) == "c *:* m");
    CHECK(to_v1_line(rules[1]) == "b *:* m");
    CHECK(to_v1_line(rules[2]) == "c 1:3 rwm");
    for (const auto& r : rules) CHECK(r.type != 'a');  // v1 reads "a" in devices.allow as "allow all"
    CHECK(to_v1_line(rules.back()) == "c 136:* rwm");
    auto prog = device_filter_program(rules);
    REQUIRE(prog.size() > rules.size() * 2);
    CHECK(prog.back().code == (BPF_JMP | BPF_EXIT));
    // Every jump lands inside the program.
    for (size_t i = 0; i < prog.size(); ++i)
        if (prog[i].code == (BPF_JMP | BPF_JNE | BPF_K)) CHECK(i + 1 + static_cast<size_t>(prog[i].off) < prog.size());
}
