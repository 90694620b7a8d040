#pragma once
// A path removed on a helper thread while the caller goes on. A build stage's RUN steps share
// one run dir (run_dir.h), and each one's volatile overlay leaves a marker in the work dir
// (runtime/overlay.h volatile_marker) that the next mount of it must not find; removing it
// frees a directory block, which on an ext4 mounted with `discard` (this VM) is a synchronous
// discard: ~0.18 ms of every RUN step's critical path. Removed beside the step's commit
// instead; the next step waits for it (wait()) before its own container.
//
// The thread parks between removals and ends only in the destructor: a thread that ends, or
// allocates, at the instant of a container's clone3 could leave the child a malloc lock held
// for ever (layerstore/layer_stamp_check.h). So the next container starts only after wait(),
// when the removal, its allocations included, is over and the thread is parked.
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

namespace imgbuild::builder {

class DeferredRemoval {
public:
    DeferredRemoval() = default;
    ~DeferredRemoval();
    DeferredRemoval(const DeferredRemoval&) = delete;
    DeferredRemoval& operator=(const DeferredRemoval&) = delete;

    // Removes `path` (a tree; a missing one is fine) on the helper thread, after the last one;
    // here when no thread can be started.
    void remove_later(std::filesystem::path path);
    // Returns once the last path given is removed (or its removal failed: whoever uses the
    // place next finds it there and removes it as it would have without this).
    void wait();

private:
    void work();
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<std::filesystem::path> pending_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace imgbuild::builder
