#pragma once
// Runs fn(0..n-1) on up to `threads` threads (transfers: four at a time, as Docker does).
// After the first failure no new item starts; the first exception is rethrown once all
// threads have stopped.
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace imgbuild::registry {

inline constexpr size_t kParallelTransfers = 4;

template <typename F>
void parallel_for(size_t n, size_t threads, F fn) {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
        for (;;) {
            size_t i = next++;
            if (i >= n || failed) return;
            try {
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> l(mu);
                if (!first) first = std::current_exception();
                failed = true;
            }
        }
    };
    size_t count = std::min(threads, n);
    if (count <= 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (size_t t = 0; t < count; ++t) pool.emplace_back(worker);
        for (auto& t : pool) t.join();
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace imgbuild::registry
