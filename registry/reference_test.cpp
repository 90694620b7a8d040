#include <doctest/doctest.h>

#include "registry/reference.h"

using namespace imgbuild::registry;

TEST_CASE("loopback registries (Docker's default insecure set)") {
    CHECK(is_loopback_registry("127.0.0.1:5000"));
    CHECK(is_loopback_registry("127.1.2.3"));
    CHECK(is_loopback_registry("localhost:5000"));
    CHECK(is_loopback_registry("[::1]:5000"));
    CHECK_FALSE(is_loopback_registry("128.0.0.1:5000"));
    CHECK_FALSE(is_loopback_registry("docker.io"));
    CHECK_FALSE(is_loopback_registry("127.0.0.1.example.com"));
    CHECK(api_host("docker.io") == "registry-1.docker.io");
    CHECK(api_host("quay.io") == "quay.io");
}
