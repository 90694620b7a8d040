#pragma once
// Blobs and layers arriving from elsewhere (a registry), in three steps so that nothing
// reaches the store before everything checked out:
//   1. BlobImport: bytes written to tmp/ as they arrive, hashed on the way; more bytes than
//      the descriptor's size stop the transfer at once; verify() checks size and digest.
//   2. stage_layer: the verified blob is unpacked (the one extractor, oci::extract_layer_tar)
//      into a staging dir and its diff_id compared with the config's.
//   3. install: the blob goes to blobs/, the layer to layers/ (both atomic renames).
// A failure at any step, or an object destroyed before install, leaves nothing behind.
#include <filesystem>
#include <optional>
#include <string>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

class BlobImport {
public:
    BlobImport(Store& store, oci::Descriptor expected, std::string what);
    ~BlobImport();
    BlobImport(BlobImport&&) noexcept;
    BlobImport(const BlobImport&) = delete;
    BlobImport& operator=(const BlobImport&) = delete;
    BlobImport& operator=(BlobImport&&) = delete;

    // Appends bytes; throws (naming the blob) when they exceed the expected size.
    void write(const char* data, size_t n);
    // Starts over (a retried download).
    void restart();
    // Throws naming the blob unless size and digest match; the file is then fsync'ed.
    void verify();
    // Moves the verified file into blobs/ (idempotent).
    void commit();
    // The verified bytes, for small blobs (config, manifest): read back from the file.
    [[nodiscard]] std::string read() const;

    [[nodiscard]] uint64_t bytes() const { return bytes_; }
    [[nodiscard]] const oci::Descriptor& expected() const { return expected_; }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    Store* store_;
    oci::Descriptor expected_;
    std::string what_;
    std::filesystem::path path_;
    unique_fd fd_;
    std::unique_ptr<Sha256> hash_;
    uint64_t bytes_ = 0;
    bool verified_ = false, committed_ = false;
};

struct StagedLayer {
    BlobImport blob;
    TempDir dir;     // dir/diff holds the unpacked layer
    LayerInfo info;  // its id, diff_id, parent, blob record
};

// Unpacks a verified blob on top of `parent` (a chain id) and checks it against `diff_id`.
[[nodiscard]] StagedLayer stage_layer(Store& store, BlobImport blob, const std::optional<std::string>& parent,
                                      const Digest& diff_id);

// Step 3 for a staged layer: its blob into blobs/, the layer into layers/.
LayerInfo install_layer(Store& store, StagedLayer& staged);

// Where a blob is known to exist besides the store: "registry/repository" names (pushed there
// or pulled from there), so that a push to another repository of the same registry can
// mount it instead of uploading it. A hint: losing an entry costs an upload, nothing more.
void remember_blob_source(const Store& store, const Digest& blob, const std::string& repository);
[[nodiscard]] std::vector<std::string> blob_sources(const Store& store, const Digest& blob);

}  // namespace imgbuild::layerstore
