// Which network a RUN gets, and the network.host entitlement (BuildKit's rules).
#include "builder/run_network.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace imgbuild;
using namespace imgbuild::builder;

namespace {

BuildOptions options(const std::string& network, std::vector<std::string> allow = {}) {
    BuildOptions o;
    o.network = network;
    o.allow = std::move(allow);
    return o;
}

// The network of the RUN on line 2 (or the error it raises).
std::string network_of(const BuildOptions& opts, const std::string& run_line) {
    auto parsed = parser::parse_dockerfile("FROM scratch\n" + run_line + "\n", "Dockerfile", parser::ParseOptions{});
    const auto& instr = parsed.stages.at(0).instructions.at(0);
    try {
        return run_network(opts, *instr.as<parser::Run>(), instr, parsed.filename);
    } catch (const Error& e) {
        return std::string("error: ") + e.what();
    }
}

}  // namespace

TEST_CASE("run_network: the default build network gives RUN the private network") {
    CHECK(network_of(options("default"), "RUN true") == "private");
    CHECK(network_of(options("default"), "RUN --network=default true") == "private");
    CHECK(network_of(options("default"), "RUN --network=none true") == "none");
}

TEST_CASE("run_network: RUN --network=host needs --allow network.host") {
    CHECK(network_of(options("default"), "RUN --network=host true") ==
          "error: Dockerfile:2:1: RUN --network=host needs --allow network.host");
    CHECK(network_of(options("default", {"network.host"}), "RUN --network=host true") == "host");
}

TEST_CASE("run_network: build --network none wins over every RUN") {
    CHECK(network_of(options("none", {"network.host"}), "RUN true") == "none");
    CHECK(network_of(options("none", {"network.host"}), "RUN --network=default true") == "none");
    CHECK(network_of(options("none", {"network.host"}), "RUN --network=host true") ==
          "error: Dockerfile:2:1: RUN --network=host in a build with --network none");
}

TEST_CASE("run_network: build --network host gives RUN the host network, RUN --network=none still none") {
    CHECK(network_of(options("host", {"network.host"}), "RUN true") == "host");
    CHECK(network_of(options("host", {"network.host"}), "RUN --network=none true") == "none");
}

TEST_CASE("run_network: RUN --security=insecure is refused with its line") {
    CHECK(network_of(options("default"), "RUN --security=insecure true").rfind("error: Dockerfile:2:1: RUN --security=insecure", 0) ==
          0);
    CHECK(network_of(options("default"), "RUN --security=sandbox true") == "private");
}

TEST_CASE("check_build_network: entitlements and modes") {
    CHECK_NOTHROW(check_build_network(options("default")));
    CHECK_NOTHROW(check_build_network(options("none")));
    CHECK_THROWS_AS(check_build_network(options("host")), UsageError);
    CHECK_NOTHROW(check_build_network(options("host", {"network.host"})));
    CHECK_THROWS_AS(check_build_network(options("bridge")), UsageError);
    CHECK_THROWS_AS(check_build_network(options("default", {"security.insecure"})), UsageError);
    CHECK_THROWS_AS(check_build_network(options("default", {"network.bridge"})), UsageError);
}
