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
#include "common/fs.h"
#include "common/process.h"
#include "common/user_namespace.h"
#include "layerstore/containers.h"
#include "runtime/container.h"
#include "runtime/start_ahead.h"

namespace imgbuild::cli {
namespace {

struct RunArgs : CreateArgs {
    bool detach = false;
};

// `run` in the foreground, as root: the container's cgroup (and with --network none its network
// namespace) is made on another thread while the store is opened and the record written
// (runtime/start_ahead.h). Flags that do not parse make nothing: create_container says why.
std::unique_ptr<runtime::StartAhead> start_ahead_for(const RunArgs& a, const std::string& id) {
    if (a.detach || ::geteuid() != 0 || in_user_namespace()) return nullptr;
    runtime::StartAheadRequest request;
    request.network = a.network == "none";
    try {
        request.limits = parse_limits(a);
        request.cgroup_name = builder::cgroup_name(id);
    } catch (const UsageError&) {
    }
    return std::make_unique<runtime::StartAhead>(std::move(request));
}

int run(layerstore::Store& store, const RunArgs& a, const std::vector<std::string>& rest, const std::string& id,
        runtime::StartAhead* ahead) {
    if (a.detach && !a.attach.empty()) throw UsageError("conflicting options: -a and -d");
    (void)create_container(store, a, rest, !a.detach, id);  // id: the one given
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
    return builder::run_foreground_container(store, id, !a.rm, out, err, ahead);
}

VerbRegistration run_verb{"run", "Run a command in a new container", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<RunArgs>();
    cmd.add_flag("-d,--detach", a->detach, "run in the background under a monitor; print the container id");
    add_create_flags(cmd, *a);
    return [a, &g, &cmd] {
        return with_container_exit_codes([&] {
            const std::string id = random_hex(32);
            auto ahead = start_ahead_for(*a, id);
            auto store = open_store(g);
            return run(*store, *a, cmd.remaining(), id, ahead.get());
        });
    };
}};

}  // namespace
}  // namespace imgbuild::cli
