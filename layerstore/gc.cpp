#include "layerstore/gc.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <set>

#include "common/error.h"
#include "common/process.h"
#include "common/time.h"
#include "layerstore/containers.h"
#include "oci/image.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

namespace {

// The objects a set of roots reaches: blob hex digests and layer chain ids.
struct Marks {
    std::set<std::string> blobs, layers;
    [[nodiscard]] bool has(ObjectKind k, const std::string& id) const {
        return (k == ObjectKind::blob ? blobs : layers).count(id) != 0;
    }
};

// Walks from roots to everything they reach. Unreadable or damaged objects are marked but
// not followed: removing damage is fsck --repair's job, gc only removes what is unreachable.
class Marker {
public:
    Marker(const Store& store, Marks& marks) : store_(store), m_(marks) {}

    void blob(const std::string& hex) { m_.blobs.insert(hex); }

    void layer(const std::string& id) {
        if (!m_.layers.insert(id).second) return;
        try {
            if (auto l = store_.layer(id)) {
                for (const auto& b : l->blobs) blob(b.digest.hex());
                if (l->parent) layer(*l->parent);
            }
        } catch (const std::exception&) {
        }
    }

    void config(const Digest& d) {
        if (!configs_.insert(d.hex()).second) return;
        blob(d.hex());
        try {
            auto cfg = oci::parse_json(store_.read_blob(d), "config " + d.str());
            std::optional<std::string> parent;
            for (const auto& diff_id : oci::config_diff_ids(cfg, "config " + d.str())) {
                std::string id = Store::chain_id(parent, diff_id);
                layer(id);
                parent = id;
            }
        } catch (const std::exception&) {
        }
    }

    void manifest(const Digest& d) {
        if (!manifests_.insert(d.hex()).second) return;
        blob(d.hex());
        try {
            std::string what = "manifest " + d.str();
            auto man = oci::manifest_from_json(oci::parse_json(store_.read_blob(d), what), what);
            for (const auto& l : man.layers) blob(l.digest.hex());
            config(man.config.digest);
        } catch (const std::exception&) {
        }
    }

