#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "common/cgroup_dir.h"
#include "common/fs.h"

using namespace imgbuild;

// On a plain directory: rmdir behaves the same as on a cgroup dir for what matters here
// (empty: removed; missing: fine; not removable: reported and false, the dir kept).
TEST_CASE("remove_cgroup_dir: says whether the dir is gone") {
    TempDir tmp(std::filesystem::temp_directory_path(), "cgroup-dir-test");
    auto empty = tmp.path() / "empty";
    REQUIRE(::mkdir(empty.c_str(), 0755) == 0);
    CHECK(remove_cgroup_dir(empty));
    CHECK(!std::filesystem::exists(empty));
    CHECK(remove_cgroup_dir(tmp.path() / "never-made"));
    auto busy = tmp.path() / "busy";
    REQUIRE(::mkdir(busy.c_str(), 0755) == 0);
    std::ofstream(busy / "task") << "1";
    CHECK(!remove_cgroup_dir(busy));  // ENOTEMPTY: kept, not retried as EBUSY is
    CHECK(std::filesystem::exists(busy / "task"));
}
