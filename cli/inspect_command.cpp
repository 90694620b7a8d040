// `imgbuild inspect [--format T] [--type container|image] NAME...`: docker-style JSON
// description of containers (by name or id prefix) and images.
#include <iostream>

#include "builder/container_ops.h"
#include "cli/container_format.h"
#include "cli/store_access.h"
#include "cli/template_format.h"
#include "common/error.h"
#include "common/log.h"

namespace imgbuild::cli {
namespace {

using nlohmann::json;

struct InspectArgs {
    std::vector<std::string> targets;
    std::string format, type;
};

json describe_container(const layerstore::Store& store, const std::string& id) {
    layerstore::Containers containers(store);
    auto c = containers.config(id);
    auto s = builder::current_state(containers, id);
    ContainerPaths paths;
    std::string lowers;
    for (auto it = c.layers.rbegin(); it != c.layers.rend(); ++it) {
        if (auto l = store.layer(*it)) lowers += (lowers.empty() ? "" : ":") + l->diff_dir.string();
    }
    paths.lower_dirs = lowers;
    fs::path dir = containers.dir(id);
    paths.upper_dir = (dir / "upper").string();
    paths.work_dir = (dir / "work").string();
    paths.merged_dir = (dir / "merged").string();
    paths.log_path = containers.log_path(id).string();
    layerstore::Volumes volumes(store);
    for (const auto& m : c.mounts)
        paths.volume_dirs.push_back(m.type == "volume" ? volumes.data_dir(m.source).string() : m.source);
    return inspect_json(c, s, paths);
}

// The config section with every field docker shows present (null when unset), so that
// templates such as {{.Config.Cmd}} work on any image.
json image_config_section(const json& config) {
    json c = config.value("config", json::object());
    for (const char* key : {"Hostname", "Domainname", "User", "Image", "WorkingDir"})
        if (!c.contains(key)) c[key] = "";
    for (const char* key : {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"})
        if (!c.contains(key)) c[key] = false;
    for (const char* key : {"Env", "Cmd", "Entrypoint", "Labels", "ExposedPorts", "Volumes", "OnBuild", "Healthcheck",
                            "Shell", "StopSignal", "ArgsEscaped"})
        if (!c.contains(key)) c[key] = nullptr;
    return c;
}

json describe(const layerstore::Store& store, const layerstore::Image& img) {
    json tags = json::array();
    std::vector<layerstore::TagEntry> entries;
    try {
        entries = store.tags();
    } catch (const Error& e) {  // the names are lost (index and backup damaged): the image is not
        log::warn(e.what());
    }
    for (const auto& t : entries)
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
        {"Config", image_config_section(img.config)},
        {"Size", size},
        {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
        {"History", img.config.value("history", json::array())},
        {"Manifest", oci::to_json(img.manifest)},
    };
}

VerbRegistration inspect_verb{"inspect", "Show details of images", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<InspectArgs>();
    cmd.add_option("targets", a->targets, "containers or images (names, ids, id prefixes)")->required();
    cmd.add_option("--type", a->type, "container or image: only look for that kind");
    cmd.add_option("-f,--format", a->format, "Go-template subset: {{.Config.Cmd}}, {{json .Config}}");
    return [a, &g] {
        auto store = open_store(g);
        json all = json::array();
        if (!a->type.empty() && a->type != "container" && a->type != "image")
            throw UsageError("--type must be container or image");
        layerstore::Containers containers(*store);
        for (const auto& t : a->targets) {
            if (a->type != "image")
                if (auto id = containers.find(t)) {
                    all.push_back(describe_container(*store, *id));
                    continue;
                }
            if (a->type == "container") throw Error("no such container: " + t);
            auto img = store->find_image(t);
            if (!img) throw Error("image not found: " + t + (a->type.empty() ? " (and no container of that name)" : ""));
            all.push_back(describe(*store, *img));
        }
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
