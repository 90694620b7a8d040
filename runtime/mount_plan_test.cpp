// The mount plan as data: no root, no kernel.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "common/error.h"
#include "runtime/mount_plan.h"
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

TEST_CASE("mount plan: device nodes (mknod as root, bind when rootless) and /dev links") {
    auto plan = build_mount_plan(base_input());
    for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
        auto op = find_op(plan, std::string("/dev/") + name, MountOpKind::make_device);
        REQUIRE_MESSAGE(op != plan.end(), name);
        CHECK(op->mode == 0666);
    }
    CHECK(find_op(plan, "/dev/null", MountOpKind::make_device)->device == makedev(1, 3));
    CHECK(find_op(plan, "/dev/ptmx", MountOpKind::symlink)->source == "pts/ptmx");
    CHECK(find_op(plan, "/dev/fd", MountOpKind::symlink)->source == "/proc/self/fd");
    CHECK(find_op(plan, "/dev/stderr", MountOpKind::symlink)->source == "/proc/self/fd/2");
    // Nodes go into the tmpfs: after it in the plan.
    CHECK(index_of(plan, "/dev", MountOpKind::mount_fs) < index_of(plan, "/dev/null", MountOpKind::make_device));

    auto in = base_input();
    in.rootless = true;
    auto rootless = build_mount_plan(in);
    CHECK(find_op(rootless, "/dev/null", MountOpKind::make_device) == rootless.end());
    auto bind = find_op(rootless, "/dev/null", MountOpKind::bind);
    REQUIRE(bind != rootless.end());
    CHECK(bind->source == "/dev/null");
    CHECK_FALSE(bind->target_is_dir);
    CHECK(find_op(rootless, "/dev/pts", MountOpKind::mount_fs)->data.find("gid=5") == std::string::npos);
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
    CHECK(describe(*find_op(plan, "/dev/null", MountOpKind::make_device)) == "mknod /dev/null c 1:3");
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
    CHECK(rootless.data == "lowerdir=/i,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off,index=off,userxattr");
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
