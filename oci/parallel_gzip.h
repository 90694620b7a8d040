#pragma once
// gzip on every core, as pigz does: the input is cut into blocks of a fixed size, each block
// is compressed by a worker thread into independent gzip members (gzip_member.h: libdeflate,
// incompressible runs stored), and the members leave in input order. A gzip file may hold
// several members (RFC 1952 2.2); every reader of layers (Go's compress/gzip, libarchive,
// zlib's gunzip, busybox) reads them as one stream. The output depends only on the input (the
// block size is fixed, not the thread count): the same layer gives the same blob on any machine.
//
// The workers, their compressors and the blocks' buffers live as long as the compressor (until
// 2026-12-03 each block had a thread, a compressor and buffers of its own: ~0.5 s of page
// faults and thread starts in a 768 MiB save). A stream of one block never starts a thread.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace imgbuild::oci {

inline constexpr size_t kGzipBlockSize = 1 << 20;

class GzipMemberEncoder;

class ParallelGzip {
public:
    // `emit` receives the compressed bytes, in order, on the calling thread.
    explicit ParallelGzip(std::function<void(const char*, size_t)> emit);
    // Stops the workers; what they have not emitted is dropped.
    ~ParallelGzip();
    ParallelGzip(const ParallelGzip&) = delete;
    ParallelGzip& operator=(const ParallelGzip&) = delete;
    void write(const char* p, size_t n);
    // Compresses what is left and emits every member; call once. An empty input gives one
    // empty member (a valid gzip file). A worker's error is rethrown here or by write().
    void finish();

private:
    struct Job {
        std::string in;
        std::vector<char> out;
        size_t out_size = 0;
        bool done = false;
        std::exception_ptr error;
    };
    void submit();
    void emit_front();
    void work();
    void encode_here(Job& job);

    std::function<void(const char*, size_t)> emit_;
    std::string block_;
    unsigned workers_wanted_;  // worker threads; submit() keeps one block more in flight, so no worker idles while one is emitted
    bool any_ = false;
    std::unique_ptr<GzipMemberEncoder> here_;  // the calling thread's, for a one-block stream or one CPU

    std::mutex mu_;
    std::condition_variable todo_ready_, job_done_;
    std::deque<std::unique_ptr<Job>> in_flight_;  // in input order
    std::deque<Job*> todo_;                       // not yet taken by a worker
    std::vector<std::unique_ptr<Job>> spare_;     // emitted jobs, their buffers kept
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

// The threads a compressor may use: the CPUs this process may run on, at most 8.
[[nodiscard]] unsigned compression_threads();

}  // namespace imgbuild::oci
