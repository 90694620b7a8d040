#pragma once
// A layer as a blob: the stored one when the layer came with one, else made from diff/ now.
#include <filesystem>

#include "layerstore/store.h"
#include "oci/compression.h"

namespace imgbuild::layerstore {

// The layer's blob for distribution: a stored blob passes through as is (pulled and loaded
// base layers keep their digests); otherwise diff/ is tarred and compressed with `c`, the
// result kept in the store and recorded on the layer, so the next save or push reuses it.
[[nodiscard]] oci::Descriptor stored_or_compressed_blob(Store& store, const LayerInfo& layer, oci::Compression c);

// Writes the layer's uncompressed tar (digest == diff_id, verified) to `file`.
void write_plain_layer_tar(Store& store, const LayerInfo& layer, const std::filesystem::path& file);

// The OCI layer media type for a compression.
[[nodiscard]] const char* layer_media_type(oci::Compression c);

}  // namespace imgbuild::layerstore
