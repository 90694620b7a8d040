#include "layerstore/fsck.h"

#include <unistd.h>

#include <map>
#include <set>

#include "common/error.h"
#include "layerstore/gc.h"
#include "oci/layer_tar.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

namespace {

// One check per object, each remembered so that an image sharing a layer does not re-tar it.
class Checker {
public:
    Checker(const Store& store, FsckReport& r) : store_(store), r_(r) {}

    bool blob(const Digest& d) {
        if (auto it = blobs_.find(d.hex()); it != blobs_.end()) return it->second;
        ++r_.blobs;
        std::string problem;
        bool ok = store_.verify_blob(d, &problem);
        if (!ok) r_.damage.push_back({DamageKind::blob, d.hex(), problem});
        return blobs_[d.hex()] = ok;
    }

    bool layer(const std::string& id) {
        if (auto it = layers_.find(id); it != layers_.end()) return it->second;
        ++r_.layers;
        std::string problem = layer_problem(id);
        if (!problem.empty()) r_.damage.push_back({DamageKind::layer, id, "layer " + id + ": " + problem});
        return layers_[id] = problem.empty();
    }

    // Empty when the image is sound; else the first thing wrong with it.
    std::string image(const Digest& manifest) {
        ++r_.images;
        try {
            if (!blob(manifest)) return "manifest " + manifest.str() + " is damaged or missing";
            Image img = store_.image(manifest);
            if (!blob(img.config_digest)) return "config " + img.config_digest.str() + " is damaged or missing";
            for (const auto& l : img.layers)
                if (!layer(l.id)) return "layer " + l.id + " is damaged";
            for (const auto& d : img.manifest.layers)
                if (d.media_type != oci::media::oci_layer_tar && !blob(d.digest))
                    return "layer blob " + d.digest.str() + " is damaged or missing";
        } catch (const std::exception& ex) {
            return ex.what();
        }
        return {};
    }

private:
    std::string layer_problem(const std::string& id) {
        try {
            auto l = store_.layer(id);
            if (!l) return fs::exists(store_.root() / "layers" / id) ? "no meta.json" : "missing";
            if (l->id != id) return "meta.json names layer " + l->id;
            if (!fs::is_directory(l->diff_dir)) return "diff/ is missing";
            if (l->dir_digest) {
                auto now = oci::write_layer_tar(l->diff_dir, -1,
                                                 oci::TarWriteOptions{oci::Compression::none, l->source_date_epoch})
                               .diff_id;
                if (now != *l->dir_digest)
                    return "diff/ has changed since it was made (" + now.str() + " != " + l->dir_digest->str() + ")";
            }
            // diff/ is sound: a bad blob is the blob's damage, not the layer's (repair drops
            // the blob and its record, and keeps the layer).
            for (const auto& b : l->blobs) {
                const bool present = store_.has_blob(b.digest);
                if (present && blob(b.digest)) continue;
                r_.damage.push_back({DamageKind::layer_blob, id + "/" + b.digest.hex(),
                                     "layer " + id + ": its blob " + b.digest.str() + (present ? " is damaged" : " is missing")});
            }
        } catch (const std::exception& ex) {
            return ex.what();
        }
        return {};
    }

