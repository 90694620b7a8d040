#include "builder/stage_networks.h"

namespace imgbuild::builder {

runtime::KeptNetwork& StageNetworks::kept(runtime::NetworkMode mode, layerstore::Store& store) {
    auto& kept = kept_[mode];
    if (!kept) {
        if (!dir_) dir_.emplace(store.make_temp_dir("net"));
        kept = std::make_unique<runtime::KeptNetwork>(mode, dir_->path() / "slirp4netns.log");
    }
    return *kept;
}

void StageNetworks::expect(const std::set<runtime::NetworkMode>& modes) {
    expected_ = modes;
    expected_.erase(runtime::NetworkMode::host);
}

void StageNetworks::start_expected(layerstore::Store& store) {
    for (auto mode : expected_) (void)kept(mode, store);
}

int StageNetworks::join_fd(runtime::NetworkMode mode, layerstore::Store& store) {
    if (mode == runtime::NetworkMode::host) return -1;
    return kept(mode, store).fd();
}

}  // namespace imgbuild::builder
