#pragma once
// Test cases that need root (or another prerequisite of the host): decorate them so that
// doctest counts them as skipped, never as passed, and say why on stderr when the binary
// starts:   TEST_CASE("mount overlay" * root_only("mount overlay")) { ... }
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>

namespace imgbuild::testing {

inline doctest::skip skip_unless(bool ok, const char* test, const char* why) {
    if (!ok) std::fprintf(stderr, "skipped: %s: %s\n", test, why);
    return doctest::skip(!ok);
}

inline doctest::skip root_only(const char* test) { return skip_unless(::geteuid() == 0, test, "needs root"); }

}  // namespace imgbuild::testing

// A test case that runs only as root (skipped, with a "skipped: NAME: needs root" line, otherwise).
#define ROOT_TEST_CASE(name) TEST_CASE(name * ::imgbuild::testing::root_only(name))
