#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "common/error.h"
#include "layerstore/layer_stamp.h"
#include "layerstore/store.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

struct Fixture {
    TempDir dir{fs::temp_directory_path(), "imgbuild-stamp-test"};
    Store store{dir.path() / "store"};
    LayerInfo layer;
    Fixture() {
        TempDir t = store.make_temp_dir("test");
        write(t.path() / "diff" / "a", "one");
        write(t.path() / "diff" / "sub" / "b", "two");
        layer = store.commit_layer_dir(t.path() / "diff", std::nullopt);
    }
    std::string use_error() {
        try {
            (void)verify_layer_for_use(store, *store.layer(layer.id));
        } catch (const CorruptError& e) {
            return e.what();
        }
        return {};
    }
};

}  // namespace

TEST_CASE("a layer records its stamp when it is made, and an untouched layer passes the check") {
    Fixture f;
    REQUIRE(f.layer.stamp);
    CHECK(f.layer.stamp->entries == 4);  // diff/, a, sub/, sub/b
    CHECK(f.layer.stamp->bytes == 6);
    CHECK(*f.layer.stamp == stamp_dir(f.layer.diff_dir));  // taken on the tar's walk: the same as a walk of its own
    CHECK(*f.store.layer(f.layer.id)->stamp == *f.layer.stamp);  // kept in meta.json
    CHECK(f.use_error().empty());
}

TEST_CASE("every kind of change in diff/ is noticed before use, and named") {
    const char* kinds[] = {"append", "same-size rewrite", "chmod", "remove", "add", "remove diff/"};
    for (const char* kind : kinds) {
        CAPTURE(kind);
        Fixture f;
        fs::path d = f.layer.diff_dir;
        std::string k = kind;
        if (k == "append") std::ofstream(d / "sub" / "b", std::ios::app) << "x";
        if (k == "same-size rewrite") std::ofstream(d / "a") << "ONE";
        if (k == "chmod") fs::permissions(d / "a", fs::perms::owner_exec, fs::perm_options::add);
        if (k == "remove") fs::remove(d / "sub" / "b");
        if (k == "add") write(d / "new", "");
        if (k == "remove diff/") fs::remove_all(d);
        std::string err = f.use_error();
        CHECK(err.find("layer " + f.layer.id) != std::string::npos);
        CHECK(err.find(k == "remove diff/" ? "diff/ is missing" : "diff/ has changed") != std::string::npos);
        CHECK(err.find("fsck --repair") != std::string::npos);
    }
}

TEST_CASE("a touched but unchanged layer passes (the full check decides) and gets a new stamp") {
    Fixture f;
    std::ofstream(f.layer.diff_dir / "a") << "one";  // same bytes, new ctime
    CHECK(f.use_error().empty());
    auto now = f.store.layer(f.layer.id);
    CHECK(*now->stamp != *f.layer.stamp);
    CHECK(*now->stamp == stamp_dir(f.layer.diff_dir));
}

TEST_CASE("the stamp costs one lstat per entry: measured on 10000 files") {
    TempDir t{fs::temp_directory_path(), "imgbuild-stamp-cost"};
    for (int i = 0; i < 100; ++i)
        for (int j = 0; j < 100; ++j) write(t.path() / std::to_string(i) / std::to_string(j), "x");
    (void)stamp_dir(t.path());  // warm the dentry cache, as a layer in use is
    auto start = std::chrono::steady_clock::now();
    DirStamp s = stamp_dir(t.path());
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    CHECK(s.entries == 10101);
    MESSAGE("stamp of 10101 entries: " << us << " us (" << (us * 1000 / 10101) << " ns per entry)");
}
