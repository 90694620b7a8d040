// load: unpack the archive's plain files into a staging dir, verify every blob, then add
// layers, configs and names to the store. Nothing reaches the store before all blobs check out.
#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "layerstore/archives.h"
#include "oci/tar_archive.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Digest hash_file(const fs::path& p) { return hash_to_end(open_or_throw(p, O_RDONLY).get(), p); }

// Files named by a digest (blobs/sha256/<hex>, or docker's <hex>.json / <hex>/layer.tar
// configs) must hash to that digest.
void verify_named_blobs(const fs::path& staging, const std::string& what) {
    fs::path blobs = staging / "blobs/sha256";
    if (!fs::exists(blobs)) return;
    for (const auto& e : fs::directory_iterator(blobs)) {
        auto expected = Digest::try_parse("sha256:" + e.path().filename().string());
        if (!expected) throw Error(what + ": unexpected file blobs/sha256/" + e.path().filename().string());
        Digest got = hash_file(e.path());
        if (got != *expected)
            throw Error(what + ": blob " + expected->str() + " is damaged (its content hashes to " + got.str() + ")");
    }
}

oci::Descriptor normalized_layer(oci::Descriptor d) {
    static const std::pair<const char*, const char*> docker_to_oci[] = {
        {oci::media::docker_layer_gzip, oci::media::oci_layer_gzip},
        {oci::media::docker_layer_tar, oci::media::oci_layer_tar},
        {oci::media::docker_layer_zstd, oci::media::oci_layer_zstd}};
    for (auto [from, to] : docker_to_oci)
        if (d.media_type == from) d.media_type = to;
    d.annotations.clear();
    return d;
}

// Adds an image whose config and layer files are at hand; layer i is read from layer_files[i].
LoadedImage add_image(Store& store, const fs::path& config_file, const std::vector<fs::path>& layer_files,
                      const std::vector<oci::Descriptor>& layer_descs, std::vector<std::string> names,
                      const std::string& what) {
    std::string config_text = read_file(config_file);
    json config = oci::parse_json(config_text, what + ": config");
    auto diff_ids = oci::config_diff_ids(config, what + ": config");
    if (diff_ids.size() != layer_files.size())
        throw Error(what + ": config lists " + std::to_string(diff_ids.size()) + " layers, the manifest " +
                    std::to_string(layer_files.size()));
    std::vector<LayerInfo> layers;
    std::optional<std::string> parent;
    for (size_t i = 0; i < layer_files.size(); ++i) {
        auto fd = open_or_throw(layer_files[i], O_RDONLY);
        LayerInfo l = store.add_layer_blob(fd.get(), parent, normalized_layer(layer_descs[i]), diff_ids[i]);
        parent = l.id;
        layers.push_back(l);
    }
    // The config bytes stay as they are, so the image id is the same as in the archive.
    Image img = store.put_image_config_bytes(config_text, layers);
    for (const auto& n : names) store.tag(n, img.manifest_digest);
    if (names.empty()) store.keep_untagged(img.manifest_digest);
    return {img.manifest_digest, img.config_digest, names};
}

}  // namespace
}  // namespace imgbuild::layerstore

