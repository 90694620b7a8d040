#include "builder/run_dir.h"

#include <sys/stat.h>

namespace imgbuild::builder {

namespace fs = std::filesystem;

RunDir::RunDir(layerstore::Store& store, std::optional<TempDir>* stage_dir, bool shareable) {
    if (!shareable || stage_dir == nullptr) {
        own_.emplace(store.make_temp_dir("run"));
        path_ = own_->path();
        return;
    }
    if (!*stage_dir) stage_dir->emplace(store.make_temp_dir("run"));
    path_ = (*stage_dir)->path();
    fs::path upper = path_ / "upper";
    struct stat st {};
    if (::lstat(upper.c_str(), &st) == 0) remove_tree(upper);  // the last step's, not committed
}

}  // namespace imgbuild::builder
