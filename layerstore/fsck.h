#pragma once
// fsck: re-verifies what the store holds; repair removes what is damaged or unreachable.
#include <string>
#include <vector>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

// layer_blob: a layer whose diff/ is sound lists a blob that is damaged or missing; only the
// blob and its record go (diff/ is kept: the next save or push compresses it again).
enum class DamageKind { blob, layer, layer_blob, image, cache_entry, index };

struct Damage {
    DamageKind kind;
    std::string id;    // blob hex, layer chain id, <layer chain id>/<blob hex> (layer_blob),
                       // image name (or manifest digest), cache key
    std::string text;  // what is wrong, naming the object
};

struct FsckReport {
    size_t blobs = 0, layers = 0, images = 0;
    std::vector<Damage> damage;  // empty: the store is sound
};

// Every blob re-hashed; every layer's diff/ re-tarred and compared with the digest taken
// when it was made; every image's manifest, config, layers and blobs present and sound;
// build cache entries readable.
[[nodiscard]] FsckReport fsck(const Store& store);
// Only what the named images use (name, id or digest as find_image takes them).
[[nodiscard]] FsckReport fsck_images(const Store& store, const std::vector<std::string>& refs);

struct RepairReport {
    std::vector<std::string> removed;  // one line per removed object, saying why
    FsckReport before;
};

// fsck, then (under the gc lock, exclusive) removes every damaged object (a layer's damaged
// blob alone, and its record in the layer's meta.json, when diff/ is sound), the names of
// images that use one (loading a good archive or rebuilding brings them back, same ids),
// the cache entries that lead to one, and then whatever nothing reaches any more.
RepairReport repair(Store& store);

}  // namespace imgbuild::layerstore
