#include "builder/deferred_removal.h"

#include <system_error>

#include "common/helper_thread.h"

namespace imgbuild::builder {

DeferredRemoval::~DeferredRemoval() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void DeferredRemoval::remove_later(std::filesystem::path path) {
    wait();
    if (!thread_.joinable()) {
        try {
            thread_ = start_helper_thread([this] { work(); });
        } catch (const std::system_error&) {  // no thread to be had: removed here
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
            return;
        }
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_ = std::move(path);
        busy_ = true;
    }
    cv_.notify_all();
}

void DeferredRemoval::wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !busy_; });
}

void DeferredRemoval::work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        cv_.wait(lock, [this] { return pending_.has_value() || stopping_; });
        if (!pending_) return;  // stopping, nothing left
        {
            std::filesystem::path path = std::move(*pending_);
            pending_.reset();
            lock.unlock();
            std::error_code ec;
            std::filesystem::remove_all(path, ec);  // a failure: the next mount's own check removes it
        }  // freed before wait() returns: no malloc lock of this thread's is held by then (header)
        lock.lock();
        busy_ = false;
        cv_.notify_all();
    }
}

}  // namespace imgbuild::builder
