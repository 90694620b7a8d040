#pragma once
// The seccomp program compiled when imgbuild was built (seccomp_gen/ writes the definition
// into the build tree), with what it was compiled by and for.
#include <linux/filter.h>

#include <cstddef>
#include <cstdint>

namespace imgbuild::runtime {

struct PrebuiltSeccomp {
    unsigned libseccomp_major, libseccomp_minor, libseccomp_micro;
    uint32_t arch;                // seccomp_arch_native() at build time (0: none was made)
    const sock_filter* program;
    size_t size;                  // instructions
};

extern const PrebuiltSeccomp kPrebuiltSeccomp;

}  // namespace imgbuild::runtime
