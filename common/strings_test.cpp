#include <doctest/doctest.h>

#include "common/strings.h"

using namespace imgbuild;

namespace {
std::vector<std::string> fields(std::string_view s, char sep) {
    std::vector<std::string> out;
    for (auto f : split(s, sep)) out.emplace_back(f);
    return out;
}
}  // namespace

TEST_CASE("split keeps every field, empty ones included (Go's strings.Split)") {
    CHECK(fields("a:b:c", ':') == std::vector<std::string>{"a", "b", "c"});
    CHECK(fields("", ':') == std::vector<std::string>{""});
    CHECK(fields(":", ':') == std::vector<std::string>{"", ""});
    CHECK(fields("a,,b,", ',') == std::vector<std::string>{"a", "", "b", ""});
    CHECK(fields("no-separator", ',') == std::vector<std::string>{"no-separator"});
    std::string text = "x/y";
    auto views = split(text, '/');
    REQUIRE(views.size() == 2);
    CHECK(views[1].data() == text.data() + 2);  // views into the input, no copies
}

TEST_CASE("hex encodes lowercase and decodes either case") {
    CHECK(hex_encode(std::string_view("\x00\x01\xab\xff", 4)) == "0001abff");
    CHECK(hex_encode("") == "");
    std::string upper;
    append_hex(upper, 0x2f, true);
    CHECK(upper == "2F");
    CHECK(hex_decode("0001abff") == std::string("\x00\x01\xab\xff", 4));
    CHECK(hex_decode("ABff") == std::string("\xab\xff", 2));
    CHECK(hex_decode("") == std::string());
    CHECK_FALSE(hex_decode("abc").has_value());
    CHECK_FALSE(hex_decode("zz").has_value());
    CHECK_FALSE(hex_decode("0g").has_value());
    for (int b = 0; b < 256; ++b) {
        std::string one(1, static_cast<char>(b));
        CHECK(hex_decode(hex_encode(one)) == one);
    }
}
