#include "cli/store_access.h"

#include <fcntl.h>

#include <cstdio>

#include "common/fs.h"

namespace imgbuild::cli {

std::unique_ptr<layerstore::Store> open_store(const GlobalOptions& global, layerstore::LockMode mode) {
    return std::make_unique<layerstore::Store>(global.store_root(), mode);
}

int open_input(const std::string& path, unique_fd& holder) {
    if (path.empty() || path == "-") return 0;
    holder = open_or_throw(path, O_RDONLY);
    return holder.get();
}

int open_output(const std::string& path, unique_fd& holder) {
    if (path.empty() || path == "-") return 1;
    holder = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    return holder.get();
}

std::string human_size(uint64_t bytes) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
    return buf;
}

}  // namespace imgbuild::cli
