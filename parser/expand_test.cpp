// The expansion engine, as a table: input, environment, expected output (or an error).
#include <doctest/doctest.h>

#include "parser/expand.h"

using namespace imgbuild::parser;

namespace {

struct Row {
    const char* input;
    const char* expected;  // nullptr: must fail
};

Env test_env() {
    Env env;
    env.set("V", "value");
    env.set("EMPTY", "");
    env.set("PATHV", "/usr/local/bin/tool.tar.gz");
    env.set("SPACED", "a  b c");
    env.set("U", "\xED\x95\x9C\xEA\xB5\xAD");  // two Hangul syllables
    return env;
}

}  // namespace

TEST_CASE("expand_word: the substitution forms") {
    const Row rows[] = {
        {"$V", "value"},
        {"${V}", "value"},
        {"x${V}y", "xvaluey"},
        {"$UNSET", ""},
        {"${UNSET:-w}", "w"},
        {"${EMPTY:-w}", "w"},
        {"${V:-w}", "value"},
        {"${UNSET-w}", "w"},
        {"${EMPTY-w}", ""},
        {"${V-w}", "value"},
        {"${V:+w}", "w"},
        {"${EMPTY:+w}", ""},
        {"${UNSET:+w}", ""},
        {"${V+w}", "w"},
        {"${EMPTY+w}", "w"},
        {"${UNSET+w}", ""},
        {"${UNSET:-$V}", "value"},
        {"${UNSET:-${EMPTY:-deep}}", "deep"},
        {"${PATHV#*/}", "usr/local/bin/tool.tar.gz"},
        {"${PATHV##*/}", "tool.tar.gz"},
        {"${PATHV%.*}", "/usr/local/bin/tool.tar"},
        {"${PATHV%%.*}", "/usr/local/bin/tool"},
        {"${PATHV#/usr}", "/local/bin/tool.tar.gz"},
        {"${PATHV%nomatch}", "/usr/local/bin/tool.tar.gz"},
        {"${V/a/A}", "vAlue"},
        {"${V//[aeu]/_}", "v_l__"},
        {"${V/l?e/LUE}", "vaLUE"},
        {"${V/x/y}", "value"},
        {"${V/#v/V}", "value"},  // no anchors: '#' is an ordinary pattern character here
        {"${U#?}", "\xEA\xB5\xAD"},  // '?' is one character, not one byte
        {"${V?}", "value"},
        {"${UNSET?}", nullptr},
        {"${UNSET?custom message}", nullptr},
        {"${EMPTY:?}", nullptr},
        {"${V:?}", "value"},
        {"${V:=x}", nullptr},
        {"${V", nullptr},
        {"${}", nullptr},
        {"${V:-unterminated", nullptr},
        {"\\$V", "$V"},
        {"\\${V}", "${V}"},
        {"'$V'", "$V"},
        {"'${V'", "${V"},
        {"\"$V\"", "value"},
        {"\"\\$V\"", "$V"},
        {"\"a\\tb\"", "a\\tb"},
        {"a\\ b", "a b"},
        {"'unterminated", nullptr},
        {"\"unterminated", nullptr},
        {"$", "$"},
        {"$.", "$."},
        {"$1", ""},
        {"${1:-one}", "one"},
        {"$$", ""},
    };
    Env env = test_env();
    Expander ex;
    for (const auto& row : rows) {
        CAPTURE(row.input);
        if (row.expected == nullptr) {
            CHECK_THROWS_AS((void)ex.expand_word(row.input, env), ExpandError);
        } else {
            CHECK(ex.expand_word(row.input, env) == row.expected);
        }
    }
}

TEST_CASE("expand_word with the backtick escape token") {
    Env env = test_env();
    Expander ex('`');
    CHECK(ex.expand_word("`$V", env) == "$V");
    CHECK(ex.expand_word("C:\\dir\\$V", env) == "C:\\dir\\value");
    CHECK(ex.expand_word("\"a`\"b\"", env) == "a\"b");
}

TEST_CASE("expand_words splits unquoted values into fields") {
    Env env = test_env();
    Expander ex;
    CHECK(ex.expand_words("80 443/tcp", env) == std::vector<std::string>{"80", "443/tcp"});
    CHECK(ex.expand_words("x$SPACED", env) == std::vector<std::string>{"xa", "b", "c"});
    CHECK(ex.expand_words("\"$SPACED\"", env) == std::vector<std::string>{"a  b c"});
    CHECK(ex.expand_words("a\\ b c", env) == std::vector<std::string>{"a b", "c"});
    CHECK(ex.expand_words("", env).empty());
}

TEST_CASE("expand_raw keeps quotes but expands variables (heredoc bodies)") {
    Env env = test_env();
    Expander ex;
    CHECK(ex.expand_raw("echo \"$V\" '$V'\n", env) == "echo \"value\" 'value'\n");
    CHECK(ex.expand_raw("\\$V", env) == "$V");
}

TEST_CASE("check_syntax rejects only malformed words") {
    Expander ex;
    CHECK_NOTHROW(ex.check_syntax("${ANY:?must be set} $X ${Y#p}"));
    CHECK_THROWS_AS(ex.check_syntax("\"open"), ExpandError);
    try {
        ex.check_syntax("abc ${x");
        FAIL("expected an error");
    } catch (const ExpandError& e) {
        CHECK(e.offset() == 4);  // the error points at the "${"
    }
}

TEST_CASE("glob_match") {
    CHECK(glob_match("*.go", "main.go"));
    CHECK_FALSE(glob_match("*.go", "main.c"));
    CHECK(glob_match("[a-c]?", "b1"));
    CHECK(glob_match("[!a-c]*", "zz"));
    CHECK(glob_match("\\*", "*"));
    CHECK_FALSE(glob_match("\\*", "x"));
    CHECK(glob_match("a*b*c", "aXXbYYc"));
    CHECK(glob_match("", ""));
}

TEST_CASE("Env keeps order and replaces in place") {
    Env env = Env::from_list({"A=1", "B=2", "EMPTY"});
    env.set("A", "3");
    CHECK(env.to_list() == std::vector<std::string>{"A=3", "B=2", "EMPTY="});
    REQUIRE(env.find("EMPTY") != nullptr);
    CHECK(env.find("EMPTY")->empty());
    CHECK(env.find("NONE") == nullptr);
}
