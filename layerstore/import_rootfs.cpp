#include "layerstore/import_rootfs.h"

#include "common/time.h"
#include "oci/layer_tar.h"

namespace imgbuild::layerstore {

Image import_rootfs(Store& store, int in_fd, const std::string& source) {
    TempDir staging = store.make_temp_dir("import");
    auto diff = staging.path() / "diff";
    make_dirs(diff);
    oci::extract_layer_tar(in_fd, diff, oci::ExtractOptions{});
    // Our own deterministic tar of what was extracted becomes the layer, not the input
    // bytes: entries that extraction refused or contained never reach a reader of the image.
    LayerInfo layer = store.commit_layer_dir(diff, std::nullopt);
    std::string created = created_timestamp();
    nlohmann::json config = {
        {"architecture", "amd64"},
        {"os", "linux"},
        {"created", created},
        {"config", nlohmann::json::object()},
        {"history", {{{"created", created}, {"created_by", "imgbuild import " + source}, {"comment", "Imported from " + source}}}},
    };
    return store.put_image(config, {layer});
}

}  // namespace imgbuild::layerstore
