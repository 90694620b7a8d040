#pragma once
// save and load: images <-> OCI image-layout archives and docker-archive tarballs.
#include <string>
#include <vector>

#include "layerstore/store.h"
#include "oci/compression.h"

namespace imgbuild::layerstore {

enum class ArchiveFormat { oci, docker };
[[nodiscard]] ArchiveFormat parse_archive_format(const std::string& name);  // "oci" | "docker"

struct SaveOptions {
    ArchiveFormat format = ArchiveFormat::oci;
    oci::Compression compression = oci::Compression::gzip;  // OCI only; docker layers are plain tars
};

// Writes the images named by `refs` as one archive to out_fd. Layers we built are compressed
// here (the first time; the compressed blob is then kept in the store for the next save or push).
void save_images(Store& store, const std::vector<std::string>& refs, int out_fd, const SaveOptions& opts);

struct LoadedImage {
    Digest manifest_digest;
    Digest config_digest;
    std::vector<std::string> names;
};

// Reads an archive of ours, of `podman save`/`docker save` (docker-archive) or of
// `skopeo copy ... oci-archive:` (OCI layout). Every blob is verified before the store is
// touched; a damaged archive is refused and the store keeps what it had.
std::vector<LoadedImage> load_images(Store& store, int in_fd, const std::string& what_for_errors);

}  // namespace imgbuild::layerstore
