#include <doctest/doctest.h>
#include <seccomp.h>

#include <cstring>

#include "runtime/seccomp.h"
#include "runtime/seccomp_prebuilt.h"

using namespace imgbuild::runtime;

namespace {
bool same(const std::vector<sock_filter>& a, const sock_filter* b, size_t n) {
    return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n * sizeof(sock_filter)) == 0);
}
}  // namespace

TEST_CASE("seccomp: the program made at build time is the one libseccomp compiles here, and is used") {
    auto compiled = compile_seccomp_program();
    REQUIRE(!compiled.empty());
    CHECK(same(default_seccomp_program(), compiled.data(), compiled.size()));
    const PrebuiltSeccomp& p = kPrebuiltSeccomp;
    REQUIRE_MESSAGE(p.size > 0, "the build made no prebuilt program (cross-compiled?)");
    CHECK(p.arch == seccomp_arch_native());
    const scmp_version* v = seccomp_version();
    CHECK(v->major == p.libseccomp_major);
    CHECK(v->minor == p.libseccomp_minor);
    CHECK(v->micro == p.libseccomp_micro);
    CHECK(same(compiled, p.program, p.size));
    CHECK(default_seccomp_program().data() != p.program);  // a copy, the static array stays read-only
}
