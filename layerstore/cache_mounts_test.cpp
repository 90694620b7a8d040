// RUN --mount=type=cache dirs in the store: layout, sharing modes, prune.
#include "layerstore/cache_mounts.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/error.h"
#include "common/fs.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

struct Sandbox {
    TempDir dir{fs::temp_directory_path(), "imgbuild-cache-mount-test"};
    Store store{dir.path() / "store"};
    fs::path mounts() const { return dir.path() / "store" / "cache-mounts"; }
};

}  // namespace

ROOT_TEST_CASE("cache_mounts: <store>/cache-mounts/<sha256 of id>/data and meta.json") {
    Sandbox sb;
    CacheMountSetup setup;
    setup.mode = 0750;
    setup.seed = [](const fs::path& data) { std::ofstream(data / "seeded") << "x"; };
    fs::path data;
    {
        auto h = open_cache_mount(sb.store, "/root/.npm", CacheSharing::shared, setup);
        data = h.data_dir();
        std::ofstream(data / "kept") << "1";
    }
    std::string hex = Digest::of("/root/.npm").hex();
    CHECK(data == sb.mounts() / hex / "data");
    CHECK(fs::exists(data / "seeded"));
    struct stat st {};
    REQUIRE(::stat(data.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
    auto meta = nlohmann::json::parse(read_file(sb.mounts() / hex / "meta.json"));
    CHECK(meta["id"] == "/root/.npm");
    CHECK(meta.contains("created"));
    CHECK(meta.contains("last_used"));
    // A second use finds the same dir with what the first left; setup is not applied again.
    auto again = open_cache_mount(sb.store, "/root/.npm", CacheSharing::shared, {});
    CHECK(again.data_dir() == data);
    CHECK(fs::exists(data / "kept"));
}

ROOT_TEST_CASE("cache_mounts: private users get a dir of their own while the main one is busy") {
    Sandbox sb;
    auto first = open_cache_mount(sb.store, "c", CacheSharing::private_, {});
    auto second = open_cache_mount(sb.store, "c", CacheSharing::private_, {});
    CHECK(first.data_dir() != second.data_dir());
    CHECK(second.data_dir().parent_path().parent_path().filename() == "private");
    auto shared1 = open_cache_mount(sb.store, "s", CacheSharing::shared, {});
    auto shared2 = open_cache_mount(sb.store, "s", CacheSharing::shared, {});
    CHECK(shared1.data_dir() == shared2.data_dir());
    // A locked user of "s" would wait now: the main lock is held shared.
    auto probe = FileLock::try_lock(sb.mounts() / cache_mount_hex("s") / "lock", LOCK_EX);
    CHECK_FALSE(probe.valid());
}

ROOT_TEST_CASE("cache_mounts: list and prune skip what a build holds") {
    Sandbox sb;
    { auto h = open_cache_mount(sb.store, "idle", CacheSharing::shared, {}); std::ofstream(h.data_dir() / "f") << "12345"; }
    auto busy = open_cache_mount(sb.store, "busy", CacheSharing::locked, {});
    auto list = list_cache_mounts(sb.store);
    REQUIRE(list.size() == 2);
    CHECK(list[0].id == "busy");
    CHECK(list[0].in_use);
    CHECK(list[1].id == "idle");
    CHECK_FALSE(list[1].in_use);
    CHECK(list[1].size >= 5);
    auto r = prune_cache_mounts(sb.store);
    CHECK(r.removed == 1);
    CHECK(fs::exists(busy.data_dir()));
    CHECK_FALSE(fs::exists(sb.mounts() / cache_mount_hex("idle")));
    CHECK_THROWS_AS((void)parse_cache_sharing("exclusive"), Error);
}
