// The background remover of `run --rm` (background_remove.h): the tree goes, nothing of
// this process is needed for it, and the store lock stays held until it is gone.
#include "layerstore/background_remove.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/fs.h"
#include "layerstore/containers.h"
#include "layerstore/store.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;

TEST_CASE("remove_tree_in_background: a set-aside record vanishes, and the store lock is held until it has") {
    TempDir dir{fs::temp_directory_path(), "imgbuild-bgremove-test"};
    fs::path doomed;
    {
        Store store{dir.path() / "store"};
        Containers containers(store);
        ContainerConfig c;
        c.id = std::string(64, 'b');
        containers.create(c);
        for (int i = 0; i < 200; ++i) {
            make_dirs(containers.dir(c.id) / "upper" / ("d" + std::to_string(i)));
            unique_fd f = open_or_throw(containers.dir(c.id) / "upper" / ("d" + std::to_string(i)) / "f", O_WRONLY | O_CREAT, 0644);
        }
        doomed = containers.set_aside(c.id);
        CHECK(containers.ids().empty());
        CHECK_FALSE(containers.find(c.name));
        CHECK(doomed.parent_path() == store.tmp_dir());
        remove_tree_in_background(store, doomed);
    }
    // The store is closed here; the lock is free exactly when the remover is done, and then
    // nothing of the record is left.
    unique_fd lock = open_or_throw(dir.path() / "store" / "lock", O_RDWR);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK_FALSE(fs::exists(doomed));
    CHECK(fs::is_empty(dir.path() / "store" / "tmp"));
}

ROOT_TEST_CASE("remove_tree_in_background: a mount namespace handed over is released: the caller keeps no fd of it, nor does anyone once the tree is gone") {
    TempDir dir{fs::temp_directory_path(), "imgbuild-bgremove-ns-test"};
    fs::path doomed;
    std::string ns_name;
    {
        Store store{dir.path() / "store"};
        doomed = store.tmp_dir() / "doomed";
        make_dirs(doomed / "merged");
        // A process in a mount namespace of its own, with a tmpfs over doomed/merged as a
        // container's overlay would be; held by an fd, the namespace outlives it.
        Pipe ready = make_pipe("test sync");
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
                ::mount("tmpfs", (doomed / "merged").c_str(), "tmpfs", 0, nullptr) != 0)
                ::_exit(2);
            (void)!::write(ready.write.get(), "1", 1);
            ::pause();
            ::_exit(0);
        }
        ready.write.reset();
        char byte = 0;
        REQUIRE(::read(ready.read.get(), &byte, 1) == 1);
        unique_fd ns = open_or_throw("/proc/" + std::to_string(pid) + "/ns/mnt", O_RDONLY);
        ns_name = fs::read_symlink("/proc/self/fd/" + std::to_string(ns.get())).string();
        ::kill(pid, SIGKILL);
        (void)::waitpid(pid, nullptr, 0);
        remove_tree_in_background(store, doomed, std::move(ns));
    }
    unique_fd lock = open_or_throw(dir.path() / "store" / "lock", O_RDWR);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK_FALSE(fs::exists(doomed));
    // No fd of any process names the namespace any more: the remover's close was its end.
    for (const auto& p : fs::directory_iterator("/proc")) {
        std::error_code ec;
        for (const auto& f : fs::directory_iterator(p.path() / "fd", ec)) {
            std::error_code ec2;
            CHECK_MESSAGE(fs::read_symlink(f.path(), ec2).string() != ns_name, f.path().string());
        }
    }
}
