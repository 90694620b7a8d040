// `imgbuild inspect [--format T] IMAGE...`: docker-style JSON description of images.
#include <iostream>

#include "cli/store_access.h"
#include "cli/template_format.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {

using nlohmann::json;

struct InspectArgs {
    std::vector<std::string> targets;
    std::string format;
};

json describe(const layerstore::Store& store, const layerstore::Image& img) {
    json tags = json::array();
    for (const auto& t : store.tags())
        if (t.manifest_digest == img.manifest_digest && !t.name.empty()) tags.push_back(t.name);
    uint64_t size = 0;
    json layers = json::array();
    for (const auto& l : img.layers) {
        size += l.tar_size;
        layers.push_back(l.diff_id.str());
    }
    return {
        {"Id", img.config_digest.str()},
        {"Digest", img.manifest_digest.str()},
        {"RepoTags", tags},
        {"Created", img.config.value("created", "")},
        {"Author", img.config.value("author", "")},
        {"Architecture", img.config.value("architecture", "")},
        {"Os", img.config.value("os", "")},
        {"Config", img.config.value("config", json::object())},
        {"Size", size},
        {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
        {"History", img.config.value("history", json::array())},
        {"Manifest", oci::to_json(img.manifest)},
    };
}

VerbRegistration inspect_verb{"inspect", "Show details of images", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<InspectArgs>();
    cmd.add_option("targets", a->targets, "images")->required();
    cmd.add_option("-f,--format", a->format, "Go-template subset: {{.Config.Cmd}}, {{json .Config}}");
    return [a, &g] {
        auto store = open_store(g);
        json all = json::array();
        for (const auto& t : a->targets) all.push_back(describe(*store, store->resolve_image(t)));
        if (a->format.empty()) {
            std::cout << all.dump(4) << "\n";
            return 0;
        }
        for (const auto& item : all) std::cout << render_template(a->format, item) << "\n";
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
