#pragma once
// COPY --link / ADD --link: a layer that does not depend on the layers below it, as
// BuildKit makes it (a copy onto scratch, then merged): the files are copied into an empty
// directory (nothing of the parent is seen: no image symlink is followed, the destination's
// directories are made 0755 by the --chown user, as BuildKit's CreateDestPath), and the
// step's cache key leaves the parent out: it holds the instruction as expanded, the
// sources' content, the resolved --chown and the WORKDIR. A new base image therefore keeps
// the layer (same diffID), and only the image config and manifest change.
// With --chmod BuildKit makes a plain copy (dockerfile2llb: link && chmod == ""): so do we.
#include <optional>
#include <string>

#include "builder/build_cache.h"
#include "builder/build_state.h"

namespace imgbuild::builder {

// COPY/ADD with --link (and no --chmod).
[[nodiscard]] bool is_linked_copy(const parser::ResolvedStep& step);

// --chown resolved in the image at root_fd (its /etc/passwd and /etc/group). A numeric uid
// alone owns by uid:uid, as both of Docker's builders do.
struct ChownIds {
    uid_t uid = 0;
    gid_t gid = 0;
};
[[nodiscard]] ChownIds resolve_chown_in(int root_fd, const std::string& chown, const std::string& what);

// The state a linked step's cache key starts from instead of the parent's (see above).
[[nodiscard]] Digest linked_copy_state(StepEnv& env, const StageState& s, const parser::ResolvedStep& step);

// A cache hit of a linked step, possibly recorded over another base: its layer is put on
// top of s.layers (re-made under the new parent's chain id from the recorded layer's diff,
// same diffID) and its config is ours with that layer added. `hit` is rewritten in place.
void rebase_linked_hit(StepEnv& env, const StageState& s, BuildCache::Hit& hit);

}  // namespace imgbuild::builder
