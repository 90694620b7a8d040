#include "runtime/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
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

// Address families a container may not open: AF_VSOCK shares the host's vsock port space
// even under --network none, AF_ALG is the kernel crypto API (moby denies both).
constexpr int kDeniedFamilies[] = {AF_VSOCK, AF_ALG};

using Ctx = std::unique_ptr<void, CtxDeleter>;

// Reads what libseccomp exports to an fd (it writes to fds only) through a memfd.
std::string export_to_string(const std::function<int(int)>& exporter, const char* what) {
    int raw = ::memfd_create(what, MFD_CLOEXEC);
    if (raw < 0) throw_errno("memfd_create", what);
    unique_fd fd(raw);
    check(exporter(fd.get()), std::string("export ") + what);
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size < 0) throw_errno("lseek", what);
    std::string out(static_cast<size_t>(size), '\0');
    if (::pread(fd.get(), out.data(), out.size(), 0) != size) throw_errno("pread", what);
    return out;
}

Ctx build_filter() {
    Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) throw Error("seccomp_init failed");
    // A binary tree over the syscall numbers, not a linear chain: the kernel runs the filter
    // once per syscall number and ABI when it is installed (its allow-cache bitmap), so the
    // chain's length was paid ~1300 times at every container start (0.30 -> 0.09 ms here),
    // and again by every denied or uncached syscall the container makes.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE)");
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
    // On the i386 ABI libseccomp also adds socketcall(SYS_SOCKET): its arguments sit in
    // user memory that BPF cannot read, so that path is denied whatever the family (a
    // 32-bit x86 program must use the socket syscall, Linux >= 4.3, to create sockets).
    int socket_nr = seccomp_syscall_resolve_name("socket");
    for (int family : kDeniedFamilies)
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EAFNOSUPPORT), socket_nr, 1,
                               SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))),
              "rule for socket");
    return ctx;
}

}  // namespace

std::vector<sock_filter> compile_seccomp_program() {
    Ctx ctx = build_filter();
    std::string bytes = export_to_string([&](int fd) { return seccomp_export_bpf(ctx.get(), fd); }, "seccomp-bpf");
    if (bytes.size() % sizeof(sock_filter) != 0) throw Error("seccomp: bad exported program size");
    std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
    std::memcpy(program.data(), bytes.data(), bytes.size());
    return program;
}

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

std::string describe_seccomp_filter() {
    Ctx ctx = build_filter();
    return export_to_string([&](int fd) { return seccomp_export_pfc(ctx.get(), fd); }, "seccomp-pfc");
}

void install_seccomp(const std::vector<sock_filter>& program) {
    sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) throw_errno("prctl(PR_SET_SECCOMP)", "");
}

}  // namespace imgbuild::runtime
