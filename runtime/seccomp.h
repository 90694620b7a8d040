#pragma once
// The seccomp filter: everything Docker's default profile denies to a container without
// CAP_SYS_ADMIN (mount, pivot_root, unshare/setns, clone with namespace flags, kexec,
// module loading, bpf, keyctl, open_by_handle_at, ...) fails with EPERM; clone3 fails with
// ENOSYS (its flags live in memory that a filter cannot read; libc falls back to clone);
// socket(AF_VSOCK) and socket(AF_ALG) fail with EAFNOSUPPORT (i386: socketcall(SYS_SOCKET)).
//
// The BPF program is compiled by libseccomp when imgbuild is built (seccomp_gen/, run by
// the build: ~0.7 ms that every `run` paid), and compiled at run time instead only when the
// libseccomp or the architecture at hand is not the one it was made with; each container
// then only installs it (one prctl).
#include <linux/filter.h>

#include <string>
#include <vector>

namespace imgbuild::runtime {

// Syscall names the filter denies outright (unit tests, docs).
[[nodiscard]] const std::vector<std::string>& denied_syscalls();

// The compiled filter for the native architecture (and its 32-bit compat ABIs).
[[nodiscard]] const std::vector<sock_filter>& default_seccomp_program();

// The filter compiled anew by libseccomp (the build's generator, tests, a mismatch above).
[[nodiscard]] std::vector<sock_filter> compile_seccomp_program();

// libseccomp's pseudo-code for the filter, for tests and debugging (compiled anew).
[[nodiscard]] std::string describe_seccomp_filter();

// Installs `program` in the calling thread (no_new_privs must be set already).
void install_seccomp(const std::vector<sock_filter>& program);

}  // namespace imgbuild::runtime
