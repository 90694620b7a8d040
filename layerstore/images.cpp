// Images and tags: images/index.json is an OCI index whose entries carry the name in the
// org.opencontainers.image.ref.name annotation (an entry without one is an untagged image).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "layerstore/blob_stamps.h"
#include "layerstore/file_lock.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* ref_name = "org.opencontainers.image.ref.name";

fs::path index_path(const Store& s) { return s.root() / "images/index.json"; }
// The index's backup: every write of the index writes it first, with the same content, so
// one damaged file never loses the names (finding 4 of issue 11).
fs::path backup_path(const Store& s) { return s.root() / "images/index.backup.json"; }

// nullopt when the file does not exist; throws Error when it cannot be read or parsed. With
// `text`, the bytes read are kept there.
std::optional<oci::Index> read_index_file(const fs::path& path, std::string* text = nullptr) {
    std::string bytes;
    try {
        bytes = read_file(path);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return std::nullopt;
        throw;
    }
    auto idx = oci::index_from_json(oci::parse_json(bytes, path.string()), path.string());
    if (text) *text = std::move(bytes);
    return idx;
}

// With `primary_text`, the index file's bytes when they were sound and used ("" otherwise).
oci::Index read_index(const Store& s, std::string* primary_text = nullptr) {
    std::string primary_problem;
    try {
        if (auto idx = read_index_file(index_path(s), primary_text)) return *idx;
        primary_problem = index_path(s).string() + " is missing";
    } catch (const Error& e) {
        primary_problem = e.what();
    }
    std::optional<oci::Index> backup;
    try {
        backup = read_index_file(backup_path(s));
    } catch (const Error& e) {
        throw Error(primary_problem + "; its backup is damaged too: " + e.what() +
                    " (image names are lost: imgbuild fsck --repair lists the images again, without names)");
    }
    if (!backup) {
        if (!fs::exists(index_path(s))) return {};  // a new store: no index yet
        throw Error(primary_problem + "; there is no backup (imgbuild fsck --repair lists the images again, without names)");
    }
    log::warn(primary_problem + ": using " + backup_path(s).string() + " (imgbuild fsck --repair restores it)");
    return *backup;
}

void write_index_text(const Store& s, const std::string& text) {
    atomic_write_file(backup_path(s), text, s.tmp_dir());
    atomic_write_file(index_path(s), text, s.tmp_dir());
}

void write_index(const Store& s, const oci::Index& idx) { write_index_text(s, oci::to_json(idx).dump(2)); }

// Read-modify-write of the index under its own exclusive lock, so that concurrent tags from
// several processes (all holding the store lock shared) never lose each other's updates.
template <typename F>
void update_index(const Store& s, F change) {
    FileLock lock(s.root() / "images/index.lock", LOCK_EX);
    std::string before;
    oci::Index idx = read_index(s, &before);
    change(idx);
    std::string text = oci::to_json(idx).dump(2);
    // A change that changes nothing (a cached rebuild tagging the image its name already
    // holds) writes nothing: two atomic writes and four fsyncs less on every such build.
    // (Read from the backup, the index is written again: `before` is then empty.)
    if (text == before) return;
    write_index_text(s, text);
}

std::string name_of(const oci::Descriptor& d) {
    auto it = d.annotations.find(ref_name);
    return it == d.annotations.end() ? std::string() : it->second;
}

oci::Descriptor manifest_descriptor(const Store& s, const Digest& manifest) {
    oci::Descriptor d;
    d.media_type = oci::media::oci_manifest;
    d.digest = manifest;
    d.size = static_cast<int64_t>(fs::file_size(s.blob_path(manifest)));
    return d;
}

// The image id behind a manifest, reading only the manifest: id lookups compare ids without
// loading every image's config and layers.
Digest config_digest_of(const Store& s, const Digest& manifest) {
    std::string what = "manifest " + manifest.str();
    return oci::manifest_from_json(oci::parse_json(s.read_blob(manifest), what), what).config.digest;
}

}  // namespace

Image Store::put_image(const json& config_in, const std::vector<LayerInfo>& layers) {
    json config = config_in;
    json diff_ids = json::array();
    for (const auto& l : layers) diff_ids.push_back(l.diff_id.str());
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    return put_image_config_bytes(oci::canonical(config), layers);
}

