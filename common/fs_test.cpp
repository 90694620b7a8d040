#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;

namespace {
size_t entries(const fs::path& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}
}  // namespace

TEST_CASE("atomic_write_file: new, then over the old file, both durabilities; no temp file left") {
    TempDir dir(fs::temp_directory_path(), "fs-test");
    fs::path tmp = dir.path() / "tmp";
    make_dirs(tmp);
    fs::path dest = dir.path() / "state.json";
    for (auto durability : {Durability::relaxed, Durability::durable}) {
        atomic_write_file(dest, "first", tmp, durability);
        CHECK(read_file(dest) == "first");
        struct stat before {};
        REQUIRE(::stat(dest.c_str(), &before) == 0);
        atomic_write_file(dest, "second, longer", tmp, durability);  // over the old one (relaxed: swapped)
        CHECK(read_file(dest) == "second, longer");
        struct stat after {};
        REQUIRE(::stat(dest.c_str(), &after) == 0);
        CHECK(after.st_ino != before.st_ino);  // a new file, never the old one rewritten in place
        CHECK(entries(tmp) == 0);
        fs::remove(dest);
    }
}

TEST_CASE("atomic_write_file: a directory in the way is an error, not swapped out (relaxed)") {
    TempDir dir(fs::temp_directory_path(), "fs-test");
    fs::path dest = dir.path() / "d";
    make_dirs(dest / "inside");
    CHECK_THROWS_AS(atomic_write_file(dest, "x", dir.path(), Durability::relaxed), Error);
    CHECK(fs::is_directory(dest / "inside"));
    CHECK(entries(dir.path()) == 1);
}

TEST_CASE("atomic_write_file: a symlink at the destination is replaced, its target untouched (relaxed)") {
    TempDir dir(fs::temp_directory_path(), "fs-test");
    fs::path target = dir.path() / "target";
    atomic_write_file(target, "target", dir.path(), Durability::relaxed);
    fs::path link = dir.path() / "link";
    fs::create_symlink(target, link);
    atomic_write_file(link, "new", dir.path(), Durability::relaxed);
    CHECK(!fs::is_symlink(link));
    CHECK(read_file(link) == "new");
    CHECK(read_file(target) == "target");
}