namespace imgbuild::layerstore {

namespace {

// A name from an OCI index entry: containerd's full-name annotation, else ref.name when
// it is a full name (some tools put only the tag there: then the image stays unnamed).
std::vector<std::string> names_of(const oci::Descriptor& d) {
    for (const char* key : {"io.containerd.image.name", "org.opencontainers.image.ref.name"}) {
        auto it = d.annotations.find(key);
        if (it == d.annotations.end()) continue;
        const std::string& n = it->second;
        if (n.find(':') != std::string::npos || n.find('/') != std::string::npos) {
            try {
                return {normalize_tag(n)};
            } catch (const UsageError&) {
            }
        }
    }
    return {};
}

fs::path blob_file(const fs::path& staging, const Digest& d, const std::string& what) {
    fs::path p = staging / "blobs/sha256" / d.hex();
    if (!fs::exists(p)) throw Error(what + ": blob " + d.str() + " is missing from the archive");
    return p;
}

// The image manifest a descriptor leads to: itself, or from an index the linux/amd64 entry
// (or the first one).
oci::Manifest manifest_behind(const fs::path& staging, const oci::Descriptor& d, const std::string& what, int depth = 0) {
    std::string text = read_file(blob_file(staging, d.digest, what));
    json j = oci::parse_json(text, what + ": manifest " + d.digest.str());
    std::string mt = j.value("mediaType", d.media_type);
    if (oci::is_index_type(mt) || (j.contains("manifests") && !j.contains("layers"))) {
        if (depth > 2) throw Error(what + ": indexes nested too deep");
        oci::Index idx = oci::index_from_json(j, what + ": index " + d.digest.str());
        if (idx.manifests.empty()) throw Error(what + ": index " + d.digest.str() + " lists no manifest");
        const oci::Descriptor* pick = &idx.manifests.front();
        for (const auto& m : idx.manifests)
            if (m.platform && m.platform->value("architecture", "") == "amd64" && m.platform->value("os", "") == "linux") {
                pick = &m;
                break;
            }
        return manifest_behind(staging, *pick, what, depth + 1);
    }
    return oci::manifest_from_json(j, what + ": manifest " + d.digest.str());
}

std::vector<LoadedImage> load_oci(Store& store, const fs::path& staging, const std::string& what) {
    oci::Index index = oci::index_from_json(oci::parse_json(read_file(staging / "index.json"), what + ": index.json"),
                                            what + ": index.json");
    std::vector<LoadedImage> out;
    for (const auto& entry : index.manifests) {
        oci::Manifest m = manifest_behind(staging, entry, what);
        std::vector<fs::path> files;
        for (const auto& l : m.layers) files.push_back(blob_file(staging, l.digest, what));
        out.push_back(add_image(store, blob_file(staging, m.config.digest, what), files, m.layers, names_of(entry), what));
    }
    return out;
}

// docker-archive layers carry no media type: tell a compressed one by its magic bytes.
const char* sniff_layer_media_type(const fs::path& f) {
    unsigned char magic[4] = {0, 0, 0, 0};
    auto fd = open_or_throw(f, O_RDONLY);
    if (::read(fd.get(), magic, sizeof magic) < 0) throw_errno("read", f.string());
    if (magic[0] == 0x1f && magic[1] == 0x8b) return oci::media::oci_layer_gzip;
    if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) return oci::media::oci_layer_zstd;
    return oci::media::oci_layer_tar;
}

fs::path inside(const fs::path& staging, const json& name, const std::string& what) {
    if (!name.is_string()) throw Error(what + ": manifest.json: a path is not a string");
    fs::path rel = fs::path(name.get<std::string>()).lexically_normal();
    if (rel.is_absolute() || rel.empty() || *rel.begin() == "..")
        throw Error(what + ": manifest.json: path \"" + name.get<std::string>() + "\" leaves the archive");
    fs::path p = staging / rel;
    if (!fs::is_regular_file(p)) throw Error(what + ": manifest.json names \"" + rel.string() + "\", which the archive lacks");
    return p;
}

std::vector<LoadedImage> load_docker(Store& store, const fs::path& staging, const std::string& what) {
    json manifest = oci::parse_json(read_file(staging / "manifest.json"), what + ": manifest.json");
    if (!manifest.is_array()) throw Error(what + ": manifest.json is not a list");
    std::vector<LoadedImage> out;
    for (const auto& entry : manifest) {
        fs::path config = inside(staging, entry.value("Config", json()), what);
        // Older docker archives name the config <hex>.json: it must hash to that name.
        std::string stem = config.stem().string();
        if (auto named = Digest::try_parse("sha256:" + stem); named && hash_file(config) != *named)
            throw Error(what + ": config " + config.filename().string() + " is damaged");
        std::vector<fs::path> files;
        std::vector<oci::Descriptor> descs;
        for (const auto& l : entry.value("Layers", json::array())) {
            fs::path f = inside(staging, l, what);
            files.push_back(f);
            descs.push_back({sniff_layer_media_type(f), hash_file(f), static_cast<int64_t>(fs::file_size(f)), {}, {}});
        }
        std::vector<std::string> names;
        for (const auto& t : entry.value("RepoTags", json::array()))
            if (t.is_string()) names.push_back(normalize_tag(t.get<std::string>()));
        out.push_back(add_image(store, config, files, descs, names, what));
    }
    return out;
}

}  // namespace

std::vector<LoadedImage> load_images(Store& store, int in_fd, const std::string& what) {
    TempDir staging = store.make_temp_dir("load");
    oci::extract_plain_files(in_fd, staging.path(), what);
    verify_named_blobs(staging.path(), what);
    if (fs::exists(staging.path() / "manifest.json")) return load_docker(store, staging.path(), what);
    if (fs::exists(staging.path() / "index.json")) return load_oci(store, staging.path(), what);
    throw Error(what + ": neither an OCI layout (index.json) nor a docker archive (manifest.json)");
}

}  // namespace imgbuild::layerstore
