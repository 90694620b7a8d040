#pragma once
// A layer as a blob: the stored one when the layer came with one, else made from diff/ now.
#include <filesystem>

#include "layerstore/store.h"
#include "oci/compression.h"

namespace imgbuild::layerstore {

// The layer's blob for an archive, compressed with `c` as asked: a stored blob of that kind
// passes through as is (pulled base layers keep their digests); a stored blob of another kind
// (a gzip layer saved with zstd) is decompressed and recompressed, its tar stream unchanged;
// otherwise diff/ is tarred and compressed. What is made is kept in the store and recorded on
// the layer, so the next save or push reuses it. `made` (when given) says whether the blob was
// made now (hashed as it was written: a reader need not check it again).
[[nodiscard]] oci::Descriptor stored_or_compressed_blob(Store& store, const LayerInfo& layer, oci::Compression c,
                                                        bool* made = nullptr);

// As stored_or_compressed_blob, for a registry: always a compressed blob. A stored compressed
// blob is used as it is (the wanted kind first); a layer stored only as a plain tar (a loaded
// docker-archive) has that tar compressed with `c` (its diff_id checked on the way); a layer we
// made is tarred from diff/ and compressed. What is made is kept and recorded on the layer.
[[nodiscard]] oci::Descriptor compressed_layer_blob(Store& store, const LayerInfo& layer, oci::Compression c);

// Writes the layer's uncompressed tar (digest == diff_id, verified) to `file`.
void write_plain_layer_tar(Store& store, const LayerInfo& layer, const std::filesystem::path& file);

// The OCI layer media type for a compression.
[[nodiscard]] const char* layer_media_type(oci::Compression c);

}  // namespace imgbuild::layerstore
