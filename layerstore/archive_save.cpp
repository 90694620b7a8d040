// save: OCI image layout (oci-layout, index.json, blobs/sha256/...) or docker-archive
// (manifest.json, repositories, blobs/sha256/... with plain layer tars).
#include <fcntl.h>

#include <set>

#include "common/error.h"
#include "layerstore/archives.h"
#include "layerstore/layer_blobs.h"
#include "oci/tar_archive.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

ArchiveFormat parse_archive_format(const std::string& name) {
    if (name == "oci" || name == "oci-archive") return ArchiveFormat::oci;
    if (name == "docker" || name == "docker-archive") return ArchiveFormat::docker;
    throw UsageError("unknown archive format \"" + name + "\" (oci or docker)");
}

namespace {

struct Selected {
    Image image;
    std::vector<std::string> names;  // full "repo:tag" names to record
};

std::vector<Selected> select_images(const Store& store, const std::vector<std::string>& refs) {
    std::vector<Selected> out;
    for (const auto& ref : refs) {
        Selected s{store.resolve_image(ref), {}};
        for (const auto& t : store.tags())
            if (!t.name.empty() && t.manifest_digest == s.image.manifest_digest) {
                // Saving by name records that name; saving by id records none (as docker does).
                std::string wanted;
                try {
                    wanted = normalize_tag(ref);
                } catch (const UsageError&) {
                }
                if (t.name == wanted) s.names.push_back(t.name);
            }
        out.push_back(std::move(s));
    }
    return out;
}

std::string tag_part(const std::string& name) { return name.substr(name.rfind(':') + 1); }

void save_oci(Store& store, const std::vector<Selected>& images, oci::TarArchiveWriter& tar, const SaveOptions& opts) {
    std::set<Digest> written;
    // Stored blobs are verified as they stream: a damaged one fails the save (run fsck)
    // instead of shipping in an archive that readers would reject, or worse, unpack.
    // (A blob this save has just made was hashed as it was written: not re-hashed.)
    auto add_blob_file = [&](const Digest& d, bool verify = true) {
        if (written.insert(d).second)
            tar.add_file("blobs/sha256/" + d.hex(), store.blob_path(d), verify ? std::optional<Digest>(d) : std::nullopt);
    };
    auto add_blob_bytes = [&](const Digest& d, const std::string& bytes) {
        if (written.insert(d).second) tar.add_bytes("blobs/sha256/" + d.hex(), bytes);
    };
    tar.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    tar.add_dir("blobs/");
    tar.add_dir("blobs/sha256/");
    oci::Index index;
    for (const auto& sel : images) {
        // An OCI layout gets OCI documents, also for an image pulled with a Docker v2s2 manifest
        // (readers reject a Docker config behind an OCI manifest entry); the config bytes and
        // so the image id stay.
        oci::Manifest m = sel.image.manifest;
        m.media_type = oci::media::oci_manifest;
        m.config.media_type = oci::media::oci_config;
        m.layers.clear();
        for (const auto& layer : sel.image.layers) {
            bool made = false;
            oci::Descriptor d = oci::oci_layer_type(stored_or_compressed_blob(store, layer, opts.compression, &made));
            add_blob_file(d.digest, !made);
            m.layers.push_back(d);
        }
        add_blob_file(sel.image.config_digest);
        std::string manifest_bytes = oci::canonical(oci::to_json(m));
        Digest md = Digest::of(manifest_bytes);
        add_blob_bytes(md, manifest_bytes);
        oci::Descriptor entry{oci::media::oci_manifest, md, static_cast<int64_t>(manifest_bytes.size()), {}, {}};
        if (sel.names.empty()) index.manifests.push_back(entry);
        for (const auto& name : sel.names) {
            entry.annotations = {{"io.containerd.image.name", name}, {"org.opencontainers.image.ref.name", tag_part(name)}};
            index.manifests.push_back(entry);
        }
    }
    tar.add_bytes("index.json", oci::canonical(oci::to_json(index)));
}

void save_docker(Store& store, const std::vector<Selected>& images, oci::TarArchiveWriter& tar) {
    std::set<Digest> written;
    json manifest = json::array();
    json repositories = json::object();
    tar.add_dir("blobs/");
    tar.add_dir("blobs/sha256/");
    for (const auto& sel : images) {
        json layers = json::array();
        for (const auto& layer : sel.image.layers) {
            // docker-archive layers are plain tars named by their diff_id.
            if (written.insert(layer.diff_id).second) {
                TempDir tmp = store.make_temp_dir("save");
                fs::path file = tmp.path() / "layer.tar";
                write_plain_layer_tar(store, layer, file);
                tar.add_file("blobs/sha256/" + layer.diff_id.hex(), file);
            }
            layers.push_back("blobs/sha256/" + layer.diff_id.hex());
        }
        if (written.insert(sel.image.config_digest).second)
            tar.add_file("blobs/sha256/" + sel.image.config_digest.hex(), store.blob_path(sel.image.config_digest),
                         sel.image.config_digest);
        manifest.push_back({{"Config", "blobs/sha256/" + sel.image.config_digest.hex()},
                            {"RepoTags", sel.names},
                            {"Layers", layers}});
        for (const auto& name : sel.names) {
            auto colon = name.rfind(':');
            repositories[name.substr(0, colon)][name.substr(colon + 1)] = sel.image.layers.empty()
                                                                               ? ""
                                                                               : sel.image.layers.back().diff_id.hex();
        }
    }
    tar.add_bytes("manifest.json", manifest.dump());
    tar.add_bytes("repositories", repositories.dump());
}

}  // namespace

void save_images(Store& store, const std::vector<std::string>& refs, int out_fd, const SaveOptions& opts) {
    auto images = select_images(store, refs);
    oci::TarArchiveWriter tar(out_fd, "archive");
    if (opts.format == ArchiveFormat::oci) save_oci(store, images, tar, opts);
    else save_docker(store, images, tar);
    tar.close();
}

}  // namespace imgbuild::layerstore
