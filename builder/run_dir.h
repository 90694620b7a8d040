#pragma once
// The dir a RUN's container lives in: make_container_spec puts upper/, work/, merged/ and
// init/ there.
#include <filesystem>
#include <optional>

#include "common/fs.h"
#include "layerstore/store.h"

namespace imgbuild::builder {

// A stage's plain RUNs (no --mount) share one dir, `stage_dir` (StepEnv::run_dir, owned by
// the stage's thread, so parallel stages never share one): work/ and merged/ are made once
// per stage and init/'s files rewritten in place, a dozen inode creations and removals less
// per step (on ext4 without a journal each creation scans the recently freed inodes). The
// kernel empties work/work at every overlay mount; clear_volatile_marker drops the last
// mount's volatile marker. upper/ becomes the step's layer (moved into the store); an upper
// left behind by a step that changed nothing is used again only when it is still as it was
// made (empty, no xattr but overlayfs's uuid, merged/'s mode and owner): a chmod of / that
// is_empty does not see must not reach the next layer. A RUN with --mount gets a dir of its
// own (its stubs go into init/rootfs), as does a caller without a stage dir.
class RunDir {
public:
    RunDir(layerstore::Store& store, std::optional<TempDir>* stage_dir, bool shareable);
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    // The stage's dir, used again by its next plain RUN (not one of this step's own).
    [[nodiscard]] bool shared() const { return !own_; }

private:
    std::optional<TempDir> own_;
    std::filesystem::path path_;
};

}  // namespace imgbuild::builder