Image Store::put_image_config_bytes(const std::string& config_bytes, const std::vector<LayerInfo>& layers) {
    auto diff_ids = oci::config_diff_ids(oci::parse_json(config_bytes, "image config"), "image config");
    bool same = diff_ids.size() == layers.size();
    for (size_t i = 0; same && i < layers.size(); ++i) same = diff_ids[i] == layers[i].diff_id;
    if (!same) throw Error("image config: rootfs.diff_ids do not match the image's layers");
    Digest config_digest = put_blob(config_bytes);

    oci::Manifest m;
    m.config = {oci::media::oci_config, config_digest, static_cast<int64_t>(config_bytes.size()), {}, {}};
    for (const auto& l : layers) {
        // A layer with a stored blob (loaded or pulled) keeps it: base layers pass through
        // untouched. A layer we made is referenced as its uncompressed tar, which is
        // regenerated from diff/ on demand (compression waits for save or push).
        // A stored blob is referenced only when intact (blob_stamps.h): a missing or
        // damaged one is not put in a new manifest, the tar regenerated from diff/ is.
        const oci::Descriptor* stored = nullptr;
        for (const auto& b : l.blobs) {
            if (stored_blob_intact(*this, l, b)) {
                stored = &b;
                break;
            }
        }
        if (stored) m.layers.push_back(*stored);
        else m.layers.push_back({oci::media::oci_layer_tar, l.diff_id, static_cast<int64_t>(l.tar_size), {}, {}});
    }
    Digest manifest_digest = put_blob(oci::canonical(oci::to_json(m)));
    return image(manifest_digest);
}

Image Store::image(const Digest& manifest_digest) const {
    Image img{manifest_digest, {}, manifest_digest, {}, {}};
    std::string what = "manifest " + manifest_digest.str();
    std::vector<Digest> diff_ids;
    fs::path where = blob_path(manifest_digest);
    // The blobs verified, so what fails to parse is damage (or a bug), never a usage error.
    try {
        img.manifest = oci::manifest_from_json(oci::parse_json(read_blob(manifest_digest), what), what);
        img.config_digest = img.manifest.config.digest;
        what = "config " + img.config_digest.str();
        where = blob_path(img.config_digest);
        img.config = oci::parse_json(read_blob(img.config_digest), what);
        diff_ids = oci::config_diff_ids(img.config, what);
    } catch (const UsageError& e) {
        throw CorruptError(where.string() + " (" + what + "): " + e.what());
    }
    std::optional<std::string> parent;
    for (const auto& diff_id : diff_ids) {
        std::string id = chain_id(parent, diff_id);
        auto l = layer(id);
        if (!l) throw NotFoundError("image " + img.config_digest.short_id() + ": layer " + diff_id.str() + " is not in the store");
        img.layers.push_back(*l);
        parent = id;
    }
    return img;
}

std::optional<Image> Store::find_image(std::string_view ref_in) const {
    std::string ref(ref_in);
    oci::Index idx;
    try {
        idx = read_index(*this);
    } catch (const Error&) {
        // A manifest digest needs no names: it works with the index and its backup damaged.
        if (auto d = Digest::try_parse(ref); d && has_blob(*d)) return image(*d);
        throw;
    }
    // Full digest: a manifest digest or an image (config) id.
    if (auto d = Digest::try_parse(ref)) {
        for (const auto& m : idx.manifests)
            if (m.digest == *d) return image(m.digest);
        for (const auto& m : idx.manifests)
            if (config_digest_of(*this, m.digest) == *d) return image(m.digest);
        return std::nullopt;
    }
    // A name: exact tag match.
    std::string name;
    try {
        name = normalize_tag(ref);
    } catch (const UsageError&) {
        name.clear();
    }
    if (!name.empty())
        for (const auto& m : idx.manifests)
            if (name_of(m) == name) return image(m.digest);
    // A short image id (hex prefix of the config digest), as docker accepts.
    if (ref.size() >= 4 && ref.size() <= 64 && is_lower_hex(ref)) {
        std::optional<Digest> found;
        for (const auto& m : idx.manifests) {
            if (config_digest_of(*this, m.digest).hex().rfind(ref, 0) != 0) continue;
            if (found && *found != m.digest) throw UsageError("image id prefix \"" + ref + "\" is ambiguous");
            found = m.digest;
        }
        if (!found) return std::nullopt;
        return image(*found);
    }
    return std::nullopt;
}

Image Store::resolve_image(std::string_view ref) const {
    if (auto img = find_image(ref)) return *img;
    throw NotFoundError("image not found: " + std::string(ref));
}

