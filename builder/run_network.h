#pragma once
// Which network a RUN step gets (DESIGN.md §1; BuildKit's rules):
// - `build --network default` (the default) gives RUN steps the private network (a new
//   network namespace with outbound access, runtime/network_private.h); `none` forces
//   none on every RUN; `host` needs the network.host entitlement.
// - `RUN --network=default` takes the build's network, `RUN --network=none` gets none, and
//   `RUN --network=host` needs `--allow network.host` and a build network other than none.
// Entitlements are BuildKit's names: network.host is supported; security.insecure is
// refused (no RUN --security=insecure here).
#include <set>
#include <string>
#include <string_view>

#include "builder/build_options.h"
#include "parser/dockerfile.h"

namespace imgbuild::builder {

inline constexpr std::string_view kEntitlementNetworkHost = "network.host";

// Checks one --allow value; throws UsageError for an unknown or unsupported entitlement.
void check_entitlement(const std::string& name);

// Checks --network of the build against the entitlements; throws UsageError.
void check_build_network(const BuildOptions& opts);

// The runtime network mode name ("private", "none", "host") of a RUN step. Throws Error
// "<file>:<line>:<col>: RUN --network=host needs --allow network.host" and the like.
[[nodiscard]] std::string run_network(const BuildOptions& opts, const parser::Run& run,
                                      const parser::Instruction& instr, const std::string& filename);

// Checks every RUN of the stages to build before any step runs, so that a refused
// network fails the build at once.
void check_run_networks(const BuildOptions& opts, const parser::ParseResult& parsed,
                        const std::vector<size_t>& stages);

}  // namespace imgbuild::builder
