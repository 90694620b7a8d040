#include "runtime/user_namespace.h"

#include <doctest/doctest.h>

using namespace imgbuild::runtime;

TEST_CASE("subid ranges: by name or uid, comments and bad lines skipped, in file order") {
    std::string text = "# comment\nother:1:2\nbuilder:100000:65536\nbad line\n1001:200000:10\nbuilder:x:1\nbuilder:5:0\n";
    auto r = parse_subid_ranges(text, "builder", 1001);
    REQUIRE(r.size() == 2);
    CHECK(r[0].start == 100000);
    CHECK(r[0].count == 65536);
    CHECK(r[1].start == 200000);
    CHECK(r[1].count == 10);
    CHECK(parse_subid_ranges(text, "nobody", 4242).empty());
}

TEST_CASE("rootless id map: root is the user, then the ranges back to back") {
    auto m = rootless_id_map(1001, {{100000, 65536}, {200000, 10}});
    REQUIRE(m.size() == 3);
    CHECK(m[0].container_id == 0);
    CHECK(m[0].host_id == 1001);
    CHECK(m[0].count == 1);
    CHECK(m[1].container_id == 1);
    CHECK(m[1].host_id == 100000);
    CHECK(m[2].container_id == 65537);
    CHECK(m[2].host_id == 200000);
    CHECK(rootless_id_map(5, {}).size() == 1);
}
