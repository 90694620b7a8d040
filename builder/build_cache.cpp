#include "builder/build_cache.h"

#include <cerrno>

#include "common/error.h"
#include "oci/image.h"

namespace imgbuild::builder {

CacheKey& CacheKey::add(std::string_view name, std::string_view value) {
    std::string header = std::to_string(name.size()) + ":" + std::string(name) + "=" + std::to_string(value.size()) + ":";
    hash_.update(header);
    hash_.update(value);
    return *this;
}

Digest state_after(const nlohmann::json& config) {
    nlohmann::json content = config;
    content.erase("history");  // how the image came to be, not what it is
    content.erase("created");
    CacheKey k(Digest::of("imgbuild-state-v2"));
    k.add("diff_ids", config.contains("rootfs") ? config["rootfs"].value("diff_ids", nlohmann::json::array()).dump() : "[]");
    k.add("config", oci::canonical(content));
    return k.finish();
}

std::optional<BuildCache::Hit> BuildCache::lookup(const Digest& key) const {
    std::string text;
    try {
        text = read_file(store_.root() / "cache" / key.hex());
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return std::nullopt;
        throw;
    }
    auto config_digest = Digest::try_parse(text);
    if (!config_digest || !store_.has_blob(*config_digest)) return std::nullopt;
    // Entries and intermediate configs are written without fsync (build_cache.h): one torn
    // by a power loss fails its digest check here and is a miss, not an error.
    std::string config_text;
    try {
        config_text = store_.read_blob(*config_digest);
    } catch (const Error&) {
        return std::nullopt;
    }
    // The layers may have been pruned since: then the entry is useless.
    Hit hit{*config_digest, oci::parse_json(config_text, "cached config " + config_digest->str()), {}};
    std::optional<std::string> parent;
    for (const auto& diff_id : oci::config_diff_ids(hit.config, "cached config")) {
        auto layer = store_.layer(layerstore::Store::chain_id(parent, diff_id));
        if (!layer) return std::nullopt;
        parent = layer->id;
        hit.layers.push_back(std::move(*layer));
    }
    return hit;
}

void BuildCache::record(const Digest& key, const Digest& config_digest) {
    atomic_write_file(store_.root() / "cache" / key.hex(), config_digest.str(), store_.tmp_dir(), Durability::relaxed);
}

}  // namespace imgbuild::builder
