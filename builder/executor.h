#pragma once
// The build: Dockerfile -> stages -> steps -> layers and an image in the store
// (DESIGN.md §2 data flow, §4 layers, §6 cache).
#include "builder/build_options.h"
#include "builder/progress.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

// Builds, tags every name in opts.tags, writes --iidfile and --output. Throws Error on a
// failed step ("step 5/9 RUN make: exit code 2"); then no tag has moved and the store has
// only gained content-addressed objects (layers and blobs of the steps that succeeded).
layerstore::Image build(layerstore::Store& store, const BuildOptions& opts, Progress& progress);

}  // namespace imgbuild::builder
