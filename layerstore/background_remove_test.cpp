// The background remover of `run --rm` (background_remove.h): the tree goes, nothing of
// this process is needed for it, and the store lock stays held until it is gone.
#include "layerstore/background_remove.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/fs.h"
#include "layerstore/containers.h"
#include "layerstore/store.h"

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
