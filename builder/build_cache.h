#pragma once
// The build cache (DESIGN.md §6): step key -> the image config after that step. The layers
// follow from the config's diff_ids (chain ids), so an entry is one small file.
//
// Keys chain: key(step) = sha256(state before the step, the step's normalized inputs), and
// the state after a step = sha256(what the step produced: the diff_ids and the config less
// its history and dates), not of how it was produced. A step that missed (it changed, or
// --no-cache) and produced the same layer and config therefore lets the following steps hit
// again (probing goes on after a miss), and one that produced a different layer makes them
// miss — the cache never serves a result built on a different parent. A hit's history is
// that of the build at hand plus the step's own entry (see Build::run_instruction).
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

class CacheKey {
public:
    explicit CacheKey(const Digest& state) { add("state", state.str()); }
    // Fields are length-prefixed so that ("ab","c") and ("a","bc") differ.
    CacheKey& add(std::string_view name, std::string_view value);
    [[nodiscard]] Digest finish() { return hash_.finish(); }

private:
    Sha256 hash_;
};

// The state after a step whose resulting image config is `config` (see above).
[[nodiscard]] Digest state_after(const nlohmann::json& config);

// Entries are written atomically but without fsync: losing one to a power loss costs a
// rebuild of that step, while the fsyncs would cost every RUN step milliseconds.
class BuildCache {
public:
    explicit BuildCache(layerstore::Store& store) : store_(store) {}
    struct Hit {
        Digest config_digest;
        nlohmann::json config;
        std::vector<layerstore::LayerInfo> layers;
    };
    // The state recorded for `key`, if its config blob and every layer still exist.
    [[nodiscard]] std::optional<Hit> lookup(const Digest& key) const;
    void record(const Digest& key, const Digest& config_digest);

private:
    layerstore::Store& store_;
};

}  // namespace imgbuild::builder
