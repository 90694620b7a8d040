// `container prune`: removes every container that is not running or paused (docker's
// "all stopped containers"); their images then become prunable by `image prune -a`.
#include <iostream>
#include <memory>

#include "builder/container_ops.h"
#include "cli/store_access.h"
#include "layerstore/containers.h"

namespace imgbuild::cli {
namespace {

using layerstore::ContainerStatus;

int prune_containers(const GlobalOptions& g) {
    auto store = open_store(g);
    layerstore::Containers containers(*store);
    int rc = 0;
    for (const auto& id : containers.ids()) {
        try {
            // current_state also turns a container whose monitor died into an exited one.
            auto st = builder::current_state(containers, id);
            if (st.status == ContainerStatus::running || st.status == ContainerStatus::paused) continue;
            builder::remove_container(*store, id, false, false);
            std::cout << id << "\n";
        } catch (const std::exception& e) {
            std::cerr << "imgbuild: container prune: " << e.what() << "\n";
            rc = 1;
        }
    }
    return rc;
}

VerbRegistration container_verb{"container", "Container commands (prune)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto force = std::make_shared<bool>(false);
    cmd.require_subcommand(1);
    auto* prune = cmd.add_subcommand("prune", "Remove every stopped container");
    prune->add_flag("-f,--force", *force, "accepted for docker: imgbuild never asks for confirmation");
    prune->fallthrough();
    return [force, &g] { return prune_containers(g); };
}};

}  // namespace
}  // namespace imgbuild::cli
