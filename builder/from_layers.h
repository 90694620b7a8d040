#pragma once
// What a from= names (RUN --mount from=, COPY --from=): an earlier stage, by
// name or index, or an image from the store (pulled as FROM images are, through env.image).
#include <string>
#include <vector>

#include "builder/build_state.h"

namespace imgbuild::builder {

struct FromLayers {
    std::vector<layerstore::LayerInfo> layers;  // bottom first
    std::string fingerprint;                    // for cache keys: the stage's state or the image's manifest digest
};

// `what` prefixes errors ("RUN --mount from" gives "RUN --mount from=x: ...").
[[nodiscard]] FromLayers from_layers(StepEnv& env, const std::string& from, const std::string& what);

}  // namespace imgbuild::builder
