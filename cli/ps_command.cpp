// `imgbuild ps [-a] [-q] [--no-trunc] [--format T]`: containers as docker lists them. A
// container whose monitor died shows as exited (builder::current_state).
#include <ctime>
#include <iostream>

#include "builder/container_ops.h"
#include "cli/container_format.h"
#include "cli/store_access.h"
#include "cli/template_format.h"

namespace imgbuild::cli {
namespace {

struct PsArgs {
    bool all = false, quiet = false, no_trunc = false;
    std::string format;
};

VerbRegistration ps_verb{"ps", "List containers", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PsArgs>();
    cmd.add_flag("-a,--all", a->all, "show all containers (default: running ones)");
    cmd.add_flag("-q,--quiet", a->quiet, "only ids");
    cmd.add_flag("--no-trunc", a->no_trunc, "do not shorten ids and commands");
    cmd.add_option("--format", a->format, "Go-template subset over .ID .Image .Command .CreatedAt .Status .Ports .Names .State");
    return [a, &g] {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        int64_t now = std::time(nullptr);
        std::vector<std::pair<std::string, PsRow>> rows;  // by creation, newest first
        std::string out;
        for (const auto& id : containers.ids()) {
            layerstore::ContainerConfig c;
            layerstore::ContainerState s;
            try {
                c = containers.config(id);
                s = builder::current_state(containers, id);
            } catch (const std::exception&) {
                continue;  // removed meanwhile
            }
            bool live = s.status == layerstore::ContainerStatus::running || s.status == layerstore::ContainerStatus::paused;
            if (!a->all && !live) continue;
            PsRow r = ps_row(c, s, now);
            if (a->no_trunc) {
                r.id = c.id;
                r.command = command_text(c.argv, false);
            }
            if (!a->format.empty()) {
                nlohmann::json data = {{"ID", r.id},           {"Image", r.image},   {"Command", r.command},
                                       {"CreatedAt", c.created}, {"RunningFor", r.created}, {"Status", r.status},
                                       {"Ports", r.ports},     {"Names", r.names},   {"State", layerstore::to_string(s.status)}};
                r.id = render_template(a->format, data);
            }
            rows.emplace_back(c.created + id, r);
        }
        std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
        if (a->quiet || !a->format.empty()) {
            for (const auto& [_, r] : rows) std::cout << r.id << "\n";
            return 0;
        }
        std::vector<PsRow> table;
        for (auto& [_, r] : rows) table.push_back(r);
        std::cout << ps_table(table);
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
