#include <doctest/doctest.h>

#include "common/digest.h"
#include "common/error.h"

using namespace imgbuild;

TEST_CASE("sha256 of known inputs") {
    CHECK(Digest::of("").str() == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(Digest::of("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("streaming equals one-shot") {
    Sha256 h;
    h.update("a");
    h.update("bc");
    CHECK(h.bytes() == 3);
    CHECK(h.finish() == Digest::of("abc"));
}

TEST_CASE("malformed digests are rejected before any path is built") {
    const char* bad[] = {"sha256:../x", "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                         "sha256:abc", "md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "",
                         "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/"};
    for (const char* b : bad) {
        CAPTURE(b);
        CHECK_FALSE(Digest::try_parse(b).has_value());
        CHECK_THROWS_AS(Digest::parse(b), UsageError);
    }
    CHECK(Digest::parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == Digest::of("abc"));
}
