// COPY --exclude and --parents: trees compared with the rules of the BuildKit reference
// (frontend/dockerfile/docs/reference.md) and BuildKit's own exclude_patterns_test.go.
#include "builder/copy_exclude.h"

#include <doctest/doctest.h>

#include "tests/skip_unless.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "builder/build_context.h"
#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace stdfs = std::filesystem;

namespace {

void put(const stdfs::path& p, std::string_view content = "x") {
    stdfs::create_directories(p.parent_path());
    unique_fd fd = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_all(fd.get(), content, p);
}

// Every path below `dir`, sorted, directories with a trailing '/'.
std::vector<std::string> tree(const stdfs::path& dir) {
    std::vector<std::string> out;
    if (!stdfs::exists(dir)) return out;
    for (auto it = stdfs::recursive_directory_iterator(dir); it != stdfs::recursive_directory_iterator(); ++it) {
        std::string rel = it->path().lexically_relative(dir).string();
        if (it->is_directory() && !it->is_symlink()) rel += "/";
        out.push_back(rel);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += e + " ";
    return s;
}

struct Case {
    TempDir tmp{stdfs::temp_directory_path(), "copy-exclude-test"};
    stdfs::path ctx = tmp.path() / "ctx";
    stdfs::path root = tmp.path() / "root";
    unique_fd root_fd;

    Case() {
        stdfs::create_directories(ctx);
        stdfs::create_directories(root);
        root_fd = open_or_throw(root, O_PATH | O_DIRECTORY);
    }
    // COPY [--parents] [--exclude=E]... SOURCES DEST
    void copy(std::vector<std::string> sources, const std::string& dest, bool parents = false,
              std::vector<std::string> excludes = {}) {
        BuildContext bc(ctx, IgnoreMatcher(), nullptr);
        CopySpec s;
        if (parents) {
            s.sources = parents_copy_sources(bc, sources, "COPY");
        } else {
            for (auto& m : bc.match_all_sources(sources, "COPY")) s.sources.push_back(bc.copy_source(m));
        }
        s.dest = dest;
        s.dest_trailing_slash = true;
        s.multiple_sources_pattern = s.sources.size() > 1;
        auto ex = exclude_matcher(excludes, "COPY --exclude");
        s.exclude = ex.get();
        copy_into_root(root_fd.get(), s);
    }
    std::vector<std::string> at(const std::string& d) const { return tree(root / d); }
};

#define CHECK_TREE(actual, ...)                                              \
    do {                                                                     \
        const std::vector<std::string> want_{__VA_ARGS__};                   \
        const std::vector<std::string> got_ = (actual);                      \
        CHECK_MESSAGE(got_ == want_, "got: " << joined(got_) << "\nwant: " << joined(want_)); \
    } while (0)

}  // namespace

ROOT_TEST_CASE("parents: reference example, ./x/a.txt ./y/a.txt keep their directories") {
    Case c;
    put(c.ctx / "x/a.txt", "xa");
    put(c.ctx / "y/a.txt", "ya");
    put(c.ctx / "y/b.txt");
    c.copy({"./x/a.txt", "./y/a.txt"}, "/no_parents/");
    c.copy({"./x/a.txt", "./y/a.txt"}, "/parents/", true);
    CHECK_TREE(c.at("no_parents"), "a.txt");
    CHECK(read_file(c.root / "no_parents/a.txt") == "ya");  // silently overwritten, as BuildKit
    CHECK_TREE(c.at("parents"), "x/", "x/a.txt", "y/", "y/a.txt");
    CHECK(read_file(c.root / "parents/x/a.txt") == "xa");
}

ROOT_TEST_CASE("parents: a /./ pivot keeps only the directories after it") {
    Case c;
    put(c.ctx / "x/y/a.txt");
    put(c.ctx / "x/y/b.txt");
    put(c.ctx / "x/y/c.md");
    c.copy({"./x/./y/*.txt"}, "/parents/", true);
    CHECK_TREE(c.at("parents"), "y/", "y/a.txt", "y/b.txt");
}

ROOT_TEST_CASE("parents: ** matches any number of directories; dirs with no match are not made") {
    Case c;
    put(c.ctx / "src/a.txt");
    put(c.ctx / "src/x/b.txt");
    put(c.ctx / "src/x/y/c.txt");
    put(c.ctx / "src/x/d.md");
    put(c.ctx / "src/z/e.md");
    put(c.ctx / "other/f.txt");
    c.copy({"./src/**/*.txt"}, "/parents/", true);
    CHECK_TREE(c.at("parents"), "src/", "src/a.txt", "src/x/", "src/x/b.txt", "src/x/y/", "src/x/y/c.txt");
}

ROOT_TEST_CASE("parents: wildcard directories, a matched directory copies whole, parents keep their mode") {
    Case c;
    put(c.ctx / "packages/foo/package.json", "foo");
    put(c.ctx / "packages/foo/index.js");
    put(c.ctx / "packages/bar/package.json", "bar");
    put(c.ctx / "apps/web/package.json");
    put(c.ctx / "apps/web/conf/c.ini");
    REQUIRE(::chmod((c.ctx / "packages/foo").c_str(), 0750) == 0);
    c.copy({"packages/*/package.json", "apps/web/conf"}, "/app/", true);
    CHECK_TREE(c.at("app"), "apps/", "apps/web/", "apps/web/conf/", "apps/web/conf/c.ini", "packages/",
               "packages/bar/", "packages/bar/package.json", "packages/foo/", "packages/foo/package.json");
    struct stat st{};
    REQUIRE(::stat((c.root / "app/packages/foo").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
}

ROOT_TEST_CASE("parents: a missing plain path is an error, a wildcard may match nothing") {
    Case c;
    put(c.ctx / "a.txt");
    CHECK_THROWS_WITH_AS(c.copy({"./nonexistent-file"}, "/d/", true), doctest::Contains("nonexistent-file"), Error);
    c.copy({"*.md", "a.txt"}, "/d/", true);
    CHECK_TREE(c.at("d"), "a.txt");
}

ROOT_TEST_CASE("parents with --exclude: excludes are relative to the pivot root") {
    Case c;
    put(c.ctx / "src/a.txt");
    put(c.ctx / "src/gen/b.txt");
    put(c.ctx / "src/c.txt");
    c.copy({"src/**/*.txt"}, "/p/", true, {"src/gen"});
    CHECK_TREE(c.at("p"), "src/", "src/a.txt", "src/c.txt");
}

// BuildKit's exclude_patterns_test.go tree and expectations.
struct ExcludeTree : Case {
    ExcludeTree() {
        put(ctx / "dir1/file-101.png", "2");
        put(ctx / "dir1/file-102.txt", "3");
        put(ctx / "dir1/file-103.jpeg", "4");
        put(ctx / "dir2/file-201.pdf", "6");
        put(ctx / "dir2/file-202.jpeg", "7");
        put(ctx / "dir2/file-203.png", "8");
        put(ctx / "dir3/file-301.mp3", "9");
        put(ctx / "dir3/file-302.mpeg", "10");
        put(ctx / "dir4/file-401.txt", "11");
        stdfs::create_symlink("file-401.txt", ctx / "dir4/file-402.txt");
        stdfs::create_symlink("file-404.txt", ctx / "dir4/file-403.txt");
    }
};

ROOT_TEST_CASE("exclude: BuildKit's exclude_patterns_test cases") {
    ExcludeTree c;
    c.copy({"."}, "/1/", false, {"*/*.png", "*/*.jpeg"});
    CHECK_TREE(c.at("1"), "dir1/", "dir1/file-102.txt", "dir2/", "dir2/file-201.pdf", "dir3/", "dir3/file-301.mp3",
               "dir3/file-302.mpeg", "dir4/", "dir4/file-401.txt", "dir4/file-402.txt", "dir4/file-403.txt");
    c.copy({"."}, "/2/", false, {"*/*.pdf", "*/*.txt"});
    CHECK_TREE(c.at("2"), "dir1/", "dir1/file-101.png", "dir1/file-103.jpeg", "dir2/", "dir2/file-202.jpeg",
               "dir2/file-203.png", "dir3/", "dir3/file-301.mp3", "dir3/file-302.mpeg", "dir4/");
    c.copy({"dir3/"}, "/3/", false, {"*.mp3"});
    CHECK_TREE(c.at("3"), "file-302.mpeg");
    c.copy({"dir*"}, "/4/", false, {"*.mp3", "*.jpeg", "*.png", "*.pdf", "*.txt"});
    CHECK_TREE(c.at("4"), "file-302.mpeg");
    c.copy({"dir*"}, "/5/", false, {"*.mp*", "*.jpeg", "*.png", "*.pdf"});
    CHECK_TREE(c.at("5"), "file-102.txt", "file-401.txt", "file-402.txt", "file-403.txt");
    c.copy({"dir*"}, "/6/", false, {"*"});
    CHECK(stdfs::is_directory(c.root / "6"));
    CHECK_TREE(c.at("6"));
}

ROOT_TEST_CASE("exclude: patterns are relative to the source; ** reaches every level; ! re-includes") {
    Case c;
    put(c.ctx / "dir1/a.1");
    put(c.ctx / "dir1/a.2");
    put(c.ctx / "dir1/dir2/a.1");
    put(c.ctx / "dir1/dir2/a.2");
    c.copy({"dir1"}, "/top/", false, {"*.1"});  // moby/buildkit#5509: only the top level
    CHECK_TREE(c.at("top"), "a.2", "dir2/", "dir2/a.1", "dir2/a.2");
    c.copy({"dir1"}, "/all/", false, {"**/*.1"});
    CHECK_TREE(c.at("all"), "a.2", "dir2/", "dir2/a.2");
    // An excluded directory is walked when an exception may re-include something in it.
    put(c.ctx / "logs/x.log");
    put(c.ctx / "logs/keep/important.log");
    put(c.ctx / "logs/keep/other.log");
    c.copy({"."}, "/ex/", false, {"logs", "!logs/keep/important.log", "dir1"});
    CHECK_TREE(c.at("ex"), "logs/", "logs/keep/", "logs/keep/important.log");
    // A bad pattern is an error naming the flag.
    CHECK_THROWS_WITH_AS(c.copy({"dir1"}, "/bad/", false, {"[a-"}), doctest::Contains("COPY --exclude"), Error);
}

TEST_CASE("parents: split at the first /./ pivot") {
    auto p = split_parents_source("./x/./y/*.txt");
    CHECK(p.root == "x");
    CHECK(p.pattern == "y/*.txt");
    CHECK_FALSE(p.required);
    p = split_parents_source("/abs/path/f");
    CHECK(p.root == ".");
    CHECK(p.pattern == "abs/path/f");
    CHECK(p.required);
    p = split_parents_source("a/./b/./c");
    CHECK(p.root == "a");
    CHECK(p.pattern == "b/c");
}
