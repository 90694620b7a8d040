#include "runtime/fd_hygiene.h"

#include <doctest/doctest.h>

using imgbuild::runtime::fd_close_ranges;
using Ranges = std::vector<std::pair<unsigned, unsigned>>;

TEST_CASE("fd_close_ranges closes the gaps between kept fds") {
    CHECK(fd_close_ranges({0, 1, 2}) == Ranges{{3, ~0U}});
    CHECK(fd_close_ranges({}) == Ranges{{0, ~0U}});
    CHECK(fd_close_ranges({9, 2, 0, 1, 5, 5, -1}) == Ranges{{3, 4}, {6, 8}, {10, ~0U}});
    CHECK(fd_close_ranges({1}) == Ranges{{0, 0}, {2, ~0U}});
}
