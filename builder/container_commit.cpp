#include "builder/container_commit.h"

#include <fcntl.h>

#include "builder/container_ops.h"
#include "builder/image_config.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/time.h"
#include "oci/layer_tar.h"
#include "parser/dockerfile.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Instructions that only change the config are allowed (docker commit --change).
constexpr const char* kChangeKeywords[] = {"CMD", "ENTRYPOINT", "ENV", "LABEL", "EXPOSE", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL", "ONBUILD"};

json base_config(const layerstore::Store& store, const layerstore::ContainerConfig& c, std::vector<layerstore::LayerInfo>& layers) {
    json config;
    try {
        config = json::parse(store.read_blob(Digest::parse(c.image_id)));
    } catch (const std::exception&) {
        // The image was removed since: rebuild its config from the record.
        config = {{"architecture", "amd64"}, {"os", "linux"}, {"history", json::array()}};
    }
    config["config"] = c.image_config;
    json diff_ids = json::array();
    for (const auto& id : c.layers) {
        auto l = store.layer(id);
        if (!l) throw Error("commit " + c.id.substr(0, 12) + ": layer " + id + " is missing from the store");
        layers.push_back(*l);
        diff_ids.push_back(l->diff_id.str());
    }
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    return config;
}

void apply_changes(json& config, const std::vector<std::string>& changes) {
    bool cmd_set = false;
    for (const auto& line : changes) {
        parser::Instruction instr = parser::parse_instruction(line, "commit --change");
        bool allowed = false;
        for (const char* k : kChangeKeywords) allowed = allowed || instr.keyword == k;
        if (!allowed) throw UsageError("commit --change: " + instr.keyword + " is not a config instruction");
        if (auto* w = instr.as<parser::Workdir>()) {
            config["config"]["WorkingDir"] = workdir_value(config["config"].value("WorkingDir", "/"), w->path);
            continue;
        }
        apply_config_instruction(config, instr, cmd_set);
    }
}

}  // namespace

layerstore::Image commit_container(layerstore::Store& store, const std::string& id, const CommitOptions& options) {
    layerstore::Containers containers(store);
    auto c = containers.config(id);
    std::vector<layerstore::LayerInfo> layers;
    json config = base_config(store, c, layers);
    apply_changes(config, options.changes);
    // The upper dir as a tar, taken while the container is frozen; then unpacked into a
    // staging dir that becomes the layer (the container keeps its own upper dir).
    TempDir tmp = store.make_temp_dir("commit");
    fs::path tar = tmp.path() / "layer.tar";
    fs::path upper = containers.dir(id) / "upper";
    with_container_paused(containers, id, options.pause, [&] {
        auto out = open_or_throw(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        (void)oci::write_layer_tar(upper, out.get(), oci::TarWriteOptions{});
    });
    fs::path staged = tmp.path() / "diff";
    make_dirs(staged);
    {
        auto in = open_or_throw(tar, O_RDONLY);
        (void)oci::extract_layer_tar(in.get(), staged, oci::ExtractOptions{});
    }
    std::string created = created_timestamp();
    bool empty = fs::is_empty(staged);
    if (!empty) {
        std::optional<std::string> parent;
        if (!layers.empty()) parent = layers.back().id;
        auto layer = store.commit_layer_dir(staged, parent);
        layers.push_back(layer);
        config["rootfs"]["diff_ids"].push_back(layer.diff_id.str());
    }
    config["created"] = created;
    if (!options.author.empty()) config["author"] = options.author;
    json entry = {{"created", created}, {"created_by", "imgbuild commit " + c.id.substr(0, 12)}};
    if (!options.author.empty()) entry["author"] = options.author;
    if (!options.message.empty()) entry["comment"] = options.message;
    if (empty) entry["empty_layer"] = true;
    if (!config.contains("history") || !config["history"].is_array()) config["history"] = json::array();
    config["history"].push_back(entry);
    config.erase("container");
    config.erase("container_config");
    return store.put_image(config, layers);
}

}  // namespace imgbuild::builder