    void lease_entry(const LeaseEntry& e) {
        if (e.kind == ObjectKind::blob) blob(e.id);
        else layer(e.id);
    }

private:
    const Store& store_;
    Marks& m_;
    // Followed apart from the marks: a lease marks a manifest as a plain blob, and a
    // tag reaching it later must still follow it to its config and layers.
    std::set<std::string> manifests_, configs_;
};

struct CacheEntry {
    fs::path path;
    std::optional<Digest> config;
    int64_t mtime = 0;
};

bool is_cache_key(const std::string& name) { return name.size() == 64 && is_lower_hex(name); }

std::vector<CacheEntry> cache_entries(const Store& store) {
    std::vector<CacheEntry> out;
    for (const auto& e : fs::directory_iterator(store.root() / "cache")) {
        if (!is_cache_key(e.path().filename().string())) continue;
        CacheEntry c{e.path(), std::nullopt, 0};
        struct stat st {};
        if (::stat(c.path.c_str(), &st) == 0) c.mtime = st.st_mtim.tv_sec;
        try {
            c.config = Digest::try_parse(read_file(c.path));
        } catch (const std::exception&) {
        }
        out.push_back(std::move(c));
    }
    return out;
}

// What containers hold: their image (its config, and through it its layers), whatever
// their state: a stopped container can be started, committed or copied from again. A
// `run` in progress is also held by its Store lease until its record exists.
struct ContainerUse {
    std::set<std::string> image_configs;  // config digests (image ids) in use
    std::vector<std::string> layers;
};
ContainerUse container_use(const Store& store) {
    ContainerUse use;
    Containers containers(store);
    for (const auto& id : containers.ids()) {
        try {
            auto config = containers.config(id);
            if (!config.image_id.empty()) use.image_configs.insert(config.image_id);
            use.layers.insert(use.layers.end(), config.layers.begin(), config.layers.end());
        } catch (const std::exception&) {
            // A record that cannot be read names no image; `rm -f` removes it.
        }
    }
    return use;
}

// Live leases are marked; stale ones (their process is gone) are removed.
size_t mark_leases(const Store& store, Marker& marker, bool remove_stale) {
    size_t stale = 0;
    for (const auto& f : list_leases(store.leases_dir())) {
        if (!process_is(f.pid, f.start_time)) {
            if (remove_stale && ::unlink(f.path.c_str()) == 0) ++stale;
            continue;
        }
        for (const auto& e : read_lease(f.path)) marker.lease_entry(e);
    }
    return stale;
}

uint64_t blob_size(const Store& store, const std::string& hex) {
    struct stat st {};
    if (::lstat((store.root() / "blobs/sha256" / hex).c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size);
}

uint64_t layer_size(const Store& store, const std::string& id) {
    try {
        if (auto l = store.layer(id)) return l->tar_size;
    } catch (const std::exception&) {
    }
    return 0;
}

// Every object the store holds (directory listings; nothing is parsed).
Marks all_objects(const Store& store) {
    Marks all;
    for (const auto& e : fs::directory_iterator(store.root() / "blobs/sha256")) {
        std::string hex = e.path().filename().string();
        if (hex.size() == 64 && is_lower_hex(hex)) all.blobs.insert(hex);
    }
    for (const auto& e : fs::directory_iterator(store.root() / "layers")) all.layers.insert(e.path().filename().string());
    return all;
}

uint64_t size_of(const Store& store, const Marks& objs, const std::function<bool(ObjectKind, const std::string&)>& counted) {
    uint64_t total = 0;
    for (const auto& b : objs.blobs)
        if (counted(ObjectKind::blob, b)) total += blob_size(store, b);
    for (const auto& l : objs.layers)
        if (counted(ObjectKind::layer, l)) total += layer_size(store, l);
    return total;
}

void remove_layer_dir(const Store& store, const std::string& id) {
    fs::path dir = store.root() / "layers" / id;
    // Out of layers/ in one rename, so that a kill halfway through the removal leaves no
    // half layer behind (tmp/ is cleaned at the next open).
    fs::path aside = store.tmp_dir() / ("gc-" + id.substr(0, 16) + "-" + random_hex(4));
    rename_or_throw(dir, aside);
    remove_tree(aside);
}

void remove_dangling_short_links(const Store& store) {
    for (const auto& e : fs::directory_iterator(store.short_links_dir())) {
        struct stat st {};
        if (::stat(e.path().c_str(), &st) != 0 && errno == ENOENT) ::unlink(e.path().c_str());
    }
}

std::optional<int64_t> image_created(const Store& store, const Digest& manifest) {
    try {
        std::string what = "manifest " + manifest.str();
        auto man = oci::manifest_from_json(oci::parse_json(store.read_blob(manifest), what), what);
        auto cfg = oci::parse_json(store.read_blob(man.config.digest), "config");
        if (cfg.contains("created") && cfg["created"].is_string()) return parse_rfc3339(cfg["created"].get<std::string>());
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

std::optional<Digest> image_id(const Store& store, const Digest& manifest) {
    try {
        std::string what = "manifest " + manifest.str();
        return oci::manifest_from_json(oci::parse_json(store.read_blob(manifest), what), what).config.digest;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void drop_images(Store& store, const PruneOptions& opts, const ContainerUse& use, PruneReport& r) {
    if (opts.images == ImagePrune::none) return;
    std::set<std::string> deleted;
    for (const auto& t : store.tags()) {
        if (opts.images == ImagePrune::dangling && !t.name.empty()) continue;
        auto id = image_id(store, t.manifest_digest);
        if (id && use.image_configs.count(id->str())) continue;
        if (opts.until) {
            auto created = image_created(store, t.manifest_digest);
            if (!created || *created >= *opts.until) continue;
        }
        if (t.name.empty()) store.remove_image(t.manifest_digest);
        else if (store.untag(t.name)) r.untagged.push_back(t.name);
        bool still_listed = false;
        for (const auto& u : store.tags()) still_listed |= u.manifest_digest == t.manifest_digest;
        if (!still_listed && deleted.insert(t.manifest_digest.str()).second)
            r.deleted.push_back(id ? id->str() : t.manifest_digest.str());
    }
}

// A build running meanwhile may add a record as they go (ENOTEMPTY): a new record may stay.
void remove_explain_records(const fs::path& dir) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        std::error_code ec;
        fs::remove_all(dir, ec);
        if (!ec || ec == std::errc::no_such_file_or_directory) return;
        if (ec != std::errc::directory_not_empty) throw_errno(ec.value(), "remove", dir.string());
    }
}

void drop_cache(Store& store, const PruneOptions& opts, PruneReport& r) {
    if (!opts.build_cache) return;
    for (const auto& c : cache_entries(store)) {
        if (opts.until && c.mtime >= *opts.until) continue;
        if (::unlink(c.path.c_str()) == 0) ++r.cache_entries;
    }
    // The file hash memo is build cache too; it only saves re-reading context files.
    // So are the records that explain misses (builder/cache_explain.h): after a prune the next
    // build of a stage is its first.
    if (!opts.until) {
        ::unlink((store.root() / "cache/file-hashes.json").c_str());
        remove_explain_records(store.root() / "cache/explain");
    }
}

}  // namespace

PruneReport prune(Store& store, const PruneOptions& opts) {
    GcExclusive gc(store);
    PruneReport r;
    ContainerUse use = container_use(store);
    drop_images(store, opts, use, r);
    drop_cache(store, opts, r);

    // Listing before marking: what is made after the listing is not swept whatever the marks.
    Marks all = all_objects(store);
    Marks live;
    Marker marker(store, live);
    // Leases first: a process tags its image or records its cache entry before it drops its
    // lease, so a lease already gone when read here left a tag or entry read below.
    r.stale_leases = mark_leases(store, marker, true);
    for (const auto& t : store.tags()) marker.manifest(t.manifest_digest);
    for (const auto& c : cache_entries(store))
        if (c.config) marker.config(*c.config);
    for (const auto& id : use.layers) marker.layer(id);
    for (const auto& id : use.image_configs)
        if (auto d = Digest::try_parse(id)) marker.config(*d);

    for (const auto& id : all.layers) {
        if (live.layers.count(id)) continue;
        r.reclaimed += layer_size(store, id);
        remove_layer_dir(store, id);
        ++r.layers;
    }
    for (const auto& hex : all.blobs) {
        if (live.blobs.count(hex)) continue;
        uint64_t size = blob_size(store, hex);
        fs::path p = store.root() / "blobs/sha256" / hex;
        if (::unlink(p.c_str()) != 0) {
            if (errno == ENOENT) continue;
            throw_errno("unlink", p.string());
        }
        r.reclaimed += size;
        ++r.blobs;
    }
    if (r.blobs) fsync_dir(store.root() / "blobs/sha256");
    remove_dangling_short_links(store);
    return r;
}

DiskUsage disk_usage(Store& store) {
    GcExclusive gc(store);  // a consistent picture: nothing is added or leased meanwhile
    DiskUsage u;
    ContainerUse use = container_use(store);
    Marks all = all_objects(store);
    Marks from_images, from_cache, held;
    {
        Marker m(store, held);  // leases first, as in prune
        (void)mark_leases(store, m, false);
        for (const auto& id : use.layers) m.layer(id);
        for (const auto& id : use.image_configs)
            if (auto d = Digest::try_parse(id)) m.config(*d);
    }
    {
        Marker m(store, from_images);
        std::set<std::string> manifests;
        for (const auto& t : store.tags()) {
            if (!manifests.insert(t.manifest_digest.str()).second) continue;
            m.manifest(t.manifest_digest);
            ++u.images.total;
            if (auto id = image_id(store, t.manifest_digest); id && use.image_configs.count(id->str())) ++u.images.active;
        }
    }
    {
        Marker m(store, from_cache);
        for (const auto& c : cache_entries(store)) {
            ++u.build_cache.total;
            if (c.config) m.config(*c.config);
        }
    }
    auto in_store = [&](ObjectKind k, const std::string& id) { return all.has(k, id); };
    u.images.size = size_of(store, from_images, in_store);
    u.images.reclaimable = size_of(store, from_images, [&](ObjectKind k, const std::string& id) {
        return in_store(k, id) && !held.has(k, id) && !from_cache.has(k, id);
    });
    u.build_cache.size = size_of(store, from_cache, [&](ObjectKind k, const std::string& id) {
        return in_store(k, id) && !from_images.has(k, id);
    });
    u.build_cache.reclaimable = size_of(store, from_cache, [&](ObjectKind k, const std::string& id) {
        return in_store(k, id) && !from_images.has(k, id) && !held.has(k, id);
    });
    u.unreferenced.size = size_of(store, all, [&](ObjectKind k, const std::string& id) {
        if (from_images.has(k, id) || from_cache.has(k, id)) return false;
        if (!held.has(k, id)) ++u.unreferenced.total;
        return !held.has(k, id);
    });
    u.unreferenced.reclaimable = u.unreferenced.size;
    return u;
}

}  // namespace imgbuild::layerstore
