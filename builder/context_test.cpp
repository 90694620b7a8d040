// Build context: source matching (wildcards, symlinks, .dockerignore), content digests,
// the file hash cache and the speed of a no-op rebuild.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/skip_unless.h"
#include "builder/build_context.h"
#include "builder/copy_files.h"
#include "builder/dockerignore.h"
#include "builder/file_hash_cache.h"
#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace stdfs = std::filesystem;

namespace {

void put(const stdfs::path& p, std::string_view content, mode_t mode = 0644) {
    stdfs::create_directories(p.parent_path());
    unique_fd fd = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    write_all(fd.get(), content, p);
    REQUIRE(::fchmod(fd.get(), mode) == 0);
}

using Strings = std::vector<std::string>;

// Lets the files written so far age past the hash cache's racy window.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(80)); }

struct Ctx {
    TempDir tmp{stdfs::temp_directory_path(), "ctx-test"};
    stdfs::path dir() const { return tmp.path(); }
};

}  // namespace

TEST_CASE("match_sources: plain paths, dirs, leading slash, root") {
    Ctx c;
    put(c.dir() / "a.txt", "a");
    put(c.dir() / "src/main.c", "int main;");
    BuildContext ctx(c.dir(), IgnoreMatcher(), nullptr);
    CHECK(ctx.match_sources("a.txt", "COPY") == Strings{"a.txt"});
    CHECK(ctx.match_sources("/a.txt", "COPY") == Strings{"a.txt"});
    CHECK(ctx.match_sources("./src/", "COPY") == Strings{"src"});
    CHECK(ctx.match_sources(".", "COPY") == Strings{"."});
    CHECK(ctx.match_sources("/", "COPY") == Strings{"."});
    CHECK(ctx.match_sources("src/../a.txt", "COPY") == Strings{"a.txt"});
    CHECK_THROWS_WITH_AS(ctx.match_sources("missing.txt", "COPY"),
                         doctest::Contains("file not found in build context or excluded by .dockerignore: stat missing.txt"),
                         Error);
    CHECK_THROWS_WITH_AS(ctx.match_sources("a.txt/x", "COPY"), doctest::Contains("a.txt/x"), Error);
}

TEST_CASE("match_sources: wildcards per segment, sorted; no match is an error") {
    Ctx c;
    for (auto n : {"b.txt", "a.txt", ".hidden.txt", "c.md", "sub/x.txt", "sub/y.md", "other/x.txt"}) put(c.dir() / n, n);
    BuildContext ctx(c.dir(), IgnoreMatcher(), nullptr);
    CHECK(ctx.match_sources("*.txt", "COPY") == Strings{".hidden.txt", "a.txt", "b.txt"});
    CHECK(ctx.match_sources("?.md", "COPY") == Strings{"c.md"});
    CHECK(ctx.match_sources("*/x.txt", "COPY") == Strings{"other/x.txt", "sub/x.txt"});
    CHECK(ctx.match_sources("/sub/*", "COPY") == Strings{"sub/x.txt", "sub/y.md"});
    CHECK(ctx.match_sources("[ab].txt", "COPY") == Strings{"a.txt", "b.txt"});
    CHECK(ctx.match_sources("s*", "COPY") == Strings{"sub"});
    CHECK_THROWS_WITH_AS(ctx.match_sources("*.none", "ADD"), doctest::Contains("*.none"), Error);
    CHECK_THROWS_WITH_AS(ctx.match_sources("*.none", "ADD"), doctest::Contains("ADD failed"), Error);
}

TEST_CASE("match_all_sources: an empty wildcard is fine beside a match, not alone") {
    Ctx c;
    for (auto n : {"a.txt", "b.md"}) put(c.dir() / n, n);
    BuildContext ctx(c.dir(), IgnoreMatcher(), nullptr);
    CHECK(ctx.match_all_sources({"*.none", "b.md", "*.txt"}, "COPY") == Strings{"b.md", "a.txt"});
    CHECK_THROWS_WITH_AS(ctx.match_all_sources({"*.none", "*.nothing"}, "COPY"),
                         doctest::Contains("no source files were specified"), Error);
    CHECK_THROWS_WITH_AS(ctx.match_all_sources({"*.txt", "missing"}, "COPY"), doctest::Contains("missing"), Error);
    CHECK(ctx.match_all_sources({}, "ADD").empty());
}

