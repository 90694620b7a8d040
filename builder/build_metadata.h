#pragma once
// build --metadata-file F: what the build made and how, as JSON, with docker buildx's names
// where they fit ("containerimage.digest" is the manifest digest, "containerimage.config.digest"
// the image id):
//   {"containerimage.digest": "sha256:...", "containerimage.config.digest": "sha256:...",
//    "containerimage.descriptor": {mediaType, digest, size}, "image.name": "a:1,b:2",
//    "imgbuild.duration_s": 3.2, "imgbuild.cache": {"hits": 5, "misses": 2, "run_executed": 1},
//    "imgbuild.steps": [{"step": 4, "total": 7, "stage": "build", "instruction": "RUN make",
//       "keyword": "RUN", "key": "sha256:...", "cached": false, "reason": "...",
//       "source": "local", "duration_s": 1.5, "config": "sha256:..."}, ...]}
// Step entries are for the instructions after FROM; "source" of a hit names where it came
// from ("local" or the --cache-from), "reason" of a miss says why (cache_explain.h).
#include <filesystem>
#include <vector>

#include "builder/cache_explain.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

[[nodiscard]] nlohmann::json build_metadata(const layerstore::Image& image, uint64_t manifest_size,
                                            const std::vector<std::string>& tags,
                                            const std::vector<const StageCacheLog*>& stages, int total_steps,
                                            double seconds);

// Writes it atomically to `file`.
void write_build_metadata(const std::filesystem::path& file, const nlohmann::json& metadata);

}  // namespace imgbuild::builder
