#include "builder/rootfs_view.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/user_namespace.h"
#include "runtime/overlay.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

void enter_private_mount_namespace() {
    static bool done = false;
    if (done) return;
    if (::unshare(CLONE_NEWNS) != 0) throw_errno("unshare", "mount namespace");
    // Propagation back to the host's namespace would defeat the point.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw_errno("make mounts private", "/");
    done = true;
}

OverlayView::OverlayView(const layerstore::Store& store, const std::vector<layerstore::LayerInfo>& layers,
                         const fs::path& upper, const fs::path& work, const fs::path& merged)
    : merged_(fs::absolute(merged)) {
    // The runtime's overlay (runtime/overlay.cpp) owns the options and the short links
    // (l/<12 hex of the lower's path>, which keep 100+ layers within a page of options).
    // The bottom lower is one empty dir of the store: overlay wants a lower even for FROM
    // scratch, and two when read-only; a stable path means one short link, not one per step.
    std::vector<fs::path> lowers;
    lowers.reserve(layers.size());
    for (const auto& l : layers) lowers.push_back(fs::absolute(store.root() / "layers" / l.id / "diff"));
    const fs::path links = fs::absolute(store.short_links_dir());
    const fs::path empty = links / "empty-lower";
    make_dirs(empty, 0755);
    runtime::ensure_short_links(lowers, empty, links);
    // Writable, it is mounted volatile as a RUN's container is (runtime/container.h): a
    // non-volatile overlay syncs its whole upper filesystem when unmounted (the store's fs,
    // everything dirty on it: 3 ms of each COPY, ADD and WORKDIR on an idle machine, far more
    // beside other writers), while the upper dir is complete either way and the layer it
    // becomes is synced by the store's commit as every layer is.
    const bool writable = !upper.empty();
    if (writable) runtime::clear_volatile_marker(work);
    runtime::OverlayMount m = runtime::overlay_options(lowers, empty, writable ? fs::absolute(upper) : upper,
                                                       writable ? fs::absolute(work) : work, links,
                                                       in_user_namespace(), /*volatile_mount=*/writable);
    runtime::mount_overlay_no_chdir(m, merged_);
    mounted_ = true;
    root_ = open_or_throw(merged_, O_PATH | O_DIRECTORY);
}

void OverlayView::unmount() {
    root_.reset();
    if (!mounted_) return;
    mounted_ = false;
    if (::umount2(merged_.c_str(), 0) != 0) {
        int err = errno;
        ::umount2(merged_.c_str(), MNT_DETACH);
        throw_errno(err, "unmount", merged_.string());
    }
}

OverlayView::~OverlayView() {
    root_.reset();
    if (mounted_) ::umount2(merged_.c_str(), MNT_DETACH);
}

}  // namespace imgbuild::builder