void Store::tag(std::string_view name_in, const Digest& manifest_digest) {
    std::string name = normalize_tag(name_in);
    oci::Descriptor entry = manifest_descriptor(*this, manifest_digest);
    entry.annotations[ref_name] = name;
    update_index(*this, [&](oci::Index& idx) {
        auto& ms = idx.manifests;
        // The name already on this image, and no untagged entry of it beside: nothing moves
        // (so the index is not rewritten).
        auto holds = [&](const oci::Descriptor& d) { return d.digest == manifest_digest && name_of(d) == name; };
        auto untagged = [&](const oci::Descriptor& d) { return d.digest == manifest_digest && name_of(d).empty(); };
        if (std::any_of(ms.begin(), ms.end(), holds) && std::none_of(ms.begin(), ms.end(), untagged)) return;
        ms.erase(std::remove_if(ms.begin(), ms.end(),
                                [&](const oci::Descriptor& d) {
                                    std::string n = name_of(d);
                                    // Drop the old holder of the name, and an untagged entry for this image.
                                    return n == name || (n.empty() && d.digest == manifest_digest);
                                }),
                 ms.end());
        ms.push_back(entry);
    });
}

bool Store::untag(std::string_view name_in) {
    std::string name = normalize_tag(name_in);
    bool found = false;
    update_index(*this, [&](oci::Index& idx) {
        auto& ms = idx.manifests;
        auto before = ms.size();
        ms.erase(std::remove_if(ms.begin(), ms.end(), [&](const oci::Descriptor& d) { return name_of(d) == name; }),
                 ms.end());
        found = ms.size() != before;
    });
    return found;
}

std::vector<TagEntry> Store::tags() const {
    std::vector<TagEntry> out;
    for (const auto& m : read_index(*this).manifests) out.push_back({name_of(m), m.digest});
    return out;
}

}  // namespace imgbuild::layerstore

namespace imgbuild::layerstore {

void Store::keep_untagged(const Digest& manifest_digest) {
    oci::Descriptor entry = manifest_descriptor(*this, manifest_digest);
    update_index(*this, [&](oci::Index& idx) {
        for (const auto& d : idx.manifests)
            if (d.digest == manifest_digest) return;
        idx.manifests.push_back(entry);
    });
}

void Store::remove_image(const Digest& manifest_digest) {
    update_index(*this, [&](oci::Index& idx) {
        auto& ms = idx.manifests;
        ms.erase(std::remove_if(ms.begin(), ms.end(), [&](const oci::Descriptor& d) { return d.digest == manifest_digest; }),
                 ms.end());
    });
}

}  // namespace imgbuild::layerstore

namespace imgbuild::layerstore {

IndexCheck check_index(const Store& s) {
    IndexCheck c;
    bool backup_exists = false;
    try {
        backup_exists = read_index_file(backup_path(s)).has_value();
    } catch (const Error& e) {
        backup_exists = true;
        c.backup_problem = e.what();
    }
    // A missing backup is fine (a store made before there were backups: the next write
    // makes it); a missing index beside a backup is damage.
    try {
        if (!read_index_file(index_path(s)) && backup_exists) c.primary_problem = index_path(s).string() + " is missing";
    } catch (const Error& e) {
        c.primary_problem = e.what();
    }
    return c;
}

std::string restore_index(const Store& s) {
    FileLock lock(s.root() / "images/index.lock", LOCK_EX);
    std::optional<oci::Index> idx;
    try {
        idx = read_index_file(backup_path(s));
    } catch (const Error&) {
    }
    if (idx) {
        write_index(s, *idx);
        return "restored " + index_path(s).string() + " from " + backup_path(s).string();
    }
    try {
        idx = read_index_file(index_path(s));
    } catch (const Error&) {
    }
    if (idx) {
        write_index(s, *idx);
        return "rewrote " + backup_path(s).string() + " from " + index_path(s).string();
    }
    // Both lost: every manifest in the store becomes an untagged image again (a blob that
    // parses as an image manifest); names come back with tag, load or build.
    oci::Index rebuilt;
    for (const auto& d : s.list_blobs()) {
        try {
            std::string what = "blob " + d.str();
            auto j = oci::parse_json(s.read_blob(d), what);
            if (!j.is_object() || !j.contains("config") || !j.contains("layers")) continue;
            (void)oci::manifest_from_json(j, what);
            rebuilt.manifests.push_back(manifest_descriptor(s, d));
        } catch (const std::exception&) {
        }
    }
    write_index(s, rebuilt);
    return "rebuilt " + index_path(s).string() + " and its backup from the manifests in the store: " +
           std::to_string(rebuilt.manifests.size()) + " images, without names (the names were in the damaged files)";
}

}  // namespace imgbuild::layerstore
