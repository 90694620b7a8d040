#include "runtime/fd_hygiene.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "common/error.h"

namespace imgbuild::runtime {

std::vector<std::pair<unsigned, unsigned>> fd_close_ranges(std::vector<int> keep) {
    keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 0; }), keep.end());
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    std::vector<std::pair<unsigned, unsigned>> out;
    unsigned next = 0;  // lowest fd not yet decided
    for (int fd : keep) {
        auto u = static_cast<unsigned>(fd);
        if (u > next) out.emplace_back(next, u - 1);
        next = u + 1;
    }
    out.emplace_back(next, ~0U);
    return out;
}

void close_fds_except(const std::vector<int>& keep) {
    for (const auto& [first, last] : fd_close_ranges(keep))
        if (::syscall(SYS_close_range, first, last, 0U) != 0)
            throw_errno("close_range", std::to_string(first) + ".." + std::to_string(last));
}

}  // namespace imgbuild::runtime
