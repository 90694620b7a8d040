// .dockerignore rules as Docker (moby/patternmatcher) applies them.
#include "builder/dockerignore.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/error.h"

using namespace imgbuild;
using namespace imgbuild::builder;

namespace {

struct Case {
    const char* patterns;
    const char* path;
    bool excluded;
};

// Each row: .dockerignore text, a context-relative path, whether it is excluded.
const Case kCases[] = {
    // Docker's documented examples (docs "Build context", .dockerignore section).
    {"*/temp*", "somedir/temporary.txt", true},
    {"*/temp*", "somedir/temp", true},
    {"*/temp*", "temp", false},
    {"*/temp*", "a/b/temp", false},
    {"*/*/temp*", "somedir/subdir/temporary.txt", true},
    {"*/*/temp*", "somedir/temporary.txt", false},
    {"temp?", "tempa", true},
    {"temp?", "tempab", false},
    {"temp?", "temp", false},
    {"temp?", "dir/tempa", false},
    {"**/*.go", "main.go", true},
    {"**/*.go", "a/b/c/main.go", true},
    {"**/*.go", "a/b/c/main.gox", false},
    {"*.md\n!README*.md\nREADME-secret.md", "README-secret.md", true},
    {"*.md\n!README*.md\nREADME-secret.md", "README.md", false},
    {"*.md\n!README*.md\nREADME-secret.md", "CHANGES.md", true},
    {"*.md\nREADME-secret.md\n!README*.md", "README-secret.md", false},
    // Comments, blank lines, whitespace.
    {"# comment\n\n   foo   \n", "foo", true},
    {"# foo\n", "# foo", false},
    {"#foo", "foo", false},
    {" #foo", "#foo", true},  // only a '#' in the first column starts a comment
    // Cleaning: leading '/', trailing '/', "./", "//".
    {"/foo", "foo", true},
    {"/foo", "bar/foo", false},
    {"foo/", "foo", true},
    {"foo/", "foo/bar.txt", true},
    {"./foo//bar/", "foo/bar/x", true},
    {"foo/../bar", "bar", true},
    // A match on a parent directory excludes everything below.
    {"build", "build/out/a.o", true},
    {"build", "builder/a", false},
    {"a/*", "a/b/c/d", true},
    // Re-include inside an excluded dir; the last matching pattern decides.
    {"vendor\n!vendor/keep", "vendor/keep", false},
    {"vendor\n!vendor/keep", "vendor/keep/deep/file", false},
    {"vendor\n!vendor/keep", "vendor/other", true},
    {"vendor\n!vendor/keep\nvendor/keep/tmp", "vendor/keep/tmp/x", true},
    {"!foo\nfoo", "foo", true},
    {"*\n!important.txt", "important.txt", false},
    {"*\n!important.txt", "other.txt", true},
    {"*\n!important.txt", "dir/important.txt", true},
    // "**" forms.
    {"**", "anything/at/all", true},
    {"dir/**", "dir/x/y", true},
    {"dir/**", "dirx/y", false},
    {"**/node_modules", "node_modules", true},
    {"**/node_modules", "a/b/node_modules/x/y.js", true},
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/y/b", true},
    {"a/**/b", "a/x/y/bc", false},
    // Classes and escapes.
    {"file[0-9].txt", "file7.txt", true},
    {"file[0-9].txt", "filex.txt", false},
    {"file[^0-9].txt", "filex.txt", true},
    {"file[^0-9].txt", "file1.txt", false},
    {"\\*.txt", "*.txt", true},
    {"\\*.txt", "a.txt", false},
    {"a.b", "axb", false},  // '.' is literal
    {"*.txt", "dir/a.txt", false},
    {"*", "dir/a.txt", true},  // '*' matches "dir", the parent
    {"?", "a/b", true},
    {"", "x", false},
    {"!x", "x", false},
};

}  // namespace

