#include "builder/remote_cache.h"

#include <map>
#include <set>

#include "builder/cache_location.h"
#include "builder/cache_mount_transfer.h"
#include "common/error.h"
#include "common/strings.h"
#include "layerstore/layer_blobs.h"
#include "layerstore/layer_import.h"
#include "oci/image.h"
#include "registry/distribution.h"
#include "registry/parallel.h"

namespace imgbuild::builder {

using nlohmann::json;

CacheSpec parse_cache_spec(const std::string& text, const std::string& flag) {
    CacheSpec spec;
    if (text.find('=') == std::string::npos) {  // a bare reference, as buildx accepts for --cache-from
        spec.type = "registry";
        spec.location = text;
        return spec;
    }
    std::string dest, src;
    for (std::string_view part_view : split(text, ',')) {
        std::string part(part_view);
        auto eq = part.find('=');
        if (eq == std::string::npos) throw UsageError(flag + " " + text + ": \"" + part + "\" is not KEY=VALUE");
        std::string k = part.substr(0, eq), v = part.substr(eq + 1);
        if (k == "type") spec.type = v;
        else if (k == "ref") spec.location = v;
        else if (k == "dest") dest = v;
        else if (k == "src") src = v;
        else if (k == "mode") {
            if (v != "min" && v != "max") throw UsageError(flag + ": mode must be min or max, not " + v);
            spec.max = v == "max";
        } else if (k == "mounts") {
            if (v != "true" && v != "false") throw UsageError(flag + ": mounts must be true or false, not " + v);
            spec.mounts = v == "true";
        } else {
            throw UsageError(flag + ": unknown key \"" + k + "\" (type, ref, dest, src, mode, mounts)");
        }
    }
    bool to = flag == "--cache-to";
    if (spec.type == "registry") {
        if (spec.location.empty()) throw UsageError(flag + " " + text + ": type=registry needs ref=REF");
        if (!dest.empty() || !src.empty()) throw UsageError(flag + ": dest= and src= are for type=local");
    } else if (spec.type == "local") {
        if (!spec.location.empty()) throw UsageError(flag + ": ref= is for type=registry");
        if (to && !src.empty()) throw UsageError(flag + ": type=local takes dest=DIR (src= is for --cache-from)");
        if (!to && !dest.empty()) throw UsageError(flag + ": type=local takes src=DIR (dest= is for --cache-to)");
        spec.location = to ? dest : src;
        if (spec.location.empty()) throw UsageError(flag + " " + text + ": type=local needs " + (to ? "dest=DIR" : "src=DIR"));
    } else {
        throw UsageError(flag + " " + text + ": type must be registry or local" +
                         (spec.type.empty() ? std::string() : ", not " + spec.type));
    }
    if (!to && (spec.max || spec.mounts)) throw UsageError(flag + ": mode= and mounts= are for --cache-to");
    return spec;
}

// ---- import

struct RemoteCache::Source {
    std::unique_ptr<CacheLocation> location;
    struct Step {
        Digest config_digest;
        json config;
    };
    std::map<std::string, Step> steps;                  // by key
    std::map<std::string, oci::Descriptor> layers;      // by diff_id
    std::vector<std::pair<std::string, oci::Descriptor>> mounts;  // id, blob
};

namespace {

// The cache config of a cache manifest, fetched whole (small) and verified.
json read_cache_config(layerstore::Store& store, CacheLocation& loc, const std::string& manifest_bytes) {
    std::string what = loc.name() + ": cache manifest";
    json mj = oci::parse_json(manifest_bytes, what);
    oci::Manifest m = oci::manifest_from_json(mj, what);
    if (m.config.media_type != kCacheConfigType)
        throw Error(what + ": not an imgbuild build cache (config media type " + m.config.media_type + ")");
    // Parsed whole and kept while the build runs: bounded like a manifest.
    if (m.config.size > static_cast<int64_t>(registry::kMaxManifestSize)) throw Error(what + ": cache config larger than 4 MiB");
    layerstore::BlobImport cfg(store, m.config, "cache config " + m.config.digest.str());
    loc.fetch(cfg);
    json c = oci::parse_json(cfg.read(), loc.name() + ": cache config");
    if (c.value("version", 0) != 1) throw Error(loc.name() + ": cache config version " + c.value("version", json()).dump() + " is not 1");
    return c;
}

}  // namespace

RemoteCache::RemoteCache(layerstore::Store& store, const std::vector<CacheSpec>& from,
                         const registry::RegistryOptions& opts, Progress& progress)
    : store_(store), progress_(progress) {
    for (const auto& spec : from) {
        auto src = std::make_unique<Source>();
        try {
            src->location = open_cache_location(store, spec, opts);
            auto bytes = src->location->manifest();
            if (!bytes) {
                progress_.message("cache-from " + src->location->name() + ": no cache there yet");
                continue;
            }
            json c = read_cache_config(store, *src->location, *bytes);
            std::string what = src->location->name() + ": cache config";
            for (const auto& s : c.value("steps", json::array()))
                src->steps[s.at("key").get<std::string>()] = {Digest::parse(s.at("config_digest").get<std::string>()),
                                                              s.at("config")};
            for (const auto& l : c.value("layers", json::array()))
                src->layers[l.at("diff_id").get<std::string>()] = oci::descriptor_from_json(l, what);
            for (const auto& mnt : c.value("mounts", json::array()))
                src->mounts.emplace_back(mnt.at("id").get<std::string>(), oci::descriptor_from_json(mnt, what));
            progress_.message("cache-from " + src->location->name() + ": " + std::to_string(src->steps.size()) + " steps");
            sources_.push_back(std::move(src));
        } catch (const std::exception& e) {
            progress_.message(std::string("warning: cache-from: ") + e.what() + " (building without it)");
        }
    }
}

RemoteCache::~RemoteCache() = default;

std::optional<std::string> RemoteCache::fetch(const Digest& key, BuildCache& local) {
    for (auto& src : sources_) {
        auto it = src->steps.find(key.str());
        if (it == src->steps.end()) continue;
        const auto& step = it->second;
        try {
            std::string text = oci::canonical(step.config);
            if (Digest::of(text) != step.config_digest)
                throw Error("step " + key.str() + ": config does not hash to " + step.config_digest.str());
            // The layers this step's result stands on that the store lacks, each verified and
            // unpacked on its own parent; all or nothing goes in.
            std::vector<std::unique_ptr<layerstore::StagedLayer>> staged;
            std::optional<std::string> parent;
            for (const auto& diff_id : oci::config_diff_ids(step.config, "cached config")) {
                std::string id = layerstore::Store::chain_id(parent, diff_id);
                if (!store_.layer(id)) {
                    auto l = src->layers.find(diff_id.str());
                    if (l == src->layers.end()) throw Error("layer " + diff_id.str() + " is not in the cache");
                    layerstore::BlobImport blob(store_, l->second, "layer " + l->second.digest.str());
                    src->location->fetch(blob);
                    staged.push_back(std::make_unique<layerstore::StagedLayer>(
                        layerstore::stage_layer(store_, std::move(blob), parent, diff_id)));
                }
                parent = id;
            }
            for (auto& s : staged) (void)layerstore::install_layer(store_, *s);
            Digest stored = store_.put_blob(text, Durability::relaxed);
            local.record(key, stored);
            return "cache-from " + src->location->name();
        } catch (const std::exception& e) {
            progress_.message("warning: cache-from " + src->location->name() + ": " + e.what() + " (the step runs)");
        }
    }
    return std::nullopt;
}

size_t RemoteCache::restore_mounts() {
    size_t n = 0;
    for (auto& src : sources_)
        for (const auto& [id, blob] : src->mounts) {
            try {
                if (restore_cache_mount(store_, id, blob, *src->location)) ++n;
            } catch (const std::exception& e) {
                progress_.message("warning: cache-from " + src->location->name() + ": cache mount " + id + ": " + e.what());
            }
        }
    return n;
}

// ---- export

void export_cache(layerstore::Store& store, const CacheSpec& to, const std::vector<const StageCacheLog*>& stages,
                  const registry::RegistryOptions& opts, Progress& progress) {
    auto loc = open_cache_location(store, to, opts);
    try {
        json steps = json::array(), layers = json::array(), mounts = json::array();
        std::set<std::string> seen_keys, seen_layers;
        std::vector<oci::Descriptor> blobs;
        for (const StageCacheLog* log : stages) {
            for (const StepOutcome& o : log->steps()) {
                if (!o.config || !seen_keys.insert(o.key.str()).second) continue;
                json config = oci::parse_json(store.read_blob(*o.config), "config " + o.config->str());
                steps.push_back({{"key", o.key.str()}, {"config_digest", o.config->str()}, {"config", config}});
                std::optional<std::string> parent;
                for (const auto& diff_id : oci::config_diff_ids(config, "config " + o.config->str())) {
                    std::string id = layerstore::Store::chain_id(parent, diff_id);
                    parent = id;
                    if (!seen_layers.insert(diff_id.str()).second) continue;
                    auto layer = store.layer(id);
                    if (!layer) throw Error("layer " + diff_id.str() + " of step " + std::to_string(o.step) + " is gone");
                    oci::Descriptor d = oci::oci_layer_type(layerstore::compressed_layer_blob(store, *layer, oci::Compression::gzip));
                    json lj = oci::to_json(d);
                    lj["diff_id"] = diff_id.str();
                    layers.push_back(lj);
                    blobs.push_back(d);
                }
            }
        }
        if (to.mounts) {
            auto exported = export_cache_mounts(store);
            if (exported.empty()) progress.message("cache-to " + loc->name() + ": mounts=true: the store has no type=cache mounts to export");
            for (const auto& [id, d] : exported) {
                json mj = oci::to_json(d);
                mj["id"] = id;
                mounts.push_back(mj);
                blobs.push_back(d);
            }
        }
        json cfg = {{"version", 1}, {"steps", steps}, {"layers", layers}, {"mounts", mounts}};
        std::string cfg_bytes = oci::canonical(cfg);
        oci::Descriptor cfg_desc{kCacheConfigType, store.put_blob(cfg_bytes, Durability::relaxed),
                                 static_cast<int64_t>(cfg_bytes.size()), {}, std::nullopt};
        // The config first and alone (a registry that cannot be reached fails once, here), then the
        // layers four at a time.
        loc->put_blob(cfg_desc);
        registry::parallel_for(blobs.size(), registry::kParallelTransfers, [&](size_t i) { loc->put_blob(blobs[i]); });
        oci::Manifest m;
        m.config = cfg_desc;
        m.layers = blobs;
        json mj = oci::to_json(m);
        mj["artifactType"] = kCacheArtifactType;
        loc->put_manifest(oci::canonical(mj), oci::media::oci_manifest);
        progress.message("cache-to " + loc->name() + ": " + std::to_string(steps.size()) + " steps, " +
                         std::to_string(layers.size()) + " layers" +
                         (to.mounts ? ", " + std::to_string(mounts.size()) + " cache mounts" : ""));
    } catch (const std::exception& e) {
        throw Error("cache-to " + loc->name() + ": " + e.what());
    }
}

}  // namespace imgbuild::builder
