// The private network's resolv.conf (the helper itself is tested end to end in
// tests/integration/network.sh: it needs root and a real network namespace).
#include "runtime/network_private.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace imgbuild::runtime;

TEST_CASE("private_resolv_conf: nameserver 10.0.2.3, the host's search and options kept") {
    CHECK(private_resolv_conf("# a comment\nsearch example.org\nnameserver 127.0.0.53\noptions edns0 trust-ad\n") ==
          "search example.org\noptions edns0 trust-ad\nnameserver 10.0.2.3\n");
    CHECK(private_resolv_conf("") == "nameserver 10.0.2.3\n");
    CHECK(private_resolv_conf("nameserver 10.255.255.53\nnameserver 1.1.1.1") == "nameserver 10.0.2.3\n");
}

TEST_CASE("resolve_run_network: the default falls back to none, an explicit private is refused") {
    CHECK(resolve_run_network("", "") == NetworkMode::private_);
    CHECK(resolve_run_network("private", "") == NetworkMode::private_);
    CHECK(resolve_run_network("", "/dev/net/tun: EACCES") == NetworkMode::none);
    CHECK(resolve_run_network("none", "/dev/net/tun: EACCES") == NetworkMode::none);
    CHECK(resolve_run_network("host", "/dev/net/tun: EACCES") == NetworkMode::host);
    CHECK_THROWS_WITH_AS((void)resolve_run_network("private", "/dev/net/tun: EACCES"),
                         doctest::Contains("--network private: /dev/net/tun: EACCES"), imgbuild::UsageError);
    CHECK_THROWS_AS((void)resolve_run_network("bridge", ""), imgbuild::UsageError);
}
