// The overlay mount shared by the runtime and the builder: a real mount of 150 layers
// through short links, read-only, without changing the caller's working directory.
#include "runtime/overlay.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
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

TEST_CASE("overlay options: read-only without an upper dir") {
    auto m = overlay_options({"/s/a", "/s/b"}, "/s/empty", "", "", "", false);
    CHECK(m.data == "lowerdir=/s/b:/s/a:/s/empty,redirect_dir=off,metacopy=off,index=off");
}

ROOT_TEST_CASE("mount_overlay_no_chdir: 150 layers through short links, cwd untouched") {
    TempDir tmp(fs::temp_directory_path(), "overlay-test");
    std::vector<fs::path> all;
    for (int i = 0; i < 150; ++i) {
        fs::path d = tmp.path() / "layers" / (std::string(64, 'a' + static_cast<char>(i % 26)) + std::to_string(i)) / "diff";
        make_dirs(d);
        unique_fd f = open_or_throw(d / ("f" + std::to_string(i)), O_WRONLY | O_CREAT, 0644);
        all.push_back(d);
    }
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
