#pragma once
// An image's root filesystem as the builder sees it while COPY/ADD/WORKDIR write into it:
// an overlay of the layers (read-only, or with an upper dir that becomes the next layer).
#include <filesystem>
#include <vector>

#include "common/unique_fd.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

// Moves this process into a mount namespace of its own (once), so that every overlay the
// build mounts disappears with the process, whatever way it ends.
void enter_private_mount_namespace();

class OverlayView {
public:
    // Mounts `layers` (bottom first) on `merged` with runtime/overlay's options and short
    // links, without changing the working directory. With an upper dir the view is writable
    // and the upper dir collects the changes; without (empty path), it is read-only.
    OverlayView(const layerstore::Store& store, const std::vector<layerstore::LayerInfo>& layers,
                const std::filesystem::path& upper, const std::filesystem::path& work,
                const std::filesystem::path& merged);
    ~OverlayView();
    OverlayView(const OverlayView&) = delete;
    OverlayView& operator=(const OverlayView&) = delete;
    // O_PATH|O_DIRECTORY fd of the merged root, for in-root resolution.
    [[nodiscard]] int root_fd() const { return root_.get(); }
    // Unmounts now (the upper dir is then a stable diff); the destructor does it otherwise.
    void unmount();

private:
    std::filesystem::path merged_;
    unique_fd root_;
    bool mounted_ = false;
};

}  // namespace imgbuild::builder
