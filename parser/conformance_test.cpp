// BuildKit's own parser and shell-lexer test data, run against our parser. The data lives in
// ../shared/conformance/buildkit-dockerfile (override: IMGBUILD_CONFORMANCE_DIR). It is read
// as data; see /work/shared/conformance/README.md for its format.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "parser/dockerfile.h"
#include "parser/test_support.h"
#include "parser/expand.h"
#include "parser/syntax_tree.h"

namespace fs = std::filesystem;
using namespace imgbuild::parser;
using namespace imgbuild::parser::testing;

namespace {

fs::path conformance_dir() {
    if (const char* env = std::getenv("IMGBUILD_CONFORMANCE_DIR"); env && *env) return env;
    return fs::path(IMGBUILD_SOURCE_DIR "/../shared/conformance");
}

fs::path buildkit_dir() { return conformance_dir() / "buildkit-dockerfile"; }

// Cases where we deliberately differ from BuildKit; docs/parser.md explains each one.
// (None so far: every case of the data set passes as BuildKit expects.)
const std::set<std::string> kSyntaxDeviations = {};
const std::set<std::string> kShellDeviations = {};

}  // namespace

TEST_CASE("conformance data is present") {
    INFO("looked in " << buildkit_dir().string() << " (set IMGBUILD_CONFORMANCE_DIR to override)");
    REQUIRE(fs::exists(buildkit_dir() / "parser" / "testfiles"));
}

TEST_CASE("BuildKit parser/testfiles: the syntax tree dump matches `result`") {
    int passed = 0;
    for (const auto& dir : case_dirs(buildkit_dir() / "parser" / "testfiles")) {
        std::string name = dir.filename().string();
        if (kSyntaxDeviations.count(name)) continue;
        CAPTURE(name);
        std::string text = slurp(dir / "Dockerfile");
        std::string expected = slurp(dir / "result");
        SourceText src(text, "Dockerfile");
        std::string got;
        try {
            got = dump_sexpr(parse_syntax_tree(src, src.text()));
        } catch (const std::exception& e) {
            FAIL_CHECK("parse failed: " << e.what());
            continue;
        }
        CHECK(got == expected);
        if (got == expected) ++passed;
    }
    MESSAGE("BuildKit testfiles passing: " << passed);
    CHECK(passed >= 33);
}

TEST_CASE("BuildKit parser/testfiles-negative: every case is rejected") {
    int rejected = 0;
    for (const auto& dir : case_dirs(buildkit_dir() / "parser" / "testfiles-negative")) {
        std::string name = dir.filename().string();
        CAPTURE(name);
        std::string text = slurp(dir / "Dockerfile");
        CHECK_THROWS_AS((void)parse_dockerfile(text, "Dockerfile"), ParseError);
        ++rejected;
    }
    CHECK(rejected >= 4);
}

// PLATFORM|input|expected; `error` means the expansion must fail. A and U lines apply here.
TEST_CASE("BuildKit shell/envVarTest") {
    Env env;
    env.set("PWD", "/home");
    env.set("SHELL", "bash");
    env.set("KOREAN", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4");
    env.set("NULL", "");
    std::istringstream in(slurp(buildkit_dir() / "shell" / "envVarTest"));
    std::string line;
    int lineno = 0;
    int checked = 0;
    Expander ex('\\');
    while (std::getline(in, line)) {
        ++lineno;
        if (line.rfind("#", 0) == 0 || trim(line).empty()) continue;
        std::vector<std::string> parts;
        std::stringstream ls(line);
        std::string part;
        while (std::getline(ls, part, '|')) parts.push_back(part);
        if (line.back() == '|') parts.emplace_back();
        REQUIRE(parts.size() == 3);
        std::string platform = trim(parts[0]);
        std::string source = trim(parts[1]);
        std::string expected = trim(parts[2]);
        if (platform != "A" && platform != "U") continue;
        if (kShellDeviations.count(source)) continue;
        CAPTURE(lineno);
        CAPTURE(source);
        if (expected == "error") {
            CHECK_THROWS_AS((void)ex.expand_word(source, env), ExpandError);
        } else {
            std::string got;
            try {
                got = ex.expand_word(source, env);
            } catch (const std::exception& e) {
                got = std::string("<error: ") + e.what() + ">";
            }
            CHECK(got == expected);
        }
        ++checked;
    }
    MESSAGE("envVarTest lines checked: " << checked);
    CHECK(checked > 200);
}

// `input | word,word,...` with `ENV K=V` lines that add to the environment.
TEST_CASE("BuildKit shell/wordsTest") {
    Env env;
    std::istringstream in(slurp(buildkit_dir() / "shell" / "wordsTest"));
    std::string line;
    int checked = 0;
    Expander ex('\\');
    while (std::getline(in, line)) {
        if (line.rfind("#", 0) == 0) continue;
        if (line.rfind("ENV ", 0) == 0) {
            std::string kv = line.substr(3);
            kv.erase(0, kv.find_first_not_of(' '));
            auto eq = kv.find('=');
            env.set(kv.substr(0, eq), kv.substr(eq + 1));
            continue;
        }
        auto bar = line.find('|');
        REQUIRE(bar != std::string::npos);
        std::string source = trim(line.substr(0, bar));
        std::string rest = line.substr(bar + 1);
        rest.erase(0, rest.find_first_not_of(' '));
        std::vector<std::string> expected;
        std::stringstream rs(rest);
        std::string w;
        while (std::getline(rs, w, ',')) expected.push_back(w);
        if (!rest.empty() && rest.back() == ',') expected.emplace_back();
        CAPTURE(source);
        std::vector<std::string> got;
        try {
            got = ex.expand_words(source, env);
        } catch (const ExpandError&) {
            got = {"error"};
        }
        CHECK(got == expected);
        ++checked;
    }
    CHECK(checked >= 24);
}
