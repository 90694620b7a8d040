#pragma once
// The build cache beyond one store (build --cache-from / --cache-to), for fleets of CI machines
// that start empty. A cache is an OCI artifact of our own format (docs/architecture.md
// "Remote build cache"): an image manifest with artifactType application/vnd.imgbuild.cache.v1
// whose config (application/vnd.imgbuild.cache.config.v1+json) maps step keys to the image
// config after the step, and whose layers are every layer blob those configs name:
//   {"version": 1,
//    "steps":  [{"key": "sha256:...", "config_digest": "sha256:...", "config": {...}}],
//    "layers": [{"diff_id": "sha256:...", "digest": "sha256:...", "size": N, "mediaType": "..."}],
//    "mounts": [{"id": "pip", "digest": "sha256:...", "size": N}]}
// It lives in a registry (type=registry,ref=REF: pushed as REF, any distribution registry) or
// in an OCI layout directory (type=local,dest=DIR / src=DIR: index.json names it "cache").
// Import is lazy: the manifest and config are read when the build starts; a layer is fetched
// only when a step's key hits and the store lacks it, and the hit is then recorded in the
// local cache as if the step had been built here.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/build_cache.h"
#include "builder/build_options.h"
#include "builder/cache_explain.h"
#include "builder/progress.h"
#include "layerstore/store.h"
#include "registry/client.h"

namespace imgbuild::builder {

inline constexpr const char* kCacheArtifactType = "application/vnd.imgbuild.cache.v1";
inline constexpr const char* kCacheConfigType = "application/vnd.imgbuild.cache.config.v1+json";
inline constexpr const char* kCacheMountType = "application/vnd.imgbuild.cache.mount.v1.tar+gzip";

// "type=registry,ref=REF[,mode=min|max][,mounts=true]" or "type=local,dest=DIR|src=DIR[,...]";
// a bare REF is type=registry. `flag` names the option in errors. Throws UsageError.
[[nodiscard]] CacheSpec parse_cache_spec(const std::string& text, const std::string& flag);

class CacheLocation;

// The caches of --cache-from, read once at the start of the build.
class RemoteCache {
public:
    // A cache that cannot be read (unreachable, not there yet) is a warning, not an error:
    // the build then runs without it, as BuildKit does.
    RemoteCache(layerstore::Store& store, const std::vector<CacheSpec>& from, const registry::RegistryOptions& opts,
                Progress& progress);
    ~RemoteCache();
    RemoteCache(const RemoteCache&) = delete;
    RemoteCache& operator=(const RemoteCache&) = delete;

    // On a local miss: the step's result from the first cache that has `key`, its missing layers
    // fetched and unpacked now, recorded in `local`. Returns where it came from ("cache-from
    // registry REF"), nullopt when no cache has it or fetching failed (a warning).
    std::optional<std::string> fetch(const Digest& key, BuildCache& local);
    // type=cache mount contents the caches carry (mounts=true): unpacked into the store's
    // cache-mounts/ where no such mount exists yet. Returns how many were restored.
    size_t restore_mounts();

private:
    struct Source;
    layerstore::Store& store_;
    Progress& progress_;
    std::vector<std::unique_ptr<Source>> sources_;
};

// Writes the cache of this build to `to`: the final stage's steps (mode=min) or every stage's
// (mode=max), with their layers; mounts=true adds the store's type=cache mounts.
// Throws Error naming the destination.
void export_cache(layerstore::Store& store, const CacheSpec& to, const std::vector<const StageCacheLog*>& stages,
                  const registry::RegistryOptions& opts, Progress& progress);

}  // namespace imgbuild::builder
