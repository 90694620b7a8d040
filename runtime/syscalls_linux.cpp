#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/syscalls.h"

namespace imgbuild::runtime {
namespace {

int result(long rc) { return rc == 0 ? 0 : errno; }

class LinuxSyscalls final : public Syscalls {
public:
    int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
              const char* data) override {
        return result(::mount(source, target, fstype, flags, data));
    }
    int umount2(const char* target, int flags) override { return result(::umount2(target, flags)); }
    // glibc has no wrapper.
    int pivot_root(const char* new_root, const char* put_old) override {
        return result(::syscall(SYS_pivot_root, new_root, put_old));
    }
    int symlinkat(const char* link_text, int dirfd, const char* name) override {
        return result(::symlinkat(link_text, dirfd, name));
    }
    int chdir(const char* path) override { return result(::chdir(path)); }
    int fchdir(int fd) override { return result(::fchdir(fd)); }
    int fstatvfs(int fd, struct statvfs* out) override { return result(::fstatvfs(fd, out)); }
    int fstatfs(int fd, struct statfs* out) override { return result(::fstatfs(fd, out)); }
};

// Namespace scope, constant-initialized: no guard variable taken in the clone3 child.
LinuxSyscalls real_kernel;

}  // namespace

Syscalls& linux_syscalls() { return real_kernel; }

}  // namespace imgbuild::runtime
