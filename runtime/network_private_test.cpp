// The private network's resolv.conf (the helper itself is tested end to end in
// tests/integration/network.sh: it needs root and a real network namespace).
#include "runtime/network_private.h"

#include <doctest/doctest.h>

using namespace imgbuild::runtime;

TEST_CASE("private_resolv_conf: nameserver 10.0.2.3, the host's search and options kept") {
    CHECK(private_resolv_conf("# a comment\nsearch example.org\nnameserver 127.0.0.53\noptions edns0 trust-ad\n") ==
          "search example.org\noptions edns0 trust-ad\nnameserver 10.0.2.3\n");
    CHECK(private_resolv_conf("") == "nameserver 10.0.2.3\n");
    CHECK(private_resolv_conf("nameserver 10.255.255.53\nnameserver 1.1.1.1") == "nameserver 10.0.2.3\n");
}
