#include "builder/run_network.h"

#include <algorithm>

#include "common/error.h"

namespace imgbuild::builder {
namespace {

bool allowed(const BuildOptions& opts, std::string_view entitlement) {
    return std::find(opts.allow.begin(), opts.allow.end(), entitlement) != opts.allow.end();
}

std::string where(const parser::Instruction& instr, const std::string& filename) {
    return filename + ":" + std::to_string(instr.location.start_line) + ":" + std::to_string(instr.location.column);
}

}  // namespace

void check_entitlement(const std::string& name) {
    if (name == kEntitlementNetworkHost) return;
    if (name == "security.insecure")
        throw UsageError("--allow security.insecure: not supported by imgbuild (RUN steps always run with the "
                         "default capabilities, seccomp profile and masked paths)");
    throw UsageError("--allow " + name + ": unknown entitlement (network.host)");
}

void check_build_network(const BuildOptions& opts) {
    static constexpr std::string_view kModes[] = {"default", "none", "host"};
    if (std::find(std::begin(kModes), std::end(kModes), opts.network) == std::end(kModes))
        throw UsageError("--network " + opts.network + ": want default, none or host");
    if (opts.network == "host" && !allowed(opts, kEntitlementNetworkHost))
        throw UsageError("--network host needs --allow network.host");
    for (const auto& e : opts.allow) check_entitlement(e);
}

std::string run_network(const BuildOptions& opts, const parser::Run& run, const parser::Instruction& instr,
                        const std::string& filename) {
    if (run.security == "insecure")
        throw Error(where(instr, filename) +
                    ": RUN --security=insecure needs the security.insecure entitlement, which imgbuild does not support");
    if (run.network == "host") {
        if (opts.network == "none")
            throw Error(where(instr, filename) + ": RUN --network=host in a build with --network none");
        if (!allowed(opts, kEntitlementNetworkHost))
            throw Error(where(instr, filename) + ": RUN --network=host needs --allow network.host");
        return "host";
    }
    if (run.network == "none" || opts.network == "none") return "none";
    return opts.network == "host" ? "host" : "private";
}

void check_run_networks(const BuildOptions& opts, const parser::ParseResult& parsed, const std::vector<size_t>& stages) {
    for (size_t i : stages)
        for (const auto& instr : parsed.stages[i].instructions)
            if (const auto* run = instr.as<parser::Run>()) (void)run_network(opts, *run, instr, parsed.filename);
}

}  // namespace imgbuild::builder
