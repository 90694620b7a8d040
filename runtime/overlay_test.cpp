// The overlay mount shared by the runtime and the builder: a real mount of 150 layers
// through short links, read-only, without changing the caller's working directory.
#include "runtime/overlay.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

// `n` layer dirs under `dir`/layers with long names (a lowerdir list of them is far over one
// page), each holding one file f<i>.
std::vector<fs::path> make_layers(const fs::path& dir, int n) {
    std::vector<fs::path> all;
    for (int i = 0; i < n; ++i) {
        fs::path d = dir / "layers" / (std::string(64, 'a' + static_cast<char>(i % 26)) + std::to_string(i)) / "diff";
        make_dirs(d);
        unique_fd f = open_or_throw(d / ("f" + std::to_string(i)), O_WRONLY | O_CREAT, 0644);
        all.push_back(d);
    }
    return all;
}

TEST_CASE("overlay options: read-only without an upper dir") {
    auto m = overlay_options({"/s/a", "/s/b"}, "/s/empty", "", "", "", false);
    CHECK(m.data == "lowerdir=/s/b:/s/a:/s/empty,redirect_dir=off,metacopy=off,index=off");
}

ROOT_TEST_CASE("mount_overlay_no_chdir: 150 layers through short links, cwd untouched") {
    TempDir tmp(fs::temp_directory_path(), "overlay-test");
    std::vector<fs::path> all = make_layers(tmp.path(), 150);
    fs::path links = tmp.path() / "l", empty = tmp.path() / "empty", merged = tmp.path() / "merged";
    make_dirs(empty);
    make_dirs(merged);
    ensure_short_links(all, empty, links);
    ensure_short_links(all, empty, links);  // idempotent
    OverlayMount m = overlay_options(all, empty, "", "", links, false);
    CHECK(m.data.size() < 4096);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // A mount namespace of its own: the mount goes away with this child.
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(2);
        char before[PATH_MAX], after[PATH_MAX];
        if (!::getcwd(before, sizeof before)) ::_exit(3);
        try {
            mount_overlay_no_chdir(m, merged);
        } catch (const Error&) {
            ::_exit(4);
        }
        if (!::getcwd(after, sizeof after) || std::string(before) != after) ::_exit(5);
        if (::access((merged / "f0").c_str(), F_OK) != 0 || ::access((merged / "f149").c_str(), F_OK) != 0) ::_exit(6);
        ::_exit(0);
    }
    CHECK(describe_wait_status(wait_for_child(pid, "overlay mount child")) == "exit 0");
    // A failing mount names the target and the options.
    OverlayMount bad = overlay_options({tmp.path() / "missing"}, empty, "", "", "", false);
    CHECK_THROWS_WITH_AS(mount_overlay_no_chdir(bad, merged), doctest::Contains("mount overlay on"),
                         SystemError);
}

// Attaches `mount_fd` at `merged` in a child's own mount namespace and checks there that f0
// and `last` show and a new file can be made (into the upper dir), nodev as mount_overlay
// gives it. Returns the child's wait status ("exit 0": all held).
std::string attach_in_another_namespace(int mount_fd, const fs::path& merged, const std::string& last) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(2);
        try {
            attach_overlay(mount_fd, merged);
        } catch (const Error&) {
            ::_exit(3);
        }
        if (::access((merged / "f0").c_str(), F_OK) != 0 || ::access((merged / last).c_str(), F_OK) != 0) ::_exit(4);
        int fd = ::open((merged / "new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) ::_exit(5);
        ::close(fd);
        std::string info = read_file("/proc/self/mountinfo");
        if (info.find(merged.string() + " rw,nodev") == std::string::npos) ::_exit(6);
        ::_exit(0);
    }
    return describe_wait_status(wait_for_child(pid, "overlay attach child"));
}

// `n` layers (make_layers) with their short links in tmp/l, and the empty init layer, the
// merged, upper and work dirs of an overlay of them.
struct DetachedOverlayDirs {
    explicit DetachedOverlayDirs(int n) : layers(make_layers(tmp.path(), n)) {
        for (const auto& d : {empty, merged, upper, work}) make_dirs(d);
        ensure_short_links(layers, empty, links);
    }
    TempDir tmp{fs::temp_directory_path(), "overlay-detached-test"};
    std::vector<fs::path> layers;
    fs::path links = tmp.path() / "l", empty = tmp.path() / "empty", merged = tmp.path() / "merged",
             upper = tmp.path() / "upper", work = tmp.path() / "work";
};

ROOT_TEST_CASE("make_detached_overlay: two layers through short links, one lowerdir value of whole paths") {
    DetachedOverlayDirs d(2);
    OverlayMount m = overlay_options(d.layers, d.empty, d.upper, d.work, d.links, false);
    REQUIRE(m.data.rfind("lowerdir=l/", 0) == 0);  // relative to m.chdir_to
    unique_fd mount = make_detached_overlay(m);
    REQUIRE(mount);
    CHECK(attach_in_another_namespace(mount.get(), d.merged, "f1") == "exit 0");
    CHECK(fs::exists(d.upper / "new"));
}

