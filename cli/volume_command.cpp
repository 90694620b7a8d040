// `imgbuild volume create [--label K=V] [NAME] | ls [-q] | inspect NAME... | rm [-f] NAME... |
// prune [-a]`. A volume that a container (in any state) mounts is never removed, as docker.
#include <iostream>
#include <map>

#include "cli/store_access.h"
#include "cli/template_format.h"
#include "common/error.h"
#include "layerstore/containers.h"
#include "layerstore/volumes.h"

namespace imgbuild::cli {
namespace {

using nlohmann::json;

struct VolumeArgs {
    std::vector<std::string> names, labels;
    std::string name, format;
    bool quiet = false, all = false, force = false;
};

// volume name -> ids of the containers that mount it
std::map<std::string, std::vector<std::string>> volume_users(const layerstore::Store& store) {
    std::map<std::string, std::vector<std::string>> users;
    layerstore::Containers containers(store);
    for (const auto& id : containers.ids()) {
        try {
            for (const auto& m : containers.config(id).mounts)
                if (m.type == "volume") users[m.source].push_back(id);
        } catch (const std::exception&) {
        }
    }
    return users;
}

json describe(const layerstore::VolumeInfo& v) {
    return {{"Name", v.name},           {"Driver", "local"},     {"Mountpoint", v.mountpoint.string()},
            {"CreatedAt", v.created},   {"Labels", v.labels},    {"Scope", "local"},
            {"Options", json::object()}, {"Anonymous", v.anonymous}};
}

void remove_checked(layerstore::Volumes& volumes, const std::map<std::string, std::vector<std::string>>& users,
                    const std::string& name) {
    if (auto it = users.find(name); it != users.end())
        throw Error("volume " + name + " is in use by container " + it->second.front().substr(0, 12));
    volumes.remove(name);
}

VerbRegistration volume_verb{"volume", "Manage volumes (create, ls, inspect, rm, prune)", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<VolumeArgs>();
    cmd.require_subcommand(1);
    auto* create = cmd.add_subcommand("create", "Create a volume");
    create->add_option("name", a->name, "name (default: a random id)");
    create->add_option("-l,--label", a->labels, "label K=V")->allow_extra_args(false);
    auto* ls = cmd.add_subcommand("ls", "List volumes");
    ls->alias("list");
    ls->add_flag("-q,--quiet", a->quiet, "only names");
    auto* inspect = cmd.add_subcommand("inspect", "Describe volumes");
    inspect->add_option("names", a->names, "volumes")->required();
    inspect->add_option("-f,--format", a->format, "Go-template subset");
    auto* rm = cmd.add_subcommand("rm", "Remove volumes");
    rm->alias("remove");
    rm->add_option("names", a->names, "volumes")->required();
    rm->add_flag("-f,--force", a->force, "no error for a volume that does not exist");
    auto* prune = cmd.add_subcommand("prune", "Remove unused anonymous volumes (-a: all unused)");
    prune->add_flag("-a,--all", a->all, "also named volumes");
    prune->add_flag("-f,--force", a->force, "do not ask (imgbuild never asks)");
    for (auto* sub : {create, ls, inspect, rm, prune}) sub->fallthrough();
    return [a, &g, create, ls, inspect, rm, prune]() -> int {
        auto store = open_store(g);
        layerstore::Volumes volumes(*store);
        if (create->parsed()) {
            json labels = json::object();
            for (const auto& kv : a->labels) {
                auto eq = kv.find('=');
                labels[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
            }
            std::cout << volumes.create(a->name, false, labels).name << "\n";
            return 0;
        }
        if (ls->parsed()) {
            if (!a->quiet) std::cout << "DRIVER    VOLUME NAME\n";
            for (const auto& v : volumes.list()) std::cout << (a->quiet ? "" : "local     ") << v.name << "\n";
            return 0;
        }
        if (inspect->parsed()) {
            json all = json::array();
            for (const auto& n : a->names) {
                auto v = volumes.find(n);
                if (!v) throw Error("no such volume: " + n);
                all.push_back(describe(*v));
            }
            if (a->format.empty()) std::cout << all.dump(4) << "\n";
            else
                for (const auto& item : all) std::cout << render_template(a->format, item) << "\n";
            return 0;
        }
        auto users = volume_users(*store);
        if (rm->parsed()) {
            int rc = 0;
            for (const auto& n : a->names) {
                try {
                    if (a->force && !volumes.find(n)) continue;
                    remove_checked(volumes, users, n);
                    std::cout << n << "\n";
                } catch (const std::exception& e) {
                    std::cerr << "imgbuild: " << e.what() << "\n";
                    rc = 1;
                }
            }
            return rc;
        }
        if (prune->parsed()) {
            std::cout << "Deleted Volumes:\n";
            for (const auto& v : volumes.list()) {
                if (users.count(v.name) || (!v.anonymous && !a->all)) continue;
                volumes.remove(v.name);
                std::cout << v.name << "\n";
            }
            return 0;
        }
        return 2;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
