#include "layerstore/layer_stamp_check.h"

#include <signal.h>

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
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);  // inherited by the new thread
    try {
        thread_ = std::thread([this] {
            for (const auto& l : layers_)
                if (!stamp_matches(l)) changed_.push_back(l);
        });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
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
