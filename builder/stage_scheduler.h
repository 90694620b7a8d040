#pragma once
// Which stage builds when: a stage starts once every stage it reads from (FROM, COPY
// --from, RUN --mount from=) has finished, at most `jobs` at a time (build --jobs).
//
// Contracts:
// - Among the stages that are ready, the one listed first starts first: with jobs = 1 the
//   order is that of the list (Dockerfile order when every dependency comes earlier), in the
//   calling thread, with no thread started — today's sequential build.
// - The first stage to fail wins: no stage starts after it, `cancelled` turns true for the
//   ones still running (they stop at their next step), and once they are all done run()
//   rethrows that first exception. Later failures are dropped.
// - What a stage produced is visible to the stages that depend on it: a stage starts only
//   after its dependencies' build functions have returned (the scheduler's mutex orders
//   their writes before its reads).
#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

namespace imgbuild::builder {

struct StageTask {
    size_t id = 0;
    std::vector<size_t> deps;  // ids of other tasks (each must be in the list)
};

// build(id, cancelled): builds one stage; it may poll `cancelled` to stop early.
using BuildStageFn = std::function<void(size_t id, const std::atomic<bool>& cancelled)>;

// Runs build for every task as described above. Throws std::logic_error for a dependency
// that is not in the list or a cycle (the parser rejects both before a build starts).
void run_stages(const std::vector<StageTask>& tasks, unsigned jobs, const BuildStageFn& build);

// build --jobs default: the number of cores (at least 1).
[[nodiscard]] unsigned default_jobs();

}  // namespace imgbuild::builder
