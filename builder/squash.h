#pragma once
// build --squash / --squash-all, as Podman has them: --squash merges the final stage's own
// layers (those above its FROM image's) into one, --squash-all merges every layer of the
// image into one. The merge applies the layers in order into one new directory with the
// layer store's one extractor (each layer's deterministic tar, whiteouts on, an opaque
// dir clearing what lower layers put there), then commits it with commit_layer_dir:
//   - a file deleted by a later layer is not in the result;
//   - --squash keeps the whiteouts and opaque dirs (they hide files of the base image);
//   - --squash-all drops them (nothing lies below).
// The history keeps every entry; the merged ones but the last are marked empty_layer, so
// that the non-empty entries still match the layers one to one.
#include <cstdint>
#include <optional>

#include "builder/build_state.h"

namespace imgbuild::builder {

// Squashes s.layers (and fixes s.config's rootfs and history). No-op when there is at most
// one layer to merge.
void squash_stage(layerstore::Store& store, StageState& s, bool all, std::optional<int64_t> source_date_epoch);

}  // namespace imgbuild::builder
