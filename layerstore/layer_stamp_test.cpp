#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "common/error.h"
#include "layerstore/layer_stamp.h"
#include "layerstore/layer_stamp_check.h"
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

TEST_CASE("the walk counts every kind of entry, does not follow symlinks, and reads big and deep dirs") {
    TempDir t{fs::temp_directory_path(), "imgbuild-stamp-walk"};
    fs::path d = t.path() / "d";
    write(d / "file", "12345");
    fs::create_symlink("/etc", d / "link");                     // counted, not followed
    fs::create_symlink(fs::path("nowhere"), d / "dangling");    // a dangling link is no error
    ::mkfifo((d / "fifo").c_str(), 0644);
    fs::path deep = d;
    for (int i = 0; i < 300; ++i) deep /= "n";                   // more levels than one fd each could hold
    write(deep / "leaf", "x");
    for (int i = 0; i < 3000; ++i) write(d / "big" / ("entry-with-a-long-name-" + std::to_string(i)), "");  // many getdents64 calls
    DirStamp s = stamp_dir(d);
    CHECK(s.entries == 1 + 4 + 300 + 1 + 1 + 3000);  // d, file, link, dangling, fifo, n..., leaf, big/, its files
    CHECK(s.bytes == 6);                              // regular files only: "12345" and "x"
    struct stat st {};
    REQUIRE(::lstat((deep / "leaf").c_str(), &st) == 0);
    CHECK(s.newest_ctime_ns >= static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec);
    CHECK(stamp_dir(d / "link").entries == 1);        // a symlink as the root: itself only
    // Two threads, each stating its share of the names: the same stamp.
    CHECK(stamp_dir(d, 2) == s);
    CHECK(stamp_dir(d / "link", 2).entries == 1);
    for (unsigned threads : {1u, 2u}) {
        std::string err;
        try {
            (void)stamp_dir(d / "missing", threads);
        } catch (const SystemError& e) {
            err = e.what();
        }
        CHECK(err.find((d / "missing").string()) != std::string::npos);
    }
    // A subdirectory that cannot be opened fails the walk on either thread (root ignores modes:
    // an entry that vanishes is the error that is left to see).
    std::string err;
    try {
        fs::path gone = d / "big";
        (void)stamp_dir(gone / "entry-with-a-long-name-1", 2);  // a file as the root: itself only
        fs::remove_all(gone);
        (void)stamp_dir(gone, 2);
    } catch (const SystemError& e) {
        err = e.what();
    }
    CHECK(err.find("big") != std::string::npos);
}

TEST_CASE("the background check: an untouched layer matches, a changed or removed one is handed back") {
    Fixture f;
    {
        BackgroundStampCheck check({*f.store.layer(f.layer.id)});
        CHECK(check.changed().empty());
        CHECK(check.changed().empty());  // asked again: the same answer
    }
    for (const char* kind : {"append", "remove diff/", "no stamp recorded"}) {
        CAPTURE(kind);
        Fixture g;
        LayerInfo l = *g.store.layer(g.layer.id);
        std::string k = kind;
        if (k == "append") std::ofstream(l.diff_dir / "a", std::ios::app) << "x";
        if (k == "remove diff/") fs::remove_all(l.diff_dir);
        if (k == "no stamp recorded") l.stamp.reset();
        BackgroundStampCheck check({*g.store.layer(g.layer.id), l});
        REQUIRE(check.changed().size() == (k == "no stamp recorded" ? 1 : 2));
        CHECK(check.changed().back().id == g.layer.id);
        CHECK(check.layers().size() == 2);
        CHECK_FALSE(stamp_matches(l));
    }
    Fixture h;
    { BackgroundStampCheck unasked({*h.store.layer(h.layer.id)}); }  // never asked: the destructor waits
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
    start = std::chrono::steady_clock::now();
    CHECK(stamp_dir(t.path(), stamp_threads_for(s.entries)) == s);
    us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("on " << stamp_threads_for(s.entries) << " threads: " << us << " us");
}
