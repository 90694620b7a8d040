// `imgbuild run [-d] [--rm] [--name N] [-e K=V] [-w DIR] [-u USER] [-v ...] [--mount ...]
//               [-p ...] [-P] [limits] [-i] [-t] [-a stdout|stderr] IMAGE [CMD...]`
// Creates the container record (cli/container_create.h) and runs it: in the foreground
// (this process is its monitor; output to the terminal and the log), or with -d under a
// detached monitor, printing the id. Exit status: the container's, 125 when imgbuild
// failed, 126/127 when the command cannot be run / is not found, 2 for an unknown option.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "builder/container_ops.h"
#include "cli/container_create.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "common/process.h"
#include "common/user_namespace.h"
#include "layerstore/containers.h"
#include "runtime/container.h"
#include "runtime/network_ahead.h"

namespace imgbuild::cli {
namespace {

struct RunArgs : CreateArgs {
    bool detach = false;
};

// `run --network none` in the foreground, as root: the container's network namespace is made
// on another thread while the store is opened and the record written (runtime/network_ahead.h).
std::unique_ptr<runtime::NetworkAhead> network_ahead_for(const RunArgs& a) {
    if (a.detach || a.network != "none" || ::geteuid() != 0 || in_user_namespace()) return nullptr;
    return std::make_unique<runtime::NetworkAhead>();
}

int run(layerstore::Store& store, const RunArgs& a, const std::vector<std::string>& rest,
        runtime::NetworkAhead* network_ahead) {
    if (a.detach && !a.attach.empty()) throw UsageError("conflicting options: -a and -d");
    std::string id = create_container(store, a, rest, !a.detach);
    if (a.detach) {
        auto r = builder::start_detached_container(store, id);
        if (!r.started) {
            std::cerr << "imgbuild: " << r.error << "\n";
            return r.status;
        }
        std::cout << id << "\n";
        return 0;
    }
    bool out = a.attach.empty(), err = a.attach.empty();
    for (const auto& s : a.attach) {
        out = out || s == "stdout";
        err = err || s == "stderr";
    }
    // --rm: the record goes at the end, so its log is not worth writing.
    return builder::run_foreground_container(store, id, !a.rm, out, err, network_ahead);
}

VerbRegistration run_verb{"run", "Run a command in a new container", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<RunArgs>();
    cmd.add_flag("-d,--detach", a->detach, "run in the background under a monitor; print the container id");
    add_create_flags(cmd, *a);
    return [a, &g, &cmd] {
        return with_container_exit_codes([&] {
            auto network_ahead = network_ahead_for(*a);
            auto store = open_store(g);
            return run(*store, *a, cmd.remaining(), network_ahead.get());
        });
    };
}};

}  // namespace
}  // namespace imgbuild::cli