    const Store& store_;
    FsckReport& r_;
    std::map<std::string, bool> blobs_, layers_;
};

std::string image_label(const TagEntry& t) { return t.name.empty() ? t.manifest_digest.str() : t.name; }

// A loaded or pulled image's manifest names its layers' compressed blobs. When one of those
// is the only damage (its manifest, config and every layer's diff/ sound; the blob's record
// already dropped), the image need not lose its name: the manifest is made again over the
// same config bytes (so the same image id), naming that layer by its uncompressed tar as a
// built image does, which save and push make again from diff/. nullopt when the image has
// other damage (it then loses its names, as before).
std::optional<Digest> manifest_without_damaged_blobs(Store& store, const Digest& manifest,
                                                     const std::set<std::string>& bad_layers) {
    try {
        if (!store.verify_blob(manifest, nullptr)) return std::nullopt;
        Image img = store.image(manifest);
        if (!store.verify_blob(img.config_digest, nullptr)) return std::nullopt;
        for (const auto& l : img.layers)
            if (bad_layers.count(l.id)) return std::nullopt;
        Image fresh = store.put_image_config_bytes(store.read_blob(img.config_digest), img.layers);
        if (fresh.manifest_digest == manifest) return std::nullopt;  // not a blob's damage
        return fresh.manifest_digest;
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace

FsckReport fsck(const Store& store) {
    FsckReport r;
    Checker c(store, r);
    auto idx = check_index(store);
    if (!idx.primary_problem.empty()) r.damage.push_back({DamageKind::index, "index.json", "index: " + idx.primary_problem});
    if (!idx.backup_problem.empty()) r.damage.push_back({DamageKind::index, "index.backup.json", "index backup: " + idx.backup_problem});
    for (const auto& d : store.list_blobs()) (void)c.blob(d);
    for (const auto& e : fs::directory_iterator(store.root() / "layers")) (void)c.layer(e.path().filename().string());
    std::vector<TagEntry> tags;
    try {
        tags = store.tags();
    } catch (const Error&) {  // both index files damaged: reported above
    }
    for (const auto& t : tags) {
        std::string problem = c.image(t.manifest_digest);
        if (!problem.empty()) r.damage.push_back({DamageKind::image, image_label(t), "image " + image_label(t) + ": " + problem});
    }
    for (const auto& e : fs::directory_iterator(store.root() / "cache")) {
        std::string key = e.path().filename().string();
        if (key.size() != 64 || !is_lower_hex(key)) continue;
        try {
            if (!Digest::try_parse(read_file(e.path())))
                r.damage.push_back({DamageKind::cache_entry, key, "cache entry " + key + ": not a digest"});
        } catch (const std::exception& ex) {
            r.damage.push_back({DamageKind::cache_entry, key, "cache entry " + key + ": " + ex.what()});
        }
    }
    return r;
}

FsckReport fsck_images(const Store& store, const std::vector<std::string>& refs) {
    FsckReport r;
    Checker c(store, r);
    auto tags = store.tags();
    for (const auto& ref : refs) {
        std::optional<Digest> manifest;
        // A name in the index is checked even when its manifest cannot be read.
        try {
            std::string name = normalize_tag(ref);
            for (const auto& t : tags)
                if (t.name == name) manifest = t.manifest_digest;
        } catch (const UsageError&) {
        }
        if (!manifest) {
            try {
                manifest = store.resolve_image(ref).manifest_digest;
            } catch (const std::exception& ex) {
                r.damage.push_back({DamageKind::image, ref, "image " + ref + ": " + ex.what()});
                continue;
            }
        }
        std::string problem = c.image(*manifest);
        if (!problem.empty()) r.damage.push_back({DamageKind::image, ref, "image " + ref + ": " + problem});
    }
    return r;
}

RepairReport repair(Store& store) {
    RepairReport rep;
    {
        GcExclusive gc(store);
        rep.before = fsck(store);
        for (const auto& d : rep.before.damage)
            if (d.kind == DamageKind::index) {
                rep.removed.push_back(restore_index(store));
                break;
            }
        std::set<std::string> bad_blobs, bad_layers;
        for (const auto& d : rep.before.damage) {
            switch (d.kind) {
            case DamageKind::blob:
                bad_blobs.insert(d.id);
                if (::unlink(store.blob_path(*Digest::try_parse("sha256:" + d.id)).c_str()) == 0)
                    rep.removed.push_back("removed " + d.text);
                break;
            case DamageKind::layer:
                bad_layers.insert(d.id);
                if (fs::exists(store.root() / "layers" / d.id)) {
                    fs::path aside = store.tmp_dir() / ("damaged-" + d.id.substr(0, 16) + "-" + random_hex(4));
                    rename_or_throw(store.root() / "layers" / d.id, aside);
                    remove_tree(aside);
                    rep.removed.push_back("removed " + d.text);
                }
                break;
            case DamageKind::layer_blob:
            {
                const auto slash = d.id.find('/');
                store.remove_layer_blob_record(d.id.substr(0, slash), Digest::parse("sha256:" + d.id.substr(slash + 1)));
            }
                rep.removed.push_back("removed the record of " + d.text + " (diff/ is kept; save or push compresses it again)");
                break;
            case DamageKind::image:
            case DamageKind::index:
                break;  // the index first (above); images below, once every damaged object is known
            case DamageKind::cache_entry:
                ::unlink((store.root() / "cache" / d.id).c_str());
                rep.removed.push_back("removed " + d.text);
                break;
            }
        }
        for (const auto& d : rep.before.damage) {
            if (d.kind != DamageKind::image) continue;
            bool removed = false, remade = false;
            for (const auto& t : store.tags()) {
                if (image_label(t) != d.id) continue;
                if (auto fresh = manifest_without_damaged_blobs(store, t.manifest_digest, bad_layers)) {
                    if (t.name.empty()) {
                        store.remove_image(t.manifest_digest);
                        store.keep_untagged(*fresh);
                    } else {
                        store.tag(t.name, *fresh);
                    }
                    remade = true;
                    continue;
                }
                if (t.name.empty()) store.remove_image(t.manifest_digest);
                else store.untag(t.name);
                removed = true;
            }
            if (remade)
                rep.removed.push_back("kept " + d.id + " (same id): its manifest names the damaged layer blob's layer by its "
                                      "tar now, made again from diff/ by save or push (" + d.text + ")");
            if (removed) rep.removed.push_back("removed the name of " + d.text + " (load or build it again)");
        }
    }
    // Cache entries that led to a removed object are misses now; gc drops what nothing reaches.
    auto gc = prune(store, PruneOptions{});
    if (gc.blobs || gc.layers)
        rep.removed.push_back("removed " + std::to_string(gc.layers) + " unreachable layers and " +
                              std::to_string(gc.blobs) + " unreachable blobs");
    return rep;
}

}  // namespace imgbuild::layerstore