TEST_CASE("match_sources: '..' out of the context and symlinks leading out are rejected") {
    Ctx c;
    put(c.dir() / "ctx/a.txt", "a");
    put(c.dir() / "secret.txt", "s");
    const auto root = c.dir() / "ctx";
    stdfs::create_symlink("../secret.txt", root / "up");
    stdfs::create_symlink("/etc/passwd", root / "abs");
    stdfs::create_symlink("a.txt", root / "good");
    stdfs::create_directories(root / "d");
    stdfs::create_symlink("../a.txt", root / "d/back");
    stdfs::create_symlink((stdfs::canonical(root) / "a.txt").string(), root / "abs_inside");
    stdfs::create_symlink("..", root / "d/parent");
    BuildContext ctx(root, IgnoreMatcher(), nullptr);
    CHECK_THROWS_WITH_AS(ctx.match_sources("../secret.txt", "COPY"), doctest::Contains("outside the build context"), Error);
    CHECK_THROWS_WITH_AS(ctx.match_sources("d/../../secret.txt", "COPY"), doctest::Contains("outside"), Error);
    CHECK_THROWS_WITH_AS(ctx.match_sources("up", "COPY"), doctest::Contains("outside the build context"), Error);
    CHECK_THROWS_WITH_AS(ctx.match_sources("abs", "COPY"), doctest::Contains("outside the build context"), Error);
    CHECK_THROWS_AS(ctx.match_sources("d/parent/../secret.txt", "COPY"), Error);
    CHECK(ctx.match_sources("good", "COPY") == Strings{"good"});
    CHECK(ctx.resolve("good") == "a.txt");
    CHECK(ctx.match_sources("d/back", "COPY") == Strings{"d/back"});
    CHECK(ctx.resolve("d/back") == "a.txt");
    CHECK(ctx.resolve("abs_inside") == "a.txt");
    CHECK(ctx.resolve("d/parent") == ".");
    auto src = ctx.copy_source("d/back");
    CHECK(src.path == "a.txt");
    CHECK(src.name == "back");
    CHECK(src.root_fd == ctx.root_fd());
}

TEST_CASE("match_sources: a rootfs (COPY --from) resolves absolute symlinks inside it") {
    Ctx c;
    put(c.dir() / "usr/bin/tool", "t");
    stdfs::create_directories(c.dir() / "bin");
    stdfs::create_symlink("/usr/bin/tool", c.dir() / "bin/tool");
    BuildContext ctx(c.dir(), IgnoreMatcher(), nullptr, ContextKind::rootfs);
    CHECK(ctx.match_sources("/bin/tool", "COPY") == Strings{"bin/tool"});
    CHECK(ctx.resolve("bin/tool") == "usr/bin/tool");
    CHECK(ctx.match_sources("../../usr/bin/tool", "COPY") == Strings{"usr/bin/tool"});
}

TEST_CASE("match_sources: .dockerignore'd paths do not match") {
    Ctx c;
    put(c.dir() / "keep.txt", "k");
    put(c.dir() / "secret.env", "s");
    put(c.dir() / "vendor/lib.go", "l");
    put(c.dir() / "vendor/keep/x.go", "x");
    put(c.dir() / "logs/a.log", "a");
    stdfs::create_symlink("secret.env", c.dir() / "link_to_secret");
    BuildContext ctx(c.dir(), IgnoreMatcher::from_text("*.env\nvendor\n!vendor/keep\nlogs\n"), nullptr);
    CHECK_THROWS_WITH_AS(ctx.match_sources("secret.env", "COPY"), doctest::Contains("excluded by .dockerignore"), Error);
    CHECK_THROWS_AS(ctx.match_sources("link_to_secret", "COPY"), Error);
    CHECK_THROWS_AS(ctx.match_sources("logs", "COPY"), Error);
    CHECK_THROWS_AS(ctx.match_sources("vendor/lib.go", "COPY"), Error);
    CHECK(ctx.match_sources("vendor/keep/x.go", "COPY") == Strings{"vendor/keep/x.go"});
    CHECK(ctx.match_sources("vendor", "COPY") == Strings{"vendor"});  // an exception lives below
    CHECK(ctx.match_sources("*", "COPY") == Strings{"keep.txt", "vendor"});
}

