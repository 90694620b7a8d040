#pragma once
// pull: manifest (negotiated; an index resolved to the platform), config and layers into
// the store — layers four at a time, each blob verified while it streams in and unpacked
// once — then the tag. What the store already has is not transferred: pulling an image that
// is there costs the manifest request. Nothing reaches the store unless everything checked
// out. Docker Hub references try the configured mirrors first.
#include <string>

#include "layerstore/store.h"
#include "registry/client.h"
#include "registry/progress.h"
#include "registry/reference.h"

namespace imgbuild::registry {

struct PullResult {
    Digest digest;                 // what the reference resolved to (an index's digest for an index)
    layerstore::Image image;       // the platform's image, now in the store
    std::string name;              // the local name it was tagged with
    size_t blobs_transferred = 0;  // 0: the image was up to date
};

// Throws Error prefixed "pull REF: ".
PullResult pull_image(layerstore::Store& store, const Reference& ref, const RegistryOptions& opts,
                      TransferProgress& progress);

}  // namespace imgbuild::registry
