#include "builder/run_dir.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstring>
#include <string_view>

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

// The last step's upper dir as make_container_spec made it: empty, with no xattr but the
// overlay's own uuid, and the mode and owner of merged/, made beside it the same way. The
// next step can use it as it is; anything else (a chmod or chown of /, an xattr overlayfs
// set) could reach its layer.
bool upper_as_made(const fs::path& dir) {
    struct stat upper {}, merged {};
    if (::lstat((dir / "upper").c_str(), &upper) != 0 || ::lstat((dir / "merged").c_str(), &merged) != 0) return false;
    if (!S_ISDIR(upper.st_mode) || upper.st_mode != merged.st_mode || upper.st_uid != merged.st_uid ||
        upper.st_gid != merged.st_gid)
        return false;
    // overlayfs names its instance on an empty upper's first mount (overlay.uuid, kernel 6.6
    // on): that one stays with the dir whoever mounts it; any other xattr does not.
    char names[256];
    ssize_t n = ::llistxattr((dir / "upper").c_str(), names, sizeof names);
    if (n < 0) return false;
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
        std::string_view name(names + i);
        if (name != "trusted.overlay.uuid" && name != "user.overlay.uuid") return false;
    }
    std::error_code ec;
    return fs::is_empty(dir / "upper", ec) && !ec;
}

}  // namespace

RunDir::RunDir(layerstore::Store& store, std::optional<TempDir>* stage_dir, bool shareable) {
    if (!shareable || stage_dir == nullptr) {
        own_.emplace(store.make_temp_dir("run"));
        path_ = own_->path();
        return;
    }
    if (!*stage_dir) stage_dir->emplace(store.make_temp_dir("run"));
    path_ = (*stage_dir)->path();
    // The last step's upper, not committed: a step that changed nothing left it as it was
    // made and it is used again (a dir block freed and another allocated less per step: with
    // ext4's discard option the free is a synchronous discard, ~0.1 ms); anything else goes.
    fs::path upper = path_ / "upper";
    struct stat st {};
    if (::lstat(upper.c_str(), &st) == 0 && !upper_as_made(path_)) remove_tree(upper);
}

}  // namespace imgbuild::builder
