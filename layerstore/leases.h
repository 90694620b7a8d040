#pragma once
// Leases (DESIGN.md §3): what live processes hold, so that gc never removes it.
//
// Each Store object that looks at or writes an object (blob or layer) first records it in
// its own lease file, leases/<pid>-<start time>-<random>, one "blob <hex>" or
// "layer <chain id>" line per object, appended under the gc lock held shared. gc holds the
// gc lock exclusive from reading the leases to the end of its sweep. Hence, for any object:
// either the append came first (gc sees the lease and keeps the object), or the sweep did
// (the object is gone, and the holder's existence check after its append sees that). A lease
// whose process is dead (pid gone or reused: the start time differs) is stale, and gc
// removes it.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace imgbuild::layerstore {

enum class ObjectKind { blob, layer };

struct LeaseEntry {
    ObjectKind kind;
    std::string id;  // blob hex digest or layer chain id
    bool operator<(const LeaseEntry& o) const { return kind != o.kind ? kind < o.kind : id < o.id; }
};

struct LeaseFile {
    std::filesystem::path path;
    pid_t pid = 0;
    uint64_t start_time = 0;
};

// The lease of one Store object; the file is made on the first hold and removed on destruction.
class Lease {
public:
    Lease(std::filesystem::path leases_dir, std::filesystem::path gc_lock_path);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    // Records the object (once per object); returns after the line is written.
    void hold(ObjectKind kind, const std::string& id);

private:
    std::filesystem::path dir_, gc_lock_path_, path_;
    unique_fd fd_, gc_lock_fd_;
    std::set<LeaseEntry> held_;
    pid_t owner_ = 0;
};

// Lease files of the store, with the process each one names.
[[nodiscard]] std::vector<LeaseFile> list_leases(const std::filesystem::path& leases_dir);
// The objects a lease holds (a torn last line, from a kill during a write, is ignored).
[[nodiscard]] std::vector<LeaseEntry> read_lease(const std::filesystem::path& lease_file);

}  // namespace imgbuild::layerstore
