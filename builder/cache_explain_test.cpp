// Explaining misses: keys from named inputs, listings compared file by file, cache specs.
#include "builder/cache_explain.h"

#include <doctest/doctest.h>

#include "builder/remote_cache.h"
#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace fs = std::filesystem;

namespace {

struct Dir {
    Dir() : tmp(fs::temp_directory_path(), "explain-test") {}
    TempDir tmp;
    fs::path write(const std::string& name, const std::string& text) {
        fs::path p = tmp.path() / name;
        atomic_write_file(p, text, tmp.path(), Durability::relaxed);
        return p;
    }
};

std::string changes(Dir& d, const std::string& before, const std::string& after, size_t limit = 5) {
    auto r = listing_changes(d.write("a", before), d.write("b", after), limit);
    if (!r) return "<none>";
    std::string out;
    for (const auto& s : *r) out += (out.empty() ? "" : "; ") + s;
    return out;
}

}  // namespace

TEST_CASE("StepInputs: the key is the chained CacheKey of every input, in order") {
    Digest parent = Digest::of("parent");
    StepInputs in;
    in.add({"instruction", "instruction", "RUN make", "RUN make", InputDisplay::value, std::nullopt});
    in.add({"var", "build arg V", "V=1", "1", InputDisplay::value, std::nullopt});
    CacheKey k(parent);
    k.add("instruction", "RUN make").add("var", "V=1");
    CHECK(in.key(parent) == k.finish());
    StepInputs other = in;
    other.add({"mount", "mount cache id=x", "x", "", InputDisplay::name_only, std::nullopt});
    CHECK(other.key(parent) != in.key(parent));
    CHECK(in.key(Digest::of("another parent")) != in.key(parent));
}

TEST_CASE("listing_changes: files changed, added, removed, in walk order") {
    Dir d;
    CHECK(changes(d, "src\tx\nsrc/a.py\t1\nsrc/b.py\t2\n", "src\tx\nsrc/a.py\t1\nsrc/b.py\t3\n") == "src/b.py changed");
    CHECK(changes(d, "src/a\t1\nsrc/c\t3\n", "src/a\t1\nsrc/b\t2\nsrc/c\t3\n") == "src/b added");
    CHECK(changes(d, "src/a\t1\nsrc/b\t2\n", "src/b\t2\n") == "src/a removed");
    CHECK(changes(d, "a\t1\n", "a\t1\n").empty());
    // A dir comes before what is in it, and "a/b" before "a.txt" (component order, not bytes).
    CHECK(changes(d, "a\td\na/b\t1\na.txt\t2\n", "a\td\na/b\t9\na.txt\t2\n") == "a/b changed");
    CHECK(changes(d, "a\t1\nb\t1\nc\t1\n", "a\t2\nb\t2\nc\t2\n", 2) == "a changed; b changed; and 1 more");
}

TEST_CASE("listing_changes: a missing or unordered listing gives no file names") {
    Dir d;
    CHECK(changes(d, "b\t1\na\t1\n", "a\t1\n") == "<none>");
    CHECK(!listing_changes(d.tmp.path() / "gone", d.write("x", "a\t1\n"), 5));
}

TEST_CASE("ContextListing: named by its content, paths with tabs survive") {
    TempDir root(fs::temp_directory_path(), "explain-store");
    layerstore::Store store(root.path());
    Digest first, second;
    {
        ContextListing l(store);
        l.add("dir/we\tird", "record-1");
        l.add("dir/z", "record-2");
        first = l.finish();
    }
    {
        ContextListing l(store);
        l.add("dir/we\tird", "record-1");
        l.add("dir/z", "record-3");
        second = l.finish();
    }
    CHECK(first != second);
    fs::path dir = store.root() / "cache" / "explain" / "files";
    auto r = listing_changes(dir / first.hex(), dir / second.hex(), 5);
    REQUIRE(r);
    CHECK(r->size() == 1);
    CHECK(r->front() == "dir/z changed");
}

TEST_CASE("parse_cache_spec") {
    CacheSpec s = parse_cache_spec("type=registry,ref=r.example/app/cache:main,mode=max", "--cache-to");
    CHECK(s.type == "registry");
    CHECK(s.location == "r.example/app/cache:main");
    CHECK(s.max);
    CHECK(!s.mounts);
    s = parse_cache_spec("type=local,dest=/ci/cache,mounts=true", "--cache-to");
    CHECK(s.type == "local");
    CHECK(s.location == "/ci/cache");
    CHECK(s.mounts);
    s = parse_cache_spec("r.example/app/cache:main", "--cache-from");
    CHECK(s.type == "registry");
    CHECK_THROWS_AS((void)parse_cache_spec("type=local,dest=/x", "--cache-from"), UsageError);
    CHECK_THROWS_AS((void)parse_cache_spec("type=local,src=/x", "--cache-to"), UsageError);
    CHECK_THROWS_AS((void)parse_cache_spec("type=gha", "--cache-to"), UsageError);
    CHECK_THROWS_AS((void)parse_cache_spec("type=registry,ref=x,mode=all", "--cache-to"), UsageError);
    CHECK_THROWS_AS((void)parse_cache_spec("type=registry,ref=x,mode=max", "--cache-from"), UsageError);
    CHECK_THROWS_AS((void)parse_cache_spec("type=registry", "--cache-to"), UsageError);
}

TEST_CASE("looks_secret: credential words, not words that contain them") {
    CHECK(looks_secret("API_TOKEN"));
    CHECK(looks_secret("db_password"));
    CHECK(looks_secret("AWS_SECRET_ACCESS_KEY"));
    CHECK(!looks_secret("VERSION"));
    CHECK(!looks_secret("MONKEY"));
    CHECK(!looks_secret("AUTHOR"));
}
