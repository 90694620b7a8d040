#pragma once
// The network namespaces a stage's RUN steps join (runtime/kept_network.h): made at the
// first RUN that needs one, joined by the stage's later RUNs with the same network, gone
// with the stage. A stage's steps run one after another, so one namespace per network mode
// serves them all; stages that run at the same time each have their own, as BuildKit gives
// concurrent steps separate namespaces from its pool.
#include <map>
#include <memory>
#include <optional>

#include "common/fs.h"
#include "layerstore/store.h"
#include "runtime/kept_network.h"

namespace imgbuild::builder {

class StageNetworks {
public:
    // The namespace fd for a RUN with network `mode` (made now if it is the first), or -1
    // for host. Must be called on the stage's thread (the keepers die with it).
    [[nodiscard]] int join_fd(runtime::NetworkMode mode, layerstore::Store& store);

private:
    std::optional<TempDir> dir_;  // slirp4netns's log
    std::map<runtime::NetworkMode, std::unique_ptr<runtime::KeptNetwork>> kept_;
};

}  // namespace imgbuild::builder
