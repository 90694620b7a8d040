#pragma once
// The distribution API's building blocks, shared by image pull/push (pull.h, push.h) and by
// the build cache's registry artifacts (builder/remote_cache.h): a manifest by tag or digest,
// a blob streamed into a BlobImport (resumed with Range), a blob pushed by whichever way costs
// least, a manifest put.
#include <optional>
#include <string>
#include <vector>

#include "layerstore/layer_import.h"
#include "layerstore/store.h"
#include "registry/client.h"
#include "registry/progress.h"
#include "registry/reference.h"

namespace imgbuild::registry {

inline constexpr size_t kMaxManifestSize = 4 << 20;

struct FetchedManifest {
    std::string bytes;
    std::string content_type;
    Digest digest;
};

// GET /v2/REPO/manifests/REF (at most 4 MiB). Throws RegistryError (status 404 when unknown).
[[nodiscard]] FetchedManifest get_manifest(Client& c, const std::string& repo, const std::string& ref);

// Streams the blob into `into` and verifies it (digest and size).
void download_blob(Client& c, const std::string& repo, layerstore::BlobImport& into, TransferProgress& progress);

// PUT /v2/REPO/manifests/REF with its media type; returns the digest of `bytes`.
Digest put_manifest(Client& c, const std::string& repo, const std::string& ref, const std::string& bytes,
                    const std::string& media_type, TransferProgress& progress);

enum class PushOutcome { present, mounted, uploaded };

// Pushes blobs of the store into one repository: HEAD first, a cross-repository mount when the
// store knows the blob from another repository of the registry, else an upload.
class BlobPusher {
public:
    BlobPusher(layerstore::Store& store, Client& c, const Reference& dest, TransferProgress& p)
        : store_(store), c_(c), dest_(dest), progress_(p), scopes_{push_scope(dest.repository)} {}
    PushOutcome push_blob(const oci::Descriptor& d);
    // Records that the blob is now in dest (for later mounts).
    void remember(const Digest& d);

private:
    std::optional<std::string> mount_source(const Digest& d);
    PushOutcome upload(const oci::Descriptor& d, const std::string& what);

    layerstore::Store& store_;
    Client& c_;
    const Reference& dest_;
    TransferProgress& progress_;
    std::vector<std::string> scopes_;
};

}  // namespace imgbuild::registry
