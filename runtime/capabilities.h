#pragma once
// Capabilities: Docker's default set, applied with prctl/capset (no libcap).
#include <cstdint>
#include <string>
#include <vector>

namespace imgbuild::runtime {

// Docker's default capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE, ... CAP_AUDIT_WRITE).
[[nodiscard]] const std::vector<int>& default_capabilities();
// As a 64-bit mask (bit n = capability n), the value /proc/<pid>/status shows as CapEff.
[[nodiscard]] uint64_t default_capability_mask();
[[nodiscard]] std::string capability_name(int cap);

// The highest capability the kernel knows (/proc/sys/kernel/cap_last_cap). Read in the
// parent: after pivot_root the host's /proc is gone.
[[nodiscard]] int last_capability();

// Drops every capability outside `keep` from the bounding set and clears the ambient set.
// Needs CAP_SETPCAP; call before changing uid.
void drop_bounding_set(uint64_t keep, int last_cap);
// Sets effective = permitted = `keep`, inheritable = 0 (call as uid 0, after setuid to 0).
void set_capabilities(uint64_t keep);

}  // namespace imgbuild::runtime
