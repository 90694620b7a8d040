#include <doctest/doctest.h>

#include "registry/www_authenticate.h"

using namespace imgbuild::registry;

TEST_CASE("a Bearer challenge as Docker Hub sends it") {
    auto ch = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].scheme == "bearer");
    CHECK(ch[0].param("realm") == "https://auth.docker.io/token");
    CHECK(ch[0].param("service") == "registry.docker.io");
    CHECK(ch[0].param("scope") == "repository:library/busybox:pull");
    CHECK(ch[0].param("missing").empty());
}

TEST_CASE("scopes with commas, escapes, spacing and case") {
    auto ch = parse_www_authenticate(
        R"(BEARER Realm = "http://127.0.0.1:1/token?x=1" , Service="a \"quoted\" svc",scope="repository:a:pull,push",error="insufficient_scope")");
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].scheme == "bearer");
    CHECK(ch[0].param("realm") == "http://127.0.0.1:1/token?x=1");
    CHECK(ch[0].param("service") == "a \"quoted\" svc");
    CHECK(ch[0].param("scope") == "repository:a:pull,push");
    CHECK(ch[0].param("error") == "insufficient_scope");
}

TEST_CASE("Basic, and several challenges in one header") {
    auto basic = parse_www_authenticate(R"(Basic realm="basic-realm")");
    REQUIRE(basic.size() == 1);
    CHECK(basic[0].scheme == "basic");
    CHECK(basic[0].param("realm") == "basic-realm");
    auto two = parse_www_authenticate(R"(Basic realm="r1", Bearer realm="https://t/token",service=reg)");
    REQUIRE(two.size() == 2);
    CHECK(two[0].scheme == "basic");
    CHECK(two[1].scheme == "bearer");
    CHECK(two[1].param("service") == "reg");  // a token value, unquoted
}

TEST_CASE("nothing understood gives nothing") {
    CHECK(parse_www_authenticate("").empty());
    CHECK(parse_www_authenticate("   ").empty());
    auto bare = parse_www_authenticate("Negotiate");
    REQUIRE(bare.size() == 1);
    CHECK(bare[0].params.empty());
}
