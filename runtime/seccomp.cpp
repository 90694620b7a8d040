#include "runtime/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/error.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace imgbuild::runtime {
namespace {

// Namespace flags that clone(2) may not carry (CLONE_NEWTIME overlaps CSIGNAL there).
constexpr unsigned long kNamespaceFlags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

// Extra ABIs of the native architecture: without them their syscalls would hit the
// filter's bad-arch action (kill) and 32-bit programs could not run at all.
struct ArchSet {
    uint32_t native;
    std::vector<uint32_t> compat;
};

ArchSet arches() {
    uint32_t native = seccomp_arch_native();
    if (native == SCMP_ARCH_X86_64) return {native, {SCMP_ARCH_X86, SCMP_ARCH_X32}};
    if (native == SCMP_ARCH_AARCH64) return {native, {SCMP_ARCH_ARM}};
    return {native, {}};
}

struct CtxDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};

void check(int rc, const std::string& what) {
    if (rc < 0) throw_errno(-rc, "seccomp: " + what, "");
}

std::vector<sock_filter> compile() {
    std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) throw Error("seccomp_init failed");
    for (uint32_t arch : arches().compat) {
        int rc = seccomp_arch_add(ctx.get(), arch);
        if (rc < 0 && rc != -EEXIST) check(rc, "seccomp_arch_add");
    }
    for (const auto& name : denied_syscalls()) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp
        // A syscall missing on one ABI (vm86 on x86_64) is not an error.
        (void)seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    if (int nr = seccomp_syscall_resolve_name("clone3"); nr != __NR_SCMP_ERROR)
        (void)seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    int clone_nr = seccomp_syscall_resolve_name("clone");
    for (unsigned long flag : kNamespaceFlags)
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), clone_nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
              "rule for clone");

    // libseccomp 2.5 exports to an fd only: go through a memfd.
    int raw = ::memfd_create("seccomp-bpf", MFD_CLOEXEC);
    if (raw < 0) throw_errno("memfd_create", "seccomp-bpf");
    unique_fd fd(raw);
    check(seccomp_export_bpf(ctx.get(), fd.get()), "export bpf");
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size < 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) throw Error("seccomp: bad exported program size");
    std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(fd.get(), program.data(), static_cast<size_t>(size), 0) != size) throw_errno("pread", "seccomp-bpf memfd");
    return program;
}

}  // namespace

const std::vector<std::string>& denied_syscalls() {
    static const std::vector<std::string> names = {
        // filesystems and mounts
        "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
        "fspick", "mount_setattr", "name_to_handle_at", "open_by_handle_at", "quotactl", "quotactl_fd", "nfsservctl",
        "swapon", "swapoff", "sysfs", "_sysctl", "ustat", "uselib",
        // namespaces
        "unshare", "setns",
        // kernel, modules, boot
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "query_module", "get_kernel_syms", "reboot", "acct", "syslog", "lookup_dcookie",
        // kernel interfaces that widen the attack surface
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "fanotify_init",
        // keyrings (not namespaced)
        "keyctl", "add_key", "request_key",
        // other processes' memory
        "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
        // clock and hardware
        "settimeofday", "stime", "clock_settime", "clock_adjtime", "ioperm", "iopl", "vm86", "vm86old",
    };
    return names;
}

const std::vector<sock_filter>& default_seccomp_program() {
    static const std::vector<sock_filter> program = compile();
    return program;
}

void install_seccomp(const std::vector<sock_filter>& program) {
    sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) throw_errno("prctl(PR_SET_SECCOMP)", "");
}

}  // namespace imgbuild::runtime
