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
    });
}

BackgroundStampCheck::~BackgroundStampCheck() { wait(); }

void BackgroundStampCheck::wait() {
    if (thread_.joinable()) thread_.join();
}

const std::vector<LayerInfo>& BackgroundStampCheck::changed() {
    wait();
    return changed_;
}

}  // namespace imgbuild::layerstore
