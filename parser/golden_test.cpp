// Golden data: tests/parser/testfiles/<case>/{Dockerfile,expected.json} and
// tests/parser/testfiles-negative/<case>/{Dockerfile,error}. A case may also hold
// `build-args` (KEY=VALUE lines) and `target` (a stage name).
//
// IMGBUILD_UPDATE_GOLDEN=1 rewrites expected.json from the current output. Every rewritten
// file must then be checked by hand against Docker's semantics before it is committed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "parser/dockerfile.h"
#include "parser/test_support.h"
#include "parser/json_dump.h"

namespace fs = std::filesystem;
using namespace imgbuild::parser;
using namespace imgbuild::parser::testing;

namespace {

fs::path data_dir() { return fs::path(IMGBUILD_SOURCE_DIR) / "tests" / "parser"; }

// Runs a case the way `imgbuild parse` does.
nlohmann::json run_case(const fs::path& dir) {
    BuildArgs args;
    if (fs::exists(dir / "build-args")) {
        std::istringstream in(slurp(dir / "build-args"));
        std::string line;
        while (std::getline(in, line)) {
            if (trim(line).empty()) continue;
            auto eq = line.find('=');
            args[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
        }
    }
    std::optional<std::string> target;
    if (fs::exists(dir / "target")) target = trim(slurp(dir / "target"));
    ParseResult r = parse_dockerfile(slurp(dir / "Dockerfile"), "Dockerfile", args);
    return to_json(r, target);
}

}  // namespace

TEST_CASE("golden: tests/parser/testfiles") {
    bool update = std::getenv("IMGBUILD_UPDATE_GOLDEN") != nullptr;
    auto dirs = case_dirs(data_dir() / "testfiles");
    CHECK(dirs.size() >= 40);
    for (const auto& dir : dirs) {
        std::string name = dir.filename().string();
        CAPTURE(name);
        nlohmann::json got;
        try {
            got = run_case(dir);
        } catch (const std::exception& e) {
            FAIL_CHECK("unexpected error: " << e.what());
            continue;
        }
        if (update) {
            std::ofstream(dir / "expected.json") << got.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
            continue;
        }
        REQUIRE_MESSAGE(fs::exists(dir / "expected.json"), "missing expected.json");
        nlohmann::json want = nlohmann::json::parse(slurp(dir / "expected.json"));
        if (got != want) {
            FAIL_CHECK("output differs; diff (RFC 6902, expected -> got):\n" << nlohmann::json::diff(want, got).dump(2));
        }
    }
}

TEST_CASE("golden: tests/parser/testfiles-negative") {
    auto dirs = case_dirs(data_dir() / "testfiles-negative");
    CHECK(dirs.size() >= 15);
    for (const auto& dir : dirs) {
        std::string name = dir.filename().string();
        CAPTURE(name);
        std::string want = trim(slurp(dir / "error"));
        REQUIRE_FALSE(want.empty());
        try {
            (void)run_case(dir);
            FAIL_CHECK("expected an error containing: " << want);
        } catch (const ParseError& e) {
            std::string what = e.what();
            CAPTURE(what);
            CHECK(what.find(want) != std::string::npos);
            CHECK(what.rfind("Dockerfile:", 0) == 0);  // every parse error names the file
        } catch (const imgbuild::Error& e) {
            std::string what = e.what();
            CAPTURE(what);
            CHECK(what.find(want) != std::string::npos);
        }
    }
}