ROOT_TEST_CASE("make_detached_overlay: made here without a chdir, attached in another mount namespace; 150 layers one by one; empty when it cannot be made") {
    DetachedOverlayDirs d(150);
    OverlayMount m = overlay_options(d.layers, d.empty, d.upper, d.work, d.links, false, true);
    REQUIRE(m.data.find("lowerdir=") != std::string::npos);
    CHECK(m.data.substr(0, m.data.find(',')).size() > 255);  // one fsconfig value cannot hold it
    char cwd_before[PATH_MAX];
    REQUIRE(::getcwd(cwd_before, sizeof cwd_before) != nullptr);
    unique_fd mount = make_detached_overlay(m);
    char cwd_after[PATH_MAX];
    REQUIRE(::getcwd(cwd_after, sizeof cwd_after) != nullptr);
    CHECK(std::string(cwd_before) == cwd_after);  // the short links were given whole, no chdir
    if (!mount) {
        MESSAGE("skipped the attach: this kernel's fsconfig has no lowerdir+ (before 6.8)");
    } else {
        CHECK(attach_in_another_namespace(mount.get(), d.merged, "f149") == "exit 0");
        CHECK(fs::exists(d.upper / "new"));
        CHECK_FALSE(fs::exists(d.merged / "f0"));  // attached in the child's namespace only
    }
    // A lower that is missing: no mount made; the child's mount(2) then reports the error.
    mount.reset();
    fs::path upper2 = d.tmp.path() / "upper2", work2 = d.tmp.path() / "work2";
    make_dirs(upper2);
    make_dirs(work2);
    OverlayMount bad = overlay_options({d.tmp.path() / "missing"}, d.empty, upper2, work2, "", false);
    CHECK_FALSE(make_detached_overlay(bad));
}

TEST_CASE("the shared init layer: made whole once, kept, and the staging dir left empty") {
    TempDir tmp(fs::temp_directory_path(), "init-layer-test");
    fs::path staging = tmp.path() / "tmp", layer = tmp.path() / "init-layer";
    make_dirs(staging);
    ensure_shared_init_layer(layer, staging);
    for (const char* d : {"proc", "sys", "dev", "etc"}) CHECK(fs::is_directory(layer / d));
    for (const char* f : {"etc/hosts", "etc/hostname", "etc/resolv.conf"}) {
        CHECK(fs::is_regular_file(layer / f));
        CHECK(fs::file_size(layer / f) == 0);
    }
    CHECK((fs::status(layer).permissions() & fs::perms::all) == (fs::perms::owner_all | fs::perms::group_read |
                                                                  fs::perms::group_exec | fs::perms::others_read |
                                                                  fs::perms::others_exec));
    CHECK(fs::is_empty(staging));
    // Made by another container meanwhile: used as it is.
    unique_fd marker = open_or_throw(layer / "made-first", O_WRONLY | O_CREAT, 0644);
    ensure_shared_init_layer(layer, staging);
    CHECK(fs::exists(layer / "made-first"));
    CHECK(fs::is_empty(staging));

    ContainerSpec spec;
    spec.init_dir = tmp.path() / "c1" / "init";
    spec.shared_init_layer = layer;
    spec.shared_init_staging_dir = staging;
    spec.hostname = "h1";
    spec.network = NetworkMode::none;
    CHECK(prepare_init_dir(spec) == layer);
    CHECK(read_file(spec.init_dir / "hostname") == "h1\n");
    CHECK_FALSE(fs::exists(spec.init_dir / "rootfs"));
    spec.shared_init_layer.clear();
    CHECK(prepare_init_dir(spec) == spec.init_dir / "rootfs");
    CHECK(fs::is_regular_file(spec.init_dir / "rootfs" / "etc" / "hosts"));
}

TEST_CASE("init files: kept when they already hold what a start writes, made anew when a container changed them") {
    TempDir tmp(fs::temp_directory_path(), "init-files-test");
    ContainerSpec spec;
    spec.init_dir = tmp.path() / "init";
    spec.shared_init_layer = tmp.path() / "init-layer";
    spec.shared_init_staging_dir = tmp.path();
    spec.hostname = "h1";
    spec.network = NetworkMode::none;
    (void)prepare_init_dir(spec);
    // An fd on each file: its link count says whether the file was kept (1) or replaced (0;
    // the inode number may come back for the new file).
    auto still_linked = [](const unique_fd& fd) {
        struct stat st {};
        REQUIRE(::fstat(fd.get(), &st) == 0);
        return st.st_nlink == 1;
    };
    unique_fd hostname = open_or_throw(spec.init_dir / "hostname", O_RDONLY),
              hosts = open_or_throw(spec.init_dir / "hosts", O_RDONLY),
              resolv = open_or_throw(spec.init_dir / "resolv.conf", O_RDONLY);
    (void)prepare_init_dir(spec);  // the next RUN of a build: nothing to write
    CHECK(still_linked(hostname));
    CHECK(still_linked(hosts));
    CHECK(still_linked(resolv));

    // What a container may have done through its bind mounts: each is undone.
    { unique_fd f = open_or_throw(spec.init_dir / "hosts", O_WRONLY | O_APPEND); write_all(f.get(), "6.6.6.6 evil\n", "hosts"); }
    REQUIRE(::chmod((spec.init_dir / "resolv.conf").c_str(), 0666) == 0);
    bool xattr_set = ::setxattr((spec.init_dir / "hostname").c_str(), "user.mark", "1", 1, 0) == 0;  // tmpfs: maybe not
    const std::string hosts_before = read_file(spec.init_dir / "hosts");
    (void)prepare_init_dir(spec);
    CHECK_FALSE(still_linked(hosts));
    CHECK(read_file(spec.init_dir / "hosts").find("evil") == std::string::npos);
    CHECK(hosts_before.find("evil") != std::string::npos);
    CHECK_FALSE(still_linked(resolv));
    struct stat st {};
    REQUIRE(::lstat((spec.init_dir / "resolv.conf").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    if (xattr_set) {
        CHECK_FALSE(still_linked(hostname));
        CHECK(::getxattr((spec.init_dir / "hostname").c_str(), "user.mark", nullptr, 0) < 0);
    }
    // A new hostname is a new content.
    spec.hostname = "h2";
    (void)prepare_init_dir(spec);
    CHECK(read_file(spec.init_dir / "hostname") == "h2\n");
}
