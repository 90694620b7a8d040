#include "builder/stage_networks.h"

namespace imgbuild::builder {

int StageNetworks::join_fd(runtime::NetworkMode mode, layerstore::Store& store) {
    if (mode == runtime::NetworkMode::host) return -1;
    auto& kept = kept_[mode];
    if (!kept) {
        if (!dir_) dir_.emplace(store.make_temp_dir("net"));
        kept = std::make_unique<runtime::KeptNetwork>(mode, dir_->path() / "slirp4netns.log");
    }
    return kept->fd();
}

}  // namespace imgbuild::builder