ROOT_TEST_CASE("content_digest: content, chmod and names count; mtime does not") {
    Ctx c;
    put(c.dir() / "app/a.txt", "hello");
    put(c.dir() / "app/b.txt", "world");
    stdfs::create_symlink("a.txt", c.dir() / "app/link");
    settle();
    FileHashCache cache;
    BuildContext ctx(c.dir(), IgnoreMatcher(), &cache);
    const Strings src{"app"};
    const Digest d0 = ctx.content_digest(src);
    CHECK(ctx.content_digest(src) == d0);

    // touch (mtime only): same digest.
    timespec later[2] = {{1'700'000'000, 0}, {1'700'000'000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (c.dir() / "app/a.txt").c_str(), later, 0) == 0);
    CHECK(ctx.content_digest(src) == d0);

    SUBCASE("an edit that keeps size and mtime changes it") {
        struct stat before{};
        REQUIRE(::stat((c.dir() / "app/a.txt").c_str(), &before) == 0);
        put(c.dir() / "app/a.txt", "HELLO");
        timespec ts[2] = {before.st_atim, before.st_mtim};
        REQUIRE(::utimensat(AT_FDCWD, (c.dir() / "app/a.txt").c_str(), ts, 0) == 0);
        struct stat after{};
        REQUIRE(::stat((c.dir() / "app/a.txt").c_str(), &after) == 0);
        REQUIRE(after.st_size == before.st_size);
        REQUIRE(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
        REQUIRE(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("chmod changes it") {
        REQUIRE(::chmod((c.dir() / "app/b.txt").c_str(), 0755) == 0);
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("chown changes it") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: content_digest / chown changes it: needs root");
            return;
        }
        REQUIRE(::lchown((c.dir() / "app/b.txt").c_str(), 1000, 1000) == 0);
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("a rename changes it") {
        stdfs::rename(c.dir() / "app/b.txt", c.dir() / "app/c.txt");
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("a symlink target changes it") {
        stdfs::remove(c.dir() / "app/link");
        stdfs::create_symlink("b.txt", c.dir() / "app/link");
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("a new empty dir changes it") {
        stdfs::create_directory(c.dir() / "app/empty");
        CHECK(ctx.content_digest(src) != d0);
    }
    SUBCASE("an excluded file does not count") {
        BuildContext ign(c.dir(), IgnoreMatcher::from_text("app/*.log\n"), &cache);
        const Digest base = ign.content_digest(src);
        put(c.dir() / "app/debug.log", "noise");
        CHECK(ign.content_digest(src) == base);
        CHECK(ctx.content_digest(src) != d0);
    }
}

TEST_CASE("content_digest: the same tree elsewhere gives the same digest; sources order and names count") {
    Ctx c1, c2;
    for (auto* c : {&c1, &c2}) {
        put(c->dir() / "x/1.txt", "one");
        put(c->dir() / "x/2.txt", "two");
    }
    BuildContext a(c1.dir(), IgnoreMatcher(), nullptr), b(c2.dir(), IgnoreMatcher(), nullptr);
    CHECK(a.content_digest({"x"}) == b.content_digest({"x"}));
    CHECK(a.content_digest({"x/1.txt", "x/2.txt"}) != a.content_digest({"x/2.txt", "x/1.txt"}));
    CHECK(a.content_digest({"x/1.txt"}) != a.content_digest({"x/2.txt"}));
}

TEST_CASE("file hash cache: persisted, reused, racy entries not trusted, bounded") {
    Ctx c;
    const auto cache_file = c.dir() / "store/cache/file-hashes.json";
    put(c.dir() / "ctx/f1", "1");
    put(c.dir() / "ctx/f2", "2");
    settle();
    Digest first;
    {
        FileHashCache cache(cache_file);
        BuildContext ctx(c.dir() / "ctx", IgnoreMatcher(), &cache);
        first = ctx.content_digest({"."});
        CHECK(cache.misses() == 2);
        CHECK(cache.size() == 2);
        cache.save();
    }
    REQUIRE(stdfs::exists(cache_file));
    const auto mtime_saved = stdfs::last_write_time(cache_file);
    {
        FileHashCache cache(cache_file);
        CHECK(cache.size() == 2);
        BuildContext ctx(c.dir() / "ctx", IgnoreMatcher(), &cache);
        CHECK(ctx.content_digest({"."}) == first);
        CHECK(cache.hits() == 2);
        CHECK(cache.misses() == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cache.save();  // nothing changed: not rewritten
        CHECK(stdfs::last_write_time(cache_file) == mtime_saved);
    }
    {
        // A file written just now is hashed but not remembered (its ctime could repeat).
        put(c.dir() / "ctx/fresh", "new");
        FileHashCache cache(cache_file);
        BuildContext ctx(c.dir() / "ctx", IgnoreMatcher(), &cache);
        (void)ctx.content_digest({"."});
        CHECK(cache.size() == 2);
    }
    {
        // Bounded: with max 1 entry, entries unused in this run are dropped on save.
        settle();
        FileHashCache cache(cache_file, 1);
        BuildContext ctx(c.dir() / "ctx", IgnoreMatcher(), &cache);
        (void)ctx.content_digest({"fresh"});
        CHECK(cache.size() == 3);
        cache.save();
        FileHashCache reloaded(cache_file);
        CHECK(reloaded.size() == 1);
    }
    {
        // A corrupt cache file is ignored, not fatal.
        put(cache_file, "{not json");
        FileHashCache cache(cache_file);
        CHECK(cache.size() == 0);
        BuildContext ctx(c.dir() / "ctx", IgnoreMatcher(), &cache);
        CHECK(ctx.content_digest({"f1", "f2"}) == ctx.content_digest({"f1", "f2"}));
    }
}

ROOT_TEST_CASE("content_digest: a no-op rebuild of 10k files only stats (timed)") {
    Ctx c;
    const auto root = c.dir() / "big";
    std::string payload(512, 'x');
    for (int d = 0; d < 100; ++d) {
        stdfs::create_directories(root / ("dir" + std::to_string(d)));
        for (int f = 0; f < 100; ++f) {
            const auto p = root / ("dir" + std::to_string(d)) / ("file" + std::to_string(f) + ".txt");
            unique_fd fd = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            write_all(fd.get(), payload + std::to_string(d * 100 + f), p);
        }
    }
    settle();
    const auto cache_file = c.dir() / "file-hashes.json";
    Digest cold_digest;
    double cold_ms = 0;
    {
        FileHashCache cache(cache_file);
        BuildContext ctx(root, IgnoreMatcher::from_text("**/*.tmp\n"), &cache);
        auto t0 = std::chrono::steady_clock::now();
        cold_digest = ctx.content_digest(ctx.match_sources(".", "COPY"));
        cold_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        CHECK(cache.misses() == 10000);
        cache.save();
    }
    auto t_load = std::chrono::steady_clock::now();
    FileHashCache cache(cache_file);
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
    BuildContext ctx(root, IgnoreMatcher::from_text("**/*.tmp\n"), &cache);
    double best = 1e9, best_cpu = 1e9;
    auto cpu_ms = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    for (int i = 0; i < 5; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        const double c0 = cpu_ms();
        CHECK(ctx.content_digest(ctx.match_sources(".", "COPY")) == cold_digest);
        best_cpu = std::min(best_cpu, cpu_ms() - c0);
        best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    CHECK(cache.misses() == 0);
    CHECK(cache.hits() == 50000);
    MESSAGE("10k files: cold digest " << cold_ms << " ms, cache load " << load_ms << " ms, no-op digest " << best
                                      << " ms wall (" << best_cpu << " ms CPU)");
    CHECK(best < 500);  // generous for loaded CI machines; typically tens of ms
}
