#include "builder/rootfs_view.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"

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
                         const fs::path& upper, const fs::path& work, const fs::path& merged, const fs::path& empty_dir)
    : merged_(merged) {
    // lowerdir lists the top layer first. Short links (l/<prefix>, relative to the store
    // root, where we chdir for the mount) keep 100+ layers within one page of options.
    std::string lower;
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
        fs::path link = store.short_links_dir() / it->id.substr(0, 20);
        if (!fs::is_symlink(link)) {
            std::error_code ec;
            fs::create_symlink(fs::path("../layers") / it->id / "diff", link, ec);
        }
        lower += "l/" + it->id.substr(0, 20) + ":";
    }
    lower += empty_dir.string();
    // redirect_dir, metacopy and index off: the upper dir must be a complete diff (DESIGN §4).
    std::string data = "lowerdir=" + lower + ",redirect_dir=off,index=off,metacopy=off";
    if (!upper.empty()) data += ",upperdir=" + upper.string() + ",workdir=" + work.string();
    unique_fd cwd = open_or_throw(".", O_PATH | O_DIRECTORY);
    if (::chdir(store.root().c_str()) != 0) throw_errno("chdir", store.root().string());
    int rc = ::mount("overlay", merged.c_str(), "overlay", 0, data.c_str());
    int err = errno;
    if (::fchdir(cwd.get()) != 0) throw_errno("fchdir", "previous working directory");
    if (rc != 0) throw_errno(err, "mount overlay on", merged.string() + " (" + data + ")");
    mounted_ = true;
    root_ = open_or_throw(merged, O_PATH | O_DIRECTORY);
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
