#include "builder/squash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/rootfs_view.h"
#include "common/error.h"
#include "common/path_resolve.h"
#include "common/fs.h"
#include "oci/layer_tar.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

// Applies one layer (its tar, written to a temp file: memory stays bounded) onto `dir`.
void apply_layer(const layerstore::LayerInfo& layer, const fs::path& dir, const fs::path& tmp_file) {
    {
        unique_fd out = open_or_throw(tmp_file, O_RDWR | O_CREAT | O_TRUNC, 0600);
        (void)oci::write_layer_tar(layer.diff_dir, out.get(),
                                   oci::TarWriteOptions{oci::Compression::none, layer.source_date_epoch});
        if (::lseek(out.get(), 0, SEEK_SET) != 0) throw_errno("seek", tmp_file.string());
        oci::ExtractOptions opts;
        opts.opaque_clears = true;
        (void)oci::extract_layer_tar(out.get(), dir, opts);
    }
    fs::remove(tmp_file);
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

// Whether `rel` names an entry of the base (its root at base_fd, resolved in that root).
bool in_base(int base_fd, const std::string& rel) {
    const size_t slash = rel.rfind('/');
    try {
        unique_fd dir = open_in_root(base_fd, slash == std::string::npos ? "." : rel.substr(0, slash), O_PATH | O_DIRECTORY);
        struct stat st{};
        return ::fstatat(dir.get(), rel.substr(slash + 1).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    } catch (const SystemError&) {
        return false;
    }
}

// Drops the whiteouts that hide nothing below: with no base (--squash-all) all of them and
// the opaque marks too; with a base (--squash) those of files the new layers made and
// deleted again, which the base never had.
void drop_whiteouts(int dirfd, const std::string& rel, const std::string& shown, int base_fd) {
    if (base_fd < 0) {
        const std::string self = "/proc/self/fd/" + std::to_string(dirfd);
        (void)::removexattr(self.c_str(), "trusted.overlay.opaque");
        (void)::removexattr(self.c_str(), "user.overlay.opaque");
    }
    for (const auto& name : sorted_dir_names(dirfd, shown)) {
        const std::string child = rel.empty() ? name : rel + "/" + name;
        struct stat st{};
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat", shown + "/" + name);
        if (is_whiteout(st)) {
            if (base_fd >= 0 && in_base(base_fd, child)) continue;
            if (::unlinkat(dirfd, name.c_str(), 0) != 0) throw_errno("unlink", shown + "/" + name);
        } else if (S_ISDIR(st.st_mode)) {
            unique_fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw_errno("open", shown + "/" + name);
            drop_whiteouts(sub.get(), child, shown + "/" + name, base_fd);
        }
    }
}

// Keeps the history's non-empty entries matching the layers: of the entries that made the
// merged layers, only the last stays non-empty.
void fix_history(nlohmann::json& config, size_t kept_layers) {
    auto it = config.find("history");
    if (it == config.end() || !it->is_array()) return;
    size_t non_empty = 0;
    std::optional<size_t> last;
    for (size_t i = 0; i < it->size(); ++i) {
        nlohmann::json& h = (*it)[i];
        if (h.value("empty_layer", false)) continue;
        if (++non_empty <= kept_layers) continue;
        if (last) (*it)[*last]["empty_layer"] = true;
        last = i;
    }
}

}  // namespace

void squash_stage(layerstore::Store& store, StageState& s, bool all, std::optional<int64_t> source_date_epoch) {
    const size_t first = all ? 0 : std::min(s.base_layers, s.layers.size());
    if (s.layers.size() - first <= 1) return;  // nothing to merge
    TempDir tmp = store.make_temp_dir("squash");
    const fs::path diff = tmp.path() / "diff";
    make_dirs(diff, 0755);
    for (size_t i = first; i < s.layers.size(); ++i) apply_layer(s.layers[i], diff, tmp.path() / "layer.tar");
    {
        unique_fd root = open_or_throw(diff, O_RDONLY | O_DIRECTORY);
        std::vector<layerstore::LayerInfo> base(s.layers.begin(), s.layers.begin() + static_cast<std::ptrdiff_t>(first));
        std::optional<OverlayView> base_view;
        if (!all) {
            make_dirs(tmp.path() / "base");
            base_view.emplace(store, base, fs::path(), fs::path(), tmp.path() / "base");
        }
        drop_whiteouts(root.get(), "", diff.string(), base_view ? base_view->root_fd() : -1);
    }
    std::vector<layerstore::LayerInfo> layers(s.layers.begin(), s.layers.begin() + static_cast<std::ptrdiff_t>(first));
    std::optional<std::string> parent;
    if (!layers.empty()) parent = layers.back().id;
    if (!fs::is_empty(diff)) layers.push_back(store.commit_layer_dir(diff, parent, source_date_epoch));
    s.layers = std::move(layers);
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& l : s.layers) ids.push_back(l.diff_id.str());
    s.config["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
    fix_history(s.config, first);
}

}  // namespace imgbuild::builder
