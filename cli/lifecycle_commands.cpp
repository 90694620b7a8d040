// `create`, `start [-a]`, `restart [-t N]`, `stop [-t N]`, `kill [-s SIG]`, `rm [-f] [-v]`,
// `pause`, `unpause`, `wait`: container lifecycle verbs (the work is in builder/container_ops.h).
#include <iostream>

#include "builder/container_ops.h"
#include "cli/container_access.h"
#include "cli/container_create.h"
#include "common/error.h"
#include "runtime/container.h"

namespace imgbuild::cli {
namespace {

using layerstore::Containers;
using layerstore::Store;

struct Refs {
    std::vector<std::string> refs;
    std::optional<int> timeout;
    std::string signal = "KILL";
    bool force = false, volumes = false, attach = false;
};

void start_one(const Store& store, const std::string& id) {
    auto r = builder::start_detached_container(store, id);
    if (!r.started) throw Error(r.error);
}

VerbRegistration create_verb{"create", "Create a container (start it with `start`)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<CreateArgs>();
    add_create_flags(cmd, *a);
    return [a, &g, &cmd] {
        return with_container_exit_codes([&] {
            auto store = open_store(g);
            std::cout << create_container(*store, *a, cmd.remaining()) << "\n";
            return 0;
        });
    };
}};

VerbRegistration start_verb{"start", "Start created or stopped containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    cmd.add_flag("-a,--attach", a->attach, "run in the foreground: attach stdout/stderr, exit with its status");
    return [a, &g]() -> int {
        if (!a->attach) return for_each_container(g, a->refs, [](Store& s, Containers&, const std::string& id) { start_one(s, id); });
        if (a->refs.size() != 1) throw UsageError("start -a takes one container");
        auto store = open_store(g);
        std::string id = Containers(*store).resolve(a->refs[0]);
        return builder::run_foreground_container(*store, id, true);
    };
}};

VerbRegistration restart_verb{"restart", "Stop and start containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    cmd.add_option("-t,--time", a->timeout, "seconds to wait before killing");
    return [a, &g] {
        return for_each_container(g, a->refs, [a](Store& s, Containers& c, const std::string& id) {
            builder::stop_container(c, id, a->timeout);
            start_one(s, id);
        });
    };
}};

VerbRegistration stop_verb{"stop", "Stop containers (STOPSIGNAL, then SIGKILL after -t seconds)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    cmd.add_option("-t,--time", a->timeout, "seconds to wait before killing (default the container's, 10)");
    return [a, &g] {
        return for_each_container(g, a->refs,
                                  [a](Store&, Containers& c, const std::string& id) { builder::stop_container(c, id, a->timeout); });
    };
}};

VerbRegistration kill_verb{"kill", "Send a signal to containers (default SIGKILL)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    cmd.add_option("-s,--signal", a->signal, "signal name or number");
    return [a, &g] {
        int sig = builder::parse_signal(a->signal);
        return for_each_container(g, a->refs,
                                  [sig](Store&, Containers& c, const std::string& id) { builder::kill_container(c, id, sig); });
    };
}};

VerbRegistration rm_verb{"rm", "Remove containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    cmd.add_flag("-f,--force", a->force, "kill a running container first");
    cmd.add_flag("-v,--volumes", a->volumes, "also remove its anonymous volumes");
    return [a, &g] {
        return for_each_container(g, a->refs, [a](Store& s, Containers&, const std::string& id) {
            builder::remove_container(s, id, a->force, a->volumes);
        });
    };
}};

VerbRegistration pause_verb{"pause", "Freeze every process of containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    return [a, &g] {
        return for_each_container(g, a->refs, [](Store&, Containers& c, const std::string& id) { builder::pause_container(c, id); });
    };
}};

VerbRegistration unpause_verb{"unpause", "Thaw paused containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    return [a, &g] {
        return for_each_container(g, a->refs,
                                  [](Store&, Containers& c, const std::string& id) { builder::unpause_container(c, id); });
    };
}};

VerbRegistration wait_verb{"wait", "Wait for containers to exit; print their exit codes", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Refs>();
    cmd.add_option("containers", a->refs, "containers")->required();
    return [a, &g] {
        auto store = open_store(g);
        Containers containers(*store);
        int rc = 0;
        for (const auto& ref : a->refs) {
            try {
                std::cout << builder::wait_container(containers, containers.resolve(ref)) << std::endl;
            } catch (const std::exception& e) {
                std::cerr << "imgbuild: " << e.what() << "\n";
                rc = 1;
            }
        }
        return rc;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
