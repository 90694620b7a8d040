#pragma once
// push: every blob the registry lacks goes up — HEAD first (present: skipped), a
// cross-repository mount when the store knows the blob from another repository of the same
// registry, else an upload (one PUT for small blobs, PATCH chunks for large ones), four at a
// time — then the manifest with its media type. Layers we built are compressed on the way
// (gzip, or zstd) and the compressed blob is kept and recorded on the layer, so the next push
// neither compresses nor uploads it again. An image whose layers all have stored blobs
// (pulled, loaded, pushed before) goes up with the manifest it has, byte for byte: a pushed
// image pulls back with the same manifest digest.
#include <filesystem>
#include <optional>

#include "layerstore/store.h"
#include "oci/compression.h"
#include "registry/client.h"
#include "registry/progress.h"
#include "registry/reference.h"

namespace imgbuild::registry {

struct PushOptions {
    oci::Compression compression = oci::Compression::gzip;
    std::optional<std::filesystem::path> digestfile;
};

struct PushResult {
    Digest digest;     // of the manifest pushed
    uint64_t size = 0;
    size_t blobs_uploaded = 0, blobs_mounted = 0, blobs_present = 0;
};

// Throws Error prefixed "push REF: ".
PushResult push_image(layerstore::Store& store, const layerstore::Image& image, const Reference& dest,
                      const RegistryOptions& opts, const PushOptions& popts, TransferProgress& progress);

// Blobs up to this size go in one PUT; larger ones in PATCH chunks of kUploadChunk.
inline constexpr uint64_t kMonolithicLimit = 32ull << 20;
inline constexpr uint64_t kUploadChunk = 64ull << 20;

}  // namespace imgbuild::registry
