#pragma once
// build --cache-to ...,mounts=true: the contents of RUN --mount=type=cache directories travel
// with the remote cache (remote_cache.h), keyed by mount id. The store keeps a cache mount at
// cache-mounts/<hex sha256 of id>/data/ with cache-mounts/<hex>/meta.json {"id": ...}
// (layerstore/cache_mounts.h); a mount travels as a gzip'ed deterministic tar of data/.
#include <string>
#include <utility>
#include <vector>

#include "layerstore/store.h"

namespace imgbuild::builder {

class CacheLocation;

// Every cache mount of the store as a blob in the store: (id, blob). None: empty.
[[nodiscard]] std::vector<std::pair<std::string, oci::Descriptor>> export_cache_mounts(layerstore::Store& store);

// Unpacks the mount `id` from `blob` (fetched from `from`) unless the store has that mount
// already (a local mount is newer than any cache of it). Staged in tmp/ and renamed into
// place: a failure leaves no half mount. Returns whether it restored one.
bool restore_cache_mount(layerstore::Store& store, const std::string& id, const oci::Descriptor& blob,
                         CacheLocation& from);

}  // namespace imgbuild::builder
