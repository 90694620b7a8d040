#pragma once
// fsck: re-verifies everything the store holds.
#include <string>
#include <vector>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

struct FsckReport {
    size_t blobs = 0, layers = 0, images = 0;
    std::vector<std::string> problems;  // empty: the store is sound
};

// Every blob re-hashed; every layer's diff/ re-tarred and compared with the digest taken
// when it was made; every named image's manifest, config and layers present and sound.
[[nodiscard]] FsckReport fsck(const Store& store);

}  // namespace imgbuild::layerstore
