#pragma once
// `import`: a root filesystem tarball becomes a one-layer image (as `docker import`).
#include <string>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

// Extracts the tarball (any supported compression) into a staging dir inside the store,
// commits it as a layer and writes an image config for it. Returns the new image.
Image import_rootfs(Store& store, int in_fd, const std::string& source_for_history);

}  // namespace imgbuild::layerstore
