#pragma once
// RUN --mount=type=cache directories (DESIGN.md §3 cache-mounts/): kept between builds,
// never part of a layer, shared by every build of the store.
//
// Layout (read by the remote-cache export too, keep it stable):
//   cache-mounts/<hex>/data/            the directory a RUN mounts; <hex> = sha256 of the id
//   cache-mounts/<hex>/meta.json        {"id": ..., "created": RFC 3339, "last_used": RFC 3339}
//   cache-mounts/<hex>/lock             flock: shared while a RUN uses data/ (sharing=shared),
//                                       exclusive for sharing=locked|private and for removal
//   cache-mounts/<hex>/private/<n>/{data,lock}   sharing=private instances, made when data/
//                                       is busy; reused by later private users when free
//
// Contracts:
// - A cache dir appears complete or not at all: it is made (mode/uid/gid set, seeded) in
//   tmp/ and renamed into place; a racing creator's copy is dropped, the winner's is used.
// - A handle keeps its lock for its lifetime; remove/prune never delete a cache dir that a
//   handle holds (they skip it), and a handle never gets a dir that is being removed.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "layerstore/file_lock.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

enum class CacheSharing { shared, private_, locked };

// "" and "shared", "private", "locked"; Error otherwise.
[[nodiscard]] CacheSharing parse_cache_sharing(std::string_view text);

// The hex name of a cache id's directory.
[[nodiscard]] std::string cache_mount_hex(std::string_view id);

// How a new cache dir starts: its data/ gets mode/uid/gid, then `seed` (when set) may fill
// it (RUN --mount=type=cache,from=STAGE). Not applied to an existing cache.
struct CacheMountSetup {
    mode_t mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
    std::function<void(const std::filesystem::path& data_dir)> seed;
};

class CacheMountHandle {
public:
    CacheMountHandle(std::filesystem::path data_dir, FileLock lock) : data_(std::move(data_dir)), lock_(std::move(lock)) {}
    // The directory to mount (exists, locked as the sharing mode asks).
    [[nodiscard]] const std::filesystem::path& data_dir() const { return data_; }

private:
    std::filesystem::path data_;
    FileLock lock_;
};

// The cache dir of `id`, created if missing, locked as `sharing` says: shared users run
// together; locked users wait for each other (and for shared users); a private user takes
// the main dir when nobody uses it, else a private instance of its own.
[[nodiscard]] CacheMountHandle open_cache_mount(const Store& store, const std::string& id, CacheSharing sharing,
                                                const CacheMountSetup& setup);

struct CacheMountInfo {
    std::string id, hex;
    int64_t created = 0, last_used = 0;  // seconds since the epoch
    uint64_t size = 0;                   // bytes of regular files (walks the dir)
    bool in_use = false;
};

// Every cache dir of the store, sorted by id. `with_sizes` walks each one.
[[nodiscard]] std::vector<CacheMountInfo> list_cache_mounts(const Store& store, bool with_sizes = true);

struct CacheMountPrune {
    size_t removed = 0;
    uint64_t reclaimed = 0;
};

// Removes every cache dir not in use (and, with `until`, last used before it).
CacheMountPrune prune_cache_mounts(const Store& store, std::optional<int64_t> until = std::nullopt);

// Removes one cache dir (by hex); false when it is in use or missing.
bool remove_cache_mount(const Store& store, const std::string& hex);

}  // namespace imgbuild::layerstore
