#include "common/cgroup_dir.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/log.h"

namespace imgbuild {

bool remove_cgroup_dir(const std::filesystem::path& dir) {
    // A few yields cover the usual window (microseconds); then 1 ms sleeps, up to ~100 ms.
    for (int attempt = 0; attempt < 200; ++attempt) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
        if (errno != EBUSY) break;
        if (attempt < 100) ::sched_yield();
        else ::usleep(1000);
    }
    int saved = errno;
    log::warn("rmdir " + dir.string() + ": " + describe_errno(saved));
    return false;
}

}  // namespace imgbuild
