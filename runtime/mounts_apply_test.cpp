// The apply half of the mount plan without root: the plan build_mount_plan() makes for a
// typical container, applied to a temp dir root through RecordingSyscalls. Targets are
// resolved (and missing ones created) by the real in-root resolver; only the kernel calls
// that change the mount table (and symlinkat) are recorded instead of made.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/mount_plan.h"
#include "runtime/mounts_apply.h"
#include "runtime/syscalls_recording.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace doctest {
template <>
struct StringMaker<SyscallRecord> {
    static String convert(const SyscallRecord& r) { return to_string(r).c_str(); }
};
}  // namespace doctest

namespace {

constexpr unsigned long kProcFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
constexpr unsigned long kSysFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
constexpr unsigned long kRemountRo = MS_BIND | MS_REMOUNT | MS_RDONLY;

SyscallRecord mount_call(std::string source, std::string target, std::string fstype, unsigned long flags,
                         std::string data = "", int result = 0) {
    return {"mount", std::move(source), std::move(target), std::move(fstype), flags, std::move(data), result};
}

SyscallRecord symlink_call(std::string text, std::string at) {
    return {"symlink", std::move(text), std::move(at), "", 0, "", 0};
}

void touch(const fs::path& path) { (void)open_or_throw(path, O_WRONLY | O_CREAT, 0644); }

bool is_real_file(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_real_dir(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void check_calls(const std::vector<SyscallRecord>& actual, const std::vector<SyscallRecord>& expected) {
    CHECK(actual.size() == expected.size());
    for (size_t i = 0; i < actual.size() && i < expected.size(); ++i) {
        INFO("call ", i);
        CHECK(actual[i] == expected[i]);
    }
}

// A container root in a temp dir, its init files and a host dir to bind, plus what the
// kernel's /proc would show for the masked and read-only paths to act on: /proc/acpi (a
// dir) and /proc/kcore (a file) to mask, /proc/sys and /proc/sysrq-trigger to make
// read-only; every other masked or read-only path is missing (skipped, as on a kernel
// without it).
struct Container {
    TempDir tmp{fs::temp_directory_path(), "imgbuild-mounts-apply"};
    fs::path host = fs::canonical(tmp.path());
    fs::path root = host / "root";
    fs::path init = host / "init";
    fs::path data = host / "data";

    Container() {
        for (const auto& dir : {root, init, data, root / "proc/acpi", root / "proc/sys"}) make_dirs(dir);
        for (const char* name : {"hosts", "hostname", "resolv.conf"}) touch(init / name);
        touch(root / "proc/kcore");
        touch(root / "proc/sysrq-trigger");
    }

    [[nodiscard]] MountPlanInput input() const {
        MountPlanInput in;
        in.init_dir = init;
        in.cgroup2 = true;
        in.binds = {{data, "/data", true}};
        in.tmpfs = {{"/tmp", "size=64m,mode=1777", false}};
        return in;
    }

    [[nodiscard]] std::string on_host(const fs::path& p) const { return "host:" + p.string(); }
};

// Runs `f`, expecting it to fail; returns the error's text.
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    FAIL("no error");
    return "";
}

std::string apply_error(const std::vector<MountOp>& plan, const fs::path& root, Syscalls& sys) {
    return error_of([&] { apply_mount_plan(plan, root, sys); });
}

// The first call on `target` that is (or is not) a remount.
SyscallRecord find_call(const std::vector<SyscallRecord>& calls, const std::string& target, bool remount) {
    for (const auto& r : calls)
        if (r.target == target && ((r.flags & MS_REMOUNT) != 0) == remount) return r;
    return {};
}

MountOp op_of(MountOpKind kind, std::string target, bool optional) {
    MountOp op;
    op.kind = kind;
    op.target = std::move(target);
    op.source = "/dev/null";
    op.optional = optional;
    return op;
}

}  // namespace

TEST_CASE("apply mount plan: a typical container's plan, call by call") {
    Container c;
    RecordingSyscalls sys(c.root);
    apply_mount_plan(build_mount_plan(c.input()), c.root, sys);

    std::vector<SyscallRecord> expected = {
        mount_call("proc", "/proc", "proc", kProcFlags),
        mount_call("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=65536k"),
    };
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"})
        expected.push_back(mount_call(std::string("host:/dev/") + node, std::string("/dev/") + node, "", MS_BIND));
    expected.push_back(mount_call("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                                  "newinstance,ptmxmode=0666,mode=0620,gid=5"));
    expected.push_back(mount_call("tmpfs", "/dev/shm", "tmpfs", kProcFlags, "mode=1777,size=65536k"));
    expected.push_back(mount_call("mqueue", "/dev/mqueue", "mqueue", kProcFlags));
    expected.push_back(symlink_call("pts/ptmx", "/dev/ptmx"));
    expected.push_back(symlink_call("/proc/self/fd", "/dev/fd"));
    expected.push_back(symlink_call("/proc/self/fd/0", "/dev/stdin"));
    expected.push_back(symlink_call("/proc/self/fd/1", "/dev/stdout"));
    expected.push_back(symlink_call("/proc/self/fd/2", "/dev/stderr"));
    expected.push_back(mount_call("sysfs", "/sys", "sysfs", kSysFlags));
    expected.push_back(mount_call("cgroup2", "/sys/fs/cgroup", "cgroup2", kSysFlags));
    for (const char* name : {"hosts", "hostname", "resolv.conf"})
        expected.push_back(mount_call(c.on_host(c.init / name), std::string("/etc/") + name, "", MS_BIND | MS_REC));
    expected.push_back(mount_call(c.on_host(c.data), "/data", "", MS_BIND | MS_REC));
    expected.push_back(mount_call("", "/data", "", kRemountRo));  // the host dir's mount has no flags
    expected.push_back(mount_call("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777"));
    // Masks: an empty read-only tmpfs over a dir, /dev/null over a file.
    expected.push_back(mount_call("tmpfs", "/proc/acpi", "tmpfs", kSysFlags, "size=0"));
    expected.push_back(mount_call("host:/dev/null", "/proc/kcore", "", MS_BIND));
    // Read-only paths: bound onto themselves, then remounted read-only repeating the flags
    // of the proc mount they are on (nosuid,nodev,noexec and the kernel's default relatime).
    for (const char* path : {"/proc/sys", "/proc/sysrq-trigger"}) {
        expected.push_back(mount_call(path, path, "", MS_BIND | MS_REC));
        expected.push_back(mount_call("", path, "", kRemountRo | kProcFlags | MS_RELATIME));
    }
    check_calls(sys.calls(), expected);

    // The resolver made the missing targets inside the root, of the source's type.
    for (const char* dir : {"proc", "dev", "dev/pts", "dev/shm", "dev/mqueue", "sys/fs/cgroup", "data", "tmp"})
        CHECK_MESSAGE(is_real_dir(c.root / dir), dir);
    for (const char* file : {"dev/null", "dev/tty", "etc/hosts", "etc/resolv.conf"})
        CHECK_MESSAGE(is_real_file(c.root / file), file);
    // The recorder made nothing itself.
    CHECK_FALSE(fs::exists(fs::symlink_status(c.root / "dev/ptmx")));
}

TEST_CASE("apply mount plan: a device node's target made at once, or, when something is there, found the usual way") {
    Container c;
    RecordingSyscalls sys(c.root);
    // The recorder mounts no tmpfs on /dev: the image's own /dev is what the binds meet here.
    make_dirs(c.root / "dev");
    touch(c.root / "dev/null");  // there already: the exclusive create fails, the lookup finds it
    apply_mount_plan(build_mount_plan(c.input()), c.root, sys);
    CHECK(find_call(sys.calls(), "/dev/null", false).source == "host:/dev/null");
    CHECK(find_call(sys.calls(), "/dev/zero", false).source == "host:/dev/zero");
    CHECK(is_real_file(c.root / "dev/null"));
    CHECK(is_real_file(c.root / "dev/zero"));

    // A symlink in the way is never followed to a file outside, nor replaced: refused.
    Container d;
    RecordingSyscalls sys2(d.root);
    make_dirs(d.root / "dev");
    fs::create_symlink(d.host / "outside", d.root / "dev/zero");
    CHECK(apply_error(build_mount_plan(d.input()), d.root, sys2).find("/dev/zero") != std::string::npos);
    CHECK_FALSE(fs::exists(d.host / "outside"));
}

TEST_CASE("apply mount plan: remounts repeat the locked flags of the mount below") {
    Container c;
    auto in = c.input();
    in.rootless = true;
    in.network = NetworkMode::host;  // rootless with the host's network: /sys is the host's, bound
    RecordingSyscalls sys(c.root);
    // The host's mounts are nosuid,nodev,noexec (as a user namespace sees them: locked).
    sys.set_host_mount_flags(MS_NOSUID | MS_NODEV | MS_NOEXEC);
    apply_mount_plan(build_mount_plan(in), c.root, sys);

    const auto& calls = sys.calls();
    CHECK(find_call(calls, "/sys", false) == mount_call("host:/sys", "/sys", "", MS_BIND | MS_REC));
    CHECK(find_call(calls, "/sys", true) == mount_call("", "/sys", "", kRemountRo | kProcFlags));
    CHECK(find_call(calls, "/data", true) == mount_call("", "/data", "", kRemountRo | kProcFlags));
    CHECK(find_call(calls, "/proc/sys", true) == mount_call("", "/proc/sys", "", kRemountRo | kProcFlags | MS_RELATIME));
    CHECK(find_call(calls, "/dev/pts", false).data == "newinstance,ptmxmode=0666,mode=0620");  // no gid=5

    // What the plan avoids: a remount that drops a locked flag is refused, as by the kernel.
    auto data_fd = open_or_throw(c.root / "data", O_PATH);
    std::string data_path = "/proc/self/fd/" + std::to_string(data_fd.get());
    CHECK(sys.mount(nullptr, data_path.c_str(), nullptr, kRemountRo, nullptr) == EPERM);
    auto etc_fd = open_or_throw(c.root / "etc", O_PATH);
    std::string etc_path = "/proc/self/fd/" + std::to_string(etc_fd.get());
    CHECK(sys.mount(nullptr, etc_path.c_str(), nullptr, kRemountRo, nullptr) == EINVAL);  // not a mount point
}

TEST_CASE("apply mount plan: a failing call stops the plan with an error naming the op and the path") {
    Container c;
    auto plan = build_mount_plan(c.input());
    {
        RecordingSyscalls sys(c.root);
        sys.fail("mount", "/dev/pts", EPERM);
        std::string what = apply_error(plan, c.root, sys);
        CHECK(what.find("mount devpts on /dev/pts: EPERM") != std::string::npos);
        REQUIRE(!sys.calls().empty());
        CHECK(sys.calls().back() ==
              mount_call("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5",
                         EPERM));
        CHECK(sys.calls().size() == 9);  // proc, /dev, six nodes, then pts: nothing after it
    }
    {
        RecordingSyscalls sys(c.root);
        sys.fail("mount", "/etc/hostname", EACCES);
        CHECK(apply_error(plan, c.root, sys).find("mount (bind) on /etc/hostname: EACCES") != std::string::npos);
        CHECK(sys.calls().back().target == "/etc/hostname");
    }
    {
        RecordingSyscalls sys(c.root);
        sys.fail("mount", "/proc/sys", EROFS);  // the bind of a read-only path onto itself
        CHECK(apply_error(plan, c.root, sys).find("mount (readonly) on /proc/sys: EROFS") != std::string::npos);
        CHECK(sys.calls().back().flags == (MS_BIND | MS_REC));
    }
    {
        RecordingSyscalls sys(c.root);
        sys.fail("symlink", "/dev/fd", EACCES);
        CHECK(apply_error(plan, c.root, sys).find("symlink /dev/fd -> /proc/self/fd: EACCES") != std::string::npos);
    }
    {
        // A symlink that exists already is kept (an image may ship /dev/fd).
        RecordingSyscalls sys(c.root);
        sys.fail("symlink", "/dev/fd", EEXIST);
        apply_mount_plan(plan, c.root, sys);
        CHECK(sys.calls().back().target == "/proc/sysrq-trigger");
    }
}

TEST_CASE("apply mount plan: an unknown operation kind is an error, never skipped") {
    Container c;
    RecordingSyscalls sys(c.root);
    std::vector<MountOp> plan = {build_mount_plan(c.input())[0], op_of(static_cast<MountOpKind>(99), "/x", true)};
    std::string what = apply_error(plan, c.root, sys);
    CHECK(what.find("unknown operation kind 99") != std::string::npos);
    CHECK(what.find("/x") != std::string::npos);
    check_calls(sys.calls(), {mount_call("proc", "/proc", "proc", kProcFlags)});
    CHECK(std::string(to_string(static_cast<MountOpKind>(99))) == "?");
}

TEST_CASE("apply mount plan: optional ops skip a missing target, and only a missing one") {
    Container c;
    RecordingSyscalls sys(c.root);
    apply_mount_plan({op_of(MountOpKind::mask, "/proc/nope", true), op_of(MountOpKind::readonly, "/proc/nope", true)},
                     c.root, sys);
    CHECK(sys.calls().empty());

    // Not optional: the missing target is an error naming it.
    std::string what = apply_error({op_of(MountOpKind::mask, "/proc/nope", false)}, c.root, sys);
    CHECK(what.find("resolve /proc/nope in the container root: ENOENT") != std::string::npos);
    // Optional, but not ENOENT (/proc/kcore is a file): an error too.
    what = apply_error({op_of(MountOpKind::readonly, "/proc/kcore/x", true)}, c.root, sys);
    CHECK(what.find("/proc/kcore/x") != std::string::npos);
    CHECK(what.find("ENOTDIR") != std::string::npos);
    CHECK(sys.calls().empty());
    CHECK_FALSE(fs::exists(c.root / "proc/nope"));  // an optional target is never created
}

TEST_CASE("apply mount plan: an init file symlinked into /proc is refused, not bound (runc CVE-2025-52881)") {
    Container c;
    make_dirs(c.root / "etc");
    fs::create_symlink("/proc/sys/kernel/hostname", c.root / "etc/hosts");
    RecordingSyscalls sys(c.root);
    std::string what = apply_error(build_mount_plan(c.input()), c.root, sys);
    CHECK(what.find("on /etc/hosts: the target resolves into /proc or /sys") != std::string::npos);
    for (const auto& r : sys.calls()) CHECK(r.target.find("/proc/sys/kernel") == std::string::npos);
    CHECK(sys.calls().back().target == "/sys/fs/cgroup");  // the last call before the refused bind
}

TEST_CASE("pivot_into, make_mounts_private and mount_overlay: the calls, in order") {
    Container c;
    RecordingSyscalls sys(c.root);
    make_mounts_private(sys);
    OverlayMount overlay;
    overlay.data = "lowerdir=l/abc,upperdir=u,workdir=w";
    overlay.chdir_to = c.host;
    mount_overlay(overlay, c.root, sys);
    pivot_into(c.root, sys);
    check_calls(sys.calls(), {
                                 mount_call("", "/", "", MS_REC | MS_PRIVATE),
                                 {"chdir", "", c.host.string(), "", 0, "", 0},
                                 mount_call("overlay", c.root.string(), "overlay", MS_NODEV, overlay.data),
                                 {"fchdir", "", "/", "", 0, "", 0},  // the new root
                                 {"pivot_root", ".", ".", "", 0, "", 0},
                                 {"fchdir", "", "host:/", "", 0, "", 0},  // the old root
                                 {"umount2", "", ".", "", MNT_DETACH, "", 0},
                                 {"chdir", "", "/", "", 0, "", 0},
                             });

    RecordingSyscalls failing(c.root);
    failing.fail("pivot_root", ".", EINVAL);
    CHECK(error_of([&] { pivot_into(c.root, failing); }).find("pivot_root " + c.root.string() + ": EINVAL") !=
          std::string::npos);
    CHECK(failing.calls().size() == 2);  // the old root is never detached after a failed pivot
}
