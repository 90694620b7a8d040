// Start-up cleanup of what a killed `run --rm` leaves (issue 11, finding 5): its record in
// containers/<id> (upper dir and all) and its empty cgroup dirs. Runs when the store is
// opened with nobody else holding it (as tmp/ is cleaned), so no live imgbuild is creating
// or running a container of this store; the owner's pid + start time (state.json) and the
// cgroups' own process lists say that nothing of the container still runs.
#include "layerstore/container_cleanup.h"

#include <unistd.h>

#include <cerrno>

#include "common/cgroup_dir.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"
#include "layerstore/containers.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

namespace {

bool cgroup_has_processes(const std::string& dir) {
    try {
        return !read_file(fs::path(dir) / "cgroup.procs").empty();
    } catch (const std::exception&) {
        return false;  // gone, or not a cgroup: nothing runs in it
    }
}

// The owner (the foreground `run` or a detached monitor) is dead and nothing runs in the
// container's cgroups.
bool abandoned(const ContainerState& s) {
    if (s.monitor_pid <= 0) return false;  // `create --rm`, not started yet: it is kept
    if (process_is(s.monitor_pid, s.monitor_start_time)) return false;
    for (const auto& d : s.cgroup_dirs)
        if (cgroup_has_processes(d)) return false;
    return true;
}

}  // namespace

size_t clean_abandoned_containers(const Store& store) {
    Containers containers(store);
    size_t removed = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store.containers_dir(), ec)) {
        std::string id = e.path().filename().string();
        if (id.size() != 64 || !is_lower_hex(id)) continue;
        try {
            if (!fs::exists(e.path() / "config.json")) {
                // A record whose creation was killed before its config was written (nobody
                // lists it): nobody is creating anything now.
                remove_tree(e.path());
                ++removed;
                continue;
            }
            ContainerState s = containers.state(id);
            if (!abandoned(s)) continue;
            // Empty by now; ENOENT is fine (a planned dir that was never made). A dir that
            // stays keeps the record, so that the next open tries again.
            bool cgroups_gone = true;
            for (const auto& d : s.cgroup_dirs)
                if (!remove_cgroup_dir(d)) cgroups_gone = false;
            if (!cgroups_gone || !containers.config(id).auto_remove) continue;
            containers.remove(id);
            ++removed;
        } catch (const std::exception& ex) {
            log::warn("cleaning container " + id.substr(0, 12) + ": " + ex.what());
        }
    }
    return removed;
}

}  // namespace imgbuild::layerstore
