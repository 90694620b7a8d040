#pragma once
// The stamp check of verify_layer_for_use (layer_stamp.h) on a thread of its own, for a
// caller that can throw away what it makes meanwhile: a RUN step starts it before its
// container and asks for the answer after the container exits, before its upper dir is
// committed or cached, so the walk (one fstatat per entry: ~20 ms for a 10k-file base)
// costs no wall time beside the container. Only reads: a layer whose stamp does not match
// is handed back for the caller to verify (re-hash, re-stamp or reinstall) on its own thread.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "layerstore/store.h"

namespace imgbuild::layerstore {

// True when diff/ is present and its stamp is the recorded one (false when none is recorded
// or the walk fails: verify_layer_for_use then decides and names the error).
[[nodiscard]] bool stamp_matches(const LayerInfo& layer) noexcept;

class BackgroundStampCheck {
public:
    // Starts walking the layers' diff dirs (the thread has every signal blocked, so signals
    // for the builder and the container it forwards to keep going to the caller's thread).
    explicit BackgroundStampCheck(std::vector<LayerInfo> layers);
    ~BackgroundStampCheck();  // waits for the walk
    BackgroundStampCheck(const BackgroundStampCheck&) = delete;
    BackgroundStampCheck& operator=(const BackgroundStampCheck&) = delete;

    // Waits for the walk; the layers whose stamp did not match (empty: all are as recorded).
    [[nodiscard]] const std::vector<LayerInfo>& changed();
    // The layers given to the constructor.
    [[nodiscard]] const std::vector<LayerInfo>& layers() const { return layers_; }

private:
    void wait();
    std::vector<LayerInfo> layers_;
    std::vector<LayerInfo> changed_;
    std::mutex mutex_;
    std::condition_variable released_cv_;
    bool released_ = false;  // the walk's thread may end (wait())
    std::thread thread_;
};

}  // namespace imgbuild::layerstore
