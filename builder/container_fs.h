#pragma once
// A container's files seen from the host, for commit, diff, cp and export, and the
// filling of a new volume from the image's content at its mount point.
//
// A container's own mounts live in its mount namespace, so a stopped container has none:
// a view mounts its overlay again, in the private mount namespace of this process
// (rootfs_view.h), on a temp dir: writable over the container's upper/work when it is
// stopped, read-only with the upper dir as the top lowerdir when it runs (the caller
// pauses it). The init files (/etc/hosts ...) and volumes are not in a view.
#include <filesystem>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/unique_fd.h"
#include "layerstore/containers.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

class ContainerRootView {
public:
    ContainerRootView(const layerstore::Store& store, const layerstore::ContainerConfig& config, bool writable);
    ~ContainerRootView();
    ContainerRootView(const ContainerRootView&) = delete;
    ContainerRootView& operator=(const ContainerRootView&) = delete;
    [[nodiscard]] int root_fd() const { return root_.get(); }
    [[nodiscard]] const std::filesystem::path& path() const { return dir_.path(); }

private:
    TempDir dir_;
    unique_fd root_;
};

// Copies the image's tree at `path` (resolved inside the image root) into `data_dir`, as
// docker fills a new volume; nothing when the image has no such directory.
void fill_volume_from_image(const layerstore::Store& store, const std::vector<layerstore::LayerInfo>& layers,
                            const std::string& path, const std::filesystem::path& data_dir);

// Copies the tree of the directory `src_fd` (any fd that names a directory) into the
// directory `dest` through a tar in the store's tmp/ (bounded memory; the extractor never
// writes outside `dest`).
void copy_tree(const layerstore::Store& store, int src_fd, const std::filesystem::path& dest);

// "A /path", "C /path", "D /path" for the changes in a container's upper dir (docker diff).
[[nodiscard]] std::vector<std::string> container_changes(const layerstore::Store& store,
                                                         const layerstore::ContainerConfig& config);

}  // namespace imgbuild::builder
