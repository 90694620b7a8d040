// default_seccomp_program: the build's copy when it was made by this libseccomp for this
// architecture (the same rules compile to the same program), else a compile now.
#include <seccomp.h>

#include "runtime/seccomp.h"
#include "runtime/seccomp_prebuilt.h"

namespace imgbuild::runtime {
namespace {

bool prebuilt_applies() {
    const PrebuiltSeccomp& p = kPrebuiltSeccomp;
    if (p.size == 0 || p.arch != seccomp_arch_native()) return false;
    const scmp_version* v = seccomp_version();
    return v && v->major == p.libseccomp_major && v->minor == p.libseccomp_minor && v->micro == p.libseccomp_micro;
}

}  // namespace

const std::vector<sock_filter>& default_seccomp_program() {
    static const std::vector<sock_filter> program =
        prebuilt_applies() ? std::vector<sock_filter>(kPrebuiltSeccomp.program, kPrebuiltSeccomp.program + kPrebuiltSeccomp.size)
                           : compile_seccomp_program();
    return program;
}

}  // namespace imgbuild::runtime
