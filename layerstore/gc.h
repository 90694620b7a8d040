#pragma once
// Garbage collection (DESIGN.md §3): mark what the roots reach, sweep the rest.
//
// Roots: the index (named and untagged images), build cache entries, containers (their
// image and layers) and the leases of live processes (leases.h). From an image: its
// manifest, config, the layer blobs the manifest lists, the layers of the config's
// diff_ids (by chain id) and every blob a layer's meta.json records. The whole of a gc
// (dropping the images and cache entries a prune selects, mark, sweep) runs under the gc
// lock held exclusive, so no process takes a lease meanwhile; tmp/ is never touched (it is
// cleaned when the store is opened with nobody else in it).
//
// Sizes: a blob counts its file size, a layer the size of its tar (meta.json's tar_size):
// the sizes docker prints, read without walking a layer's files.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

enum class ImagePrune { none, dangling, unused };  // unused: every image no container uses

struct PruneOptions {
    ImagePrune images = ImagePrune::none;
    bool build_cache = false;
    std::optional<int64_t> until;  // only images/cache entries created before (seconds since epoch)
};

struct PruneReport {
    std::vector<std::string> untagged;       // names removed
    std::vector<std::string> deleted;        // image ids (sha256:...) removed
    size_t cache_entries = 0, blobs = 0, layers = 0, stale_leases = 0;
    uint64_t reclaimed = 0;                  // bytes
};

// Drops what `opts` selects, then removes every blob and layer no root reaches.
PruneReport prune(Store& store, const PruneOptions& opts);

struct UsageRow {
    size_t total = 0, active = 0;
    uint64_t size = 0, reclaimable = 0;
};

struct DiskUsage {
    UsageRow images;        // active: used by a container
    UsageRow build_cache;   // size: what only the cache reaches
    UsageRow unreferenced;  // objects nothing reaches (left by rmi, or by a killed process)
};

// What `system df` prints: reclaimable is what `prune -a` would free in that row.
[[nodiscard]] DiskUsage disk_usage(Store& store);

}  // namespace imgbuild::layerstore