TEST_CASE("dockerignore: table of Docker's matching rules") {
    int n = 0;
    for (const auto& c : kCases) {
        CAPTURE(c.patterns);
        CAPTURE(c.path);
        IgnoreMatcher m = IgnoreMatcher::from_text(c.patterns);
        CHECK(m.excluded(c.path) == c.excluded);
        ++n;
    }
    CHECK(n >= 25);
}

TEST_CASE("dockerignore: root, leading slash and ./ in queried paths") {
    auto m = IgnoreMatcher::from_text("*\n");
    CHECK_FALSE(m.excluded("."));
    CHECK_FALSE(m.excluded(""));
    CHECK(m.excluded("/a"));
    CHECK(m.excluded("./a"));
}

TEST_CASE("dockerignore: patterns are cleaned and listed") {
    auto m = IgnoreMatcher::from_text("/foo/\n!./bar//baz\n\n# c\n  qux  \n");
    CHECK(m.patterns() == std::vector<std::string>{"foo", "!bar/baz", "qux"});
    CHECK(m.has_exceptions());
}

TEST_CASE("dockerignore: malformed patterns are errors naming the line") {
    CHECK_THROWS_AS(IgnoreMatcher::from_text("ok\n!\n"), UsageError);
    CHECK_THROWS_WITH_AS(IgnoreMatcher::from_text("ok\n[a-\n"), doctest::Contains(":2:"), UsageError);
    CHECK_THROWS_AS(IgnoreMatcher::from_text("x\\"), UsageError);
}

TEST_CASE("dockerignore: may_include_below lets a walk skip dead directories") {
    auto plain = IgnoreMatcher::from_text("vendor\nnode_modules\n");
    CHECK_FALSE(plain.may_include_below("vendor"));
    CHECK(plain.may_include_below("src"));

    auto keep = IgnoreMatcher::from_text("vendor\n!vendor/keep/*.go\n");
    CHECK(keep.may_include_below("vendor"));
    CHECK(keep.may_include_below("vendor/keep"));
    CHECK_FALSE(keep.may_include_below("vendor/other"));
    CHECK_FALSE(keep.excluded("vendor/keep/a.go"));
    CHECK(keep.excluded("vendor/keep/a.c"));

    auto deep = IgnoreMatcher::from_text("*\n!**/*.go\n");
    CHECK(deep.may_include_below("any/dir"));
    CHECK_FALSE(deep.excluded("any/dir/x.go"));
    CHECK(deep.excluded("any/dir/x.c"));
}

TEST_CASE("go_path_match: Go filepath.Match semantics") {
    CHECK(go_path_match("*.txt", "a.txt") == true);
    CHECK(go_path_match("*.txt", ".hidden.txt") == true);
    CHECK(go_path_match("*", "a/b") == false);
    CHECK(go_path_match("a?c", "abc") == true);
    CHECK(go_path_match("a?c", "a/c") == false);
    CHECK(go_path_match("[a-c]x", "bx") == true);
    CHECK(go_path_match("[^a-c]x", "bx") == false);
    CHECK(go_path_match("\\*", "*") == true);
    CHECK(go_path_match("\\*", "a") == false);
    CHECK(go_path_match("a*b*c", "axxbyyc") == true);
    CHECK_FALSE(go_path_match("[a-", "a").has_value());
    CHECK_FALSE(go_path_match("[]", "a").has_value());
    CHECK(contains_wildcards("a/*.txt"));
    CHECK(contains_wildcards("f[0-9]"));
    CHECK_FALSE(contains_wildcards("a\\*b"));
    CHECK_FALSE(contains_wildcards("plain/path"));
}

TEST_CASE("clean_slash_path matches Go's path.Clean") {
    CHECK(clean_slash_path("") == ".");
    CHECK(clean_slash_path("a//b/./c/..") == "a/b");
    CHECK(clean_slash_path("/../x") == "/x");
    CHECK(clean_slash_path("../a/../..") == "../..");
    CHECK(clean_slash_path("./") == ".");
}
