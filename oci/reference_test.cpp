#include <doctest/doctest.h>

#include "common/error.h"
#include "oci/reference.h"

using namespace imgbuild;
using namespace imgbuild::oci;

namespace {
const std::string kHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
}

TEST_CASE("Docker's normalisation: docker.io, library/, latest") {
    struct Case {
        const char* in;
        const char* registry;
        const char* repository;
        const char* tag;
        const char* local;
    };
    const Case cases[] = {
        {"busybox", "docker.io", "library/busybox", "latest", "busybox:latest"},
        {"busybox:1.36", "docker.io", "library/busybox", "1.36", "busybox:1.36"},
        {"me/app", "docker.io", "me/app", "latest", "me/app:latest"},
        {"docker.io/library/debian:bookworm", "docker.io", "library/debian", "bookworm", "debian:bookworm"},
        {"index.docker.io/me/app:v1", "docker.io", "me/app", "v1", "me/app:v1"},
        {"127.0.0.1:5000/app:v1", "127.0.0.1:5000", "app", "v1", "127.0.0.1:5000/app:v1"},
        {"localhost/app", "localhost", "app", "latest", "localhost/app:latest"},
        {"quay.io/org/sub/app:1.0-rc_2", "quay.io", "org/sub/app", "1.0-rc_2", "quay.io/org/sub/app:1.0-rc_2"},
        {"[::1]:5000/a__b/c-d.e:T", "[::1]:5000", "a__b/c-d.e", "T", "[::1]:5000/a__b/c-d.e:T"},
        {"geektime/helloworld:v1", "docker.io", "geektime/helloworld", "v1", "geektime/helloworld:v1"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        Reference r = parse_reference(c.in);
        CHECK(r.registry == c.registry);
        CHECK(r.repository == c.repository);
        CHECK(r.tag == c.tag);
        CHECK_FALSE(r.digest);
        CHECK(r.local_name() == c.local);
    }
    CHECK(parse_reference("busybox").str() == "docker.io/library/busybox:latest");
}

TEST_CASE("digests pin a reference") {
    Reference r = parse_reference("busybox@sha256:" + kHex);
    CHECK(r.tag.empty());
    REQUIRE(r.digest);
    CHECK(r.digest->hex() == kHex);
    CHECK(r.manifest_ref() == "sha256:" + kHex);
    CHECK(r.local_name() == "busybox@sha256:" + kHex);
    Reference both = parse_reference("127.0.0.1:5000/app:v1@sha256:" + kHex);
    CHECK(both.tag == "v1");
    CHECK(both.manifest_ref() == "sha256:" + kHex);  // the digest wins
}

TEST_CASE("a 64-hex name is refused alone, as Docker does, and taken with a tag or a path") {
    CHECK_THROWS_WITH_AS((void)parse_reference(kHex), doctest::Contains("64-character hex"), UsageError);
    // reference_fuzz's find: "library/<64 hex>:t" parsed, its local name "<64 hex>:t" did not.
    Reference hub = parse_reference("library/" + kHex + ":_1fd");
    CHECK(hub.local_name() == kHex + ":_1fd");
    CHECK(parse_reference(hub.local_name()).repository == "library/" + kHex);
    CHECK(parse_reference(kHex + "@sha256:" + kHex).digest->hex() == kHex);
    CHECK(parse_reference("me/" + kHex).local_name() == "me/" + kHex + ":latest");
}

TEST_CASE("control bytes in a refused reference are shown escaped") {
    CHECK_THROWS_WITH_AS((void)parse_reference(std::string("bu\0sy", 5)),
                         "invalid reference \"bu\\x00sy\": path component \"bu\\x00sy\": use a-z 0-9 separated by . _ __ or -",
                         UsageError);
    CHECK_THROWS_WITH_AS((void)parse_reference("busybox:1\n"), doctest::Contains("\"busybox:1\\x0a\": tag"), UsageError);
}

TEST_CASE("invalid references name themselves and say why") {
    struct Case {
        std::string in;
        const char* why;
    };
    const Case cases[] = {
        {"", "empty"},
        {"Busybox", "lowercase"},
        {"127.0.0.1:5000/App:v1", "lowercase"},
        {"busybox:", "tag \"\""},
        {"busybox:-x", "tag \"-x\""},
        {"busybox:" + std::string(129, 'a'), "tag"},
        {"busybox@sha256:abc", "digest"},
        {"busybox@md5:" + kHex, "digest"},
        {"a//b", "empty path component"},
        {"a/-b", "path component \"-b\""},
        {"a..b", "path component"},
        {"host:port/app", "registry \"host:port\""},
        {":5000/app", "registry"},
        {"/app", "empty path component"},
        {"a:b:c", "path component \"a:b\""},
        {"a@sha256:abcd", "digest \"sha256:abcd\""},
        {"q@ SPACE/../X", "digest \" SPACE/../X\""},
        {"a/../x", "path component \"..\""},
        {"a..b.com/x", "registry \"a..b.com\""},
        {"a.-b.com:5000/x", "registry"},
        {"ex ample.com/x", "registry"},
        {kHex, "64-character hex"},
        {std::string(250, 'a') + "/" + std::string(10, 'b'), "longer than 255"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        try {
            (void)parse_reference(c.in);
            FAIL("accepted");
        } catch (const UsageError& e) {
            std::string msg = e.what();
            CHECK(msg.rfind("invalid reference \"" + c.in + "\": ", 0) == 0);
            CHECK(msg.find(c.why) != std::string::npos);
        }
    }
}

