// `imgbuild top C`: the container's processes (host view); `imgbuild port C [PORT[/tcp]]`:
// its published ports.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "builder/container_ops.h"
#include "cli/container_format.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "runtime/container_procs.h"

namespace imgbuild::cli {
namespace {

struct Args {
    std::string container, port;
};

VerbRegistration top_verb{"top", "Show the processes of a container", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Args>();
    cmd.add_option("container", a->container, "container")->required();
    return [a, &g] {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        auto st = builder::running_state(containers, containers.resolve(a->container));
        long hz = ::sysconf(_SC_CLK_TCK);
        std::printf("%-8s %-8s %-8s %-10s %s\n", "UID", "PID", "PPID", "TIME", "CMD");
        for (pid_t pid : runtime::processes_in_pid_namespace_of(st.pid)) {
            runtime::ProcessInfo p;
            try {
                p = runtime::process_info(pid);
            } catch (const std::exception&) {
                continue;
            }
            unsigned long long secs = p.cpu_ticks / static_cast<unsigned long long>(hz > 0 ? hz : 100);
            char time[32];
            std::snprintf(time, sizeof time, "%02llu:%02llu:%02llu", secs / 3600, secs / 60 % 60, secs % 60);
            std::printf("%-8u %-8d %-8d %-10s %s\n", p.uid, p.pid, p.ppid, time, p.command.c_str());
        }
        return 0;
    };
}};

VerbRegistration port_verb{"port", "List a container's published ports", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<Args>();
    cmd.add_option("container", a->container, "container")->required();
    cmd.add_option("port", a->port, "PORT[/tcp]: only this one");
    return [a, &g] {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        auto st = builder::current_state(containers, containers.resolve(a->container));
        bool found = false;
        bool live = st.status == layerstore::ContainerStatus::running || st.status == layerstore::ContainerStatus::paused;
        for (const auto& p : live ? st.ports : std::vector<layerstore::PortRecord>{}) {
            std::string key = std::to_string(p.container_port) + "/" + p.protocol;
            if (!a->port.empty() && a->port != key && a->port != std::to_string(p.container_port)) continue;
            found = true;
            if (a->port.empty()) std::cout << key << " -> ";
            std::cout << p.host_ip << ":" << p.host_port << "\n";
        }
        if (!a->port.empty() && !found) throw Error("no public port '" + a->port + "' published for " + a->container);
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
