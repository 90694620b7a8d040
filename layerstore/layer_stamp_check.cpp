#include "layerstore/layer_stamp_check.h"

#include "common/helper_thread.h"
#include "layerstore/layer_stamp.h"

namespace imgbuild::layerstore {

bool stamp_matches(const LayerInfo& layer) noexcept {
    if (!layer.stamp) return false;
    try {
        struct stat st {};
        if (::lstat(layer.diff_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
        return stamp_dir(layer.diff_dir, stamp_threads_for(layer.stamp->entries)) == *layer.stamp;
    } catch (...) {  // a walk error, or out of memory: the caller's full check decides
        return false;
    }
}

BackgroundStampCheck::BackgroundStampCheck(std::vector<LayerInfo> layers) : layers_(std::move(layers)) {
    changed_.reserve(layers_.size());  // the thread then never allocates for its answer
    thread_ = start_helper_thread([this] {
        for (const auto& l : layers_)
            if (!stamp_matches(l)) changed_.push_back(l);
        // The container is cloned meanwhile (clone3, not fork(): glibc's malloc locks are not
        // taken around it) and its child allocates. A thread that ends gives its malloc cache
        // back, under the main arena's lock; ending at the clone's instant, that lock would
        // stay held in the child forever. So it ends only when asked for its answer: after the
        // container.
        std::unique_lock<std::mutex> lock(mutex_);
        released_cv_.wait(lock, [this] { return released_; });
    });
}

BackgroundStampCheck::~BackgroundStampCheck() { wait(); }

void BackgroundStampCheck::wait() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        released_ = true;
    }
    released_cv_.notify_one();
    thread_.join();
}

const std::vector<LayerInfo>& BackgroundStampCheck::changed() {
    wait();
    return changed_;
}

}  // namespace imgbuild::layerstore
