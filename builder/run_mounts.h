#pragma once
// RUN --mount (BuildKit's Dockerfile reference): cache, secret, ssh, bind and tmpfs mounts
// of one RUN step. Nothing a mount puts at its target reaches the layer: the mount points
// the image lacks are made in the container's init layer (the bottom lowerdir, never
// committed), as BuildKit removes the empty stubs it created after the run.
//
//   type=cache   <store>/cache-mounts/<sha256 of id>/data (layerstore/cache_mounts.h), kept
//                between builds and across --no-cache; id defaults to the target.
//   type=secret  a file on a private tmpfs of the builder (never on disk), bound read-only
//                at target (default /run/secrets/<id>), and/or an env var (env=NAME).
//   type=ssh     a socket relaying to the agent given with --ssh, at target (default
//                /run/buildkit/ssh_agent.<n>); SSH_AUTH_SOCK names the first one.
//   type=bind    a stage, an image or (default) the context; read-only unless rw, and rw
//                writes land in a throw-away copy or overlay, never in the source.
//   type=tmpfs   a fresh tmpfs (size=).
//
// Cache key (mounts_fingerprint): every mount's spec, the state of a from= stage or image,
// the content digest of a bind source from the context; never a secret's value.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "builder/container_spec.h"
#include "parser/instructions.h"

namespace imgbuild::builder {

// The mounts with BuildKit's defaults filled in (ids, targets, modes; a relative target
// is joined to `workdir`) and checked: a field the type does not take, a bad mode, uid or
// gid, or two mounts on one target is an Error naming the mount as written.
[[nodiscard]] std::vector<parser::Mount> normalize_mounts(const std::vector<parser::Mount>& mounts,
                                                          const std::string& workdir);

// What the step's cache key gets from its mounts ("" when it has none).
[[nodiscard]] std::string mounts_fingerprint(StepEnv& env, const parser::ResolvedStep& step);

// Everything one RUN's mounts hold while it runs (views, copies, cache locks, the secrets
// tmpfs, ssh relays); released, unmounted and removed on destruction.
class RunMounts {
public:
    // `run_dir` is the RUN's temp dir (make_container_spec puts init/ there).
    RunMounts(StepEnv& env, const StageState& s, const parser::ResolvedStep& step, const std::filesystem::path& run_dir);
    ~RunMounts();
    RunMounts(const RunMounts&) = delete;
    RunMounts& operator=(const RunMounts&) = delete;

    // Adds the binds, tmpfs mounts and env vars (secrets with env=, SSH_AUTH_SOCK) to the RUN.
    void add_to(RunOptions& options) const;

    struct Held;

private:
    std::unique_ptr<Held> held_;
};

}  // namespace imgbuild::builder
