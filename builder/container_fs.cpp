#include "builder/container_fs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <functional>

#include "builder/container_ops.h"
#include "builder/rootfs_view.h"
#include "common/error.h"
#include "common/path_resolve.h"
#include "oci/layer_tar.h"
#include "runtime/mounts_apply.h"
#include "runtime/overlay.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

}  // namespace

ContainerRootView::ContainerRootView(const layerstore::Store& store, const layerstore::ContainerConfig& config,
                                     bool writable)
    : dir_(store.make_temp_dir("view")) {
    enter_private_mount_namespace();
    runtime::ContainerSpec spec = spec_from_record(store, config);
    fs::path init_layer = runtime::prepare_init_dir(spec);
    runtime::OverlayMount m;
    if (writable) {
        runtime::ensure_short_links(spec.lower_dirs, init_layer, spec.short_links_dir);
        runtime::clear_volatile_marker(spec.work_dir);
        m = runtime::overlay_options(spec.lower_dirs, init_layer, spec.upper_dir, spec.work_dir, spec.short_links_dir,
                                     spec.rootless, false);
    } else {
        // The upper dir as the top lowerdir (a short link too; removed with the container).
        auto lowers = spec.lower_dirs;
        lowers.push_back(spec.upper_dir);
        runtime::ensure_short_links(lowers, init_layer, spec.short_links_dir);
        m = runtime::overlay_options(lowers, init_layer, "", "", spec.short_links_dir, spec.rootless, false);
    }
    runtime::mount_overlay_no_chdir(m, dir_.path());
    root_ = open_or_throw(dir_.path(), O_PATH | O_DIRECTORY);
}

ContainerRootView::~ContainerRootView() {
    root_.reset();
    (void)::umount2(dir_.path().c_str(), MNT_DETACH);
}

void copy_tree(const layerstore::Store& store, int src_fd, const fs::path& dest) {
    TempDir tmp = store.make_temp_dir("copy");
    fs::path tar = tmp.path() / "tree.tar";
    {
        auto out = open_or_throw(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        (void)oci::write_layer_tar(fd_path(src_fd), out.get(), oci::TarWriteOptions{});
    }
    auto in = open_or_throw(tar, O_RDONLY);
    (void)oci::extract_layer_tar(in.get(), dest, oci::ExtractOptions{});
}

void fill_volume_from_image(const layerstore::Store& store, const std::vector<layerstore::LayerInfo>& layers,
                            const std::string& path, const fs::path& data_dir) {
    if (layers.empty()) return;
    enter_private_mount_namespace();
    TempDir tmp = store.make_temp_dir("volfill");
    make_dirs(tmp.path() / "merged");
    OverlayView view(store, layers, "", "", tmp.path() / "merged");
    unique_fd src;
    try {
        src = open_in_root(view.root_fd(), path, O_RDONLY | O_DIRECTORY);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT || e.error_number() == ENOTDIR) return;
        throw;
    }
    copy_tree(store, src.get(), data_dir);
}

std::vector<std::string> container_changes(const layerstore::Store& store, const layerstore::ContainerConfig& config) {
    std::vector<fs::path> lowers;
    for (const auto& id : config.layers)
        if (auto l = store.layer(id)) lowers.push_back(l->diff_dir);
    // In a lower layer (top first), unless a layer above it deleted it.
    auto in_image = [&](const std::string& rel) {
        for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) {
            struct stat st;
            if (::lstat((*it / rel).c_str(), &st) == 0) return !is_whiteout(st);
        }
        return false;
    };
    std::vector<std::string> out;
    fs::path upper = layerstore::Containers(store).dir(config.id) / "upper";
    std::function<void(const std::string&)> walk = [&](const std::string& rel) {
        fs::path dir = rel.empty() ? upper : upper / rel;
        auto fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
        for (const auto& name : sorted_dir_names(fd.get(), dir.string())) {
            std::string child = rel.empty() ? name : rel + "/" + name;
            struct stat st;
            if (::lstat((upper / child).c_str(), &st) != 0) continue;
            if (is_whiteout(st)) {
                out.push_back("D /" + child);
                continue;
            }
            out.push_back((in_image(child) ? "C /" : "A /") + child);
            if (S_ISDIR(st.st_mode)) walk(child);
        }
    };
    walk("");
    return out;
}

}  // namespace imgbuild::builder
