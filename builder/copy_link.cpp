#include "builder/copy_link.h"

#include <fcntl.h>

#include "builder/copy_files.h"
#include "builder/image_config.h"
#include "builder/rootfs_view.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "runtime/user_lookup.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

bool is_numeric_uid_only(const std::string& chown) {
    return chown.find(':') == std::string::npos && chown.find_first_not_of("0123456789") == std::string::npos;
}

bool made_layer(const nlohmann::json& config) {
    const auto it = config.find("history");
    if (it == config.end() || !it->is_array() || it->empty()) return false;
    return !it->back().value("empty_layer", false);
}

}  // namespace

bool is_linked_copy(const parser::ResolvedStep& step) {
    const auto* copy = step.instruction.as<parser::Copy>();
    return copy && copy->link && copy->chmod.empty();
}

ChownIds resolve_chown_in(int root_fd, const std::string& chown, const std::string& what) {
    auto db = [&](const char* path) { return read_small_file_in_root(root_fd, path, what).value_or(""); };
    auto user = runtime::resolve_user(chown, db("/etc/passwd"), db("/etc/group"));
    return ChownIds{user.uid, is_numeric_uid_only(chown) ? user.uid : user.gid};
}

Digest linked_copy_state(StepEnv& env, const StageState& s, const parser::ResolvedStep& step) {
    const auto& copy = *step.instruction.as<parser::Copy>();
    CacheKey key(Digest::of("copy --link"));
    key.add("add", copy.is_add ? "1" : "0");
    key.add("workdir", s.config["config"].value("WorkingDir", "/"));
    for (const auto& src : copy.sources) key.add("source", src);
    for (const auto& h : copy.heredocs) key.add("heredoc", h.name + "\n" + h.body);
    for (const auto& e : copy.excludes) key.add("exclude", e);
    key.add("parents", copy.parents ? "1" : "0");
    key.add("from", copy.from);
    key.add("checksum", copy.checksum);
    key.add("dest", copy.dest);
    if (!copy.chown.empty()) {
        // A name means what the parent's /etc/passwd says: the ids are the input, not the name.
        ChownIds ids;
        if (copy.chown.find_first_not_of("0123456789:") == std::string::npos && !copy.chown.empty() &&
            copy.chown.front() != ':' && copy.chown.back() != ':') {
            const size_t colon = copy.chown.find(':');
            ids.uid = static_cast<uid_t>(std::stoul(copy.chown.substr(0, colon)));
            ids.gid = colon == std::string::npos ? ids.uid : static_cast<gid_t>(std::stoul(copy.chown.substr(colon + 1)));
        } else {
            TempDir dir = env.store.make_temp_dir("link-chown");
            make_dirs(dir.path() / "merged");
            OverlayView view(env.store, s.layers, fs::path(), fs::path(), dir.path() / "merged");
            ids = resolve_chown_in(view.root_fd(), copy.chown, "COPY --chown=" + copy.chown);
        }
        key.add("owner", std::to_string(ids.uid) + ":" + std::to_string(ids.gid));
    }
    return key.finish();
}

void rebase_linked_hit(StepEnv& env, const StageState& s, BuildCache::Hit& hit) {
    std::vector<layerstore::LayerInfo> layers = s.layers;
    if (made_layer(hit.config) && !hit.layers.empty()) {
        const layerstore::LayerInfo& recorded = hit.layers.back();
        std::optional<std::string> parent;
        if (!s.layers.empty()) parent = s.layers.back().id;
        if (recorded.parent == parent) {
            layers.push_back(recorded);
        } else if (auto existing = env.store.layer(layerstore::Store::chain_id(parent, recorded.diff_id))) {
            layers.push_back(*existing);
        } else {
            // The same files under the new parent: a copy of the recorded diff (owners, modes,
            // mtimes, links and xattrs kept), committed as a layer of its own.
            TempDir tmp = env.store.make_temp_dir("link-rebase");
            const fs::path diff = tmp.path() / "diff";
            make_dirs(diff, 0755);
            unique_fd from = open_or_throw(recorded.diff_dir, O_PATH | O_DIRECTORY);
            unique_fd to = open_or_throw(diff, O_PATH | O_DIRECTORY);
            CopySpec spec;
            spec.sources.emplace_back(from.get(), ".");
            spec.dest = "/";
            spec.dest_trailing_slash = true;
            spec.preserve_ownership = true;
            copy_into_root(to.get(), spec);
            from.reset();
            to.reset();
            layerstore::LayerInfo made = env.store.commit_layer_dir(diff, parent, recorded.source_date_epoch);
            if (made.diff_id != recorded.diff_id)
                throw Error("COPY --link: the rebased layer differs from the cached one (" + made.diff_id.str() +
                            " != " + recorded.diff_id.str() + ")");
            layers.push_back(made);
        }
    }
    nlohmann::json config = s.config;
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& l : layers) ids.push_back(l.diff_id.str());
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
    if (hit.config.contains("history")) config["history"] = hit.config["history"];  // the caller keeps ours + its last
    hit.config = std::move(config);
    hit.layers = std::move(layers);
}

}  // namespace imgbuild::builder
