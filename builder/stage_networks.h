#pragma once
// The network namespaces a stage's RUN steps join (runtime/kept_network.h): made at the
// first RUN that needs one, joined by the stage's later RUNs with the same network, gone
// with the stage. A stage's steps run one after another, so one namespace per network mode
// serves them all; stages that run at the same time each have their own, as BuildKit gives
// concurrent steps separate namespaces from its pool.
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "common/fs.h"
#include "layerstore/store.h"
#include "runtime/kept_network.h"

namespace imgbuild::builder {

class StageNetworks {
public:
    // The networks the stage's RUN steps from the current step on will want (host is
    // ignored), set before each step; nothing is started yet.
    void expect(const std::set<runtime::NetworkMode>& modes);
    // Starts every expected network not made yet, without waiting for it: called at the
    // stage's first cache miss (after one, the later steps miss too, so its RUNs will run),
    // slirp4netns then comes up while the steps before the first RUN (WORKDIR, COPY) work.
    // A fully cached build never calls it, and so starts no network.
    void start_expected(layerstore::Store& store);
    // The namespace fd for a RUN with network `mode` (made now if it is the first; waits
    // until it is ready), or -1 for host. Must be called on the stage's thread (the keepers
    // die with it), as must start_expected.
    [[nodiscard]] int join_fd(runtime::NetworkMode mode, layerstore::Store& store);

private:
    runtime::KeptNetwork& kept(runtime::NetworkMode mode, layerstore::Store& store);

    std::optional<TempDir> dir_;  // slirp4netns's log
    std::map<runtime::NetworkMode, std::unique_ptr<runtime::KeptNetwork>> kept_;
    std::set<runtime::NetworkMode> expected_;
};

}  // namespace imgbuild::builder
