#pragma once
// Where a remote build cache lives (remote_cache.h): a repository of a distribution registry
// (type=registry,ref=REF) or an OCI image layout directory (type=local: DIR/oci-layout,
// DIR/index.json naming the manifest "cache", DIR/blobs/sha256/<hex>). Both move whole blobs
// between the store and there, verified on the way in.
#include <memory>
#include <optional>
#include <string>

#include "builder/build_options.h"
#include "layerstore/layer_import.h"
#include "layerstore/store.h"
#include "registry/client.h"

namespace imgbuild::builder {

class CacheLocation {
public:
    virtual ~CacheLocation() = default;
    // "registry 127.0.0.1:5000/cache:main", "local /ci/cache".
    [[nodiscard]] virtual std::string name() const = 0;
    // The cache manifest's bytes; nullopt when there is no cache there (yet).
    [[nodiscard]] virtual std::optional<std::string> manifest() = 0;
    // Streams the blob `into.expected()` into `into` and verifies it.
    virtual void fetch(layerstore::BlobImport& into) = 0;
    // Stores the blob `d` (a blob of the store) there; a blob already there is skipped.
    virtual void put_blob(const oci::Descriptor& d) = 0;
    // Writes the manifest (its blobs are there), replacing the previous one.
    virtual void put_manifest(const std::string& bytes, const std::string& media_type) = 0;
};

// For a --cache-from spec (src=) or a --cache-to spec (dest=).
[[nodiscard]] std::unique_ptr<CacheLocation> open_cache_location(layerstore::Store& store, const CacheSpec& spec,
                                                                 const registry::RegistryOptions& opts);

}  // namespace imgbuild::builder
