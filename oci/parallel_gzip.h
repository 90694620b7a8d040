#pragma once
// gzip on every core, as pigz does: the input is cut into blocks of a fixed size, each block
// is compressed by libdeflate (level 6) on a worker thread into an independent gzip member,
// and the members leave in input order. A gzip file may hold several members (RFC 1952 2.2);
// every reader of layers (Go's compress/gzip, libarchive, zlib's gunzip, busybox) reads them
// as one stream. The output depends only on the input (the block size is fixed, not the
// thread count): the same layer gives the same blob on any machine.
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <string>
#include <vector>

namespace imgbuild::oci {

inline constexpr size_t kGzipBlockSize = 1 << 20;

class ParallelGzip {
public:
    // `emit` receives the compressed bytes, in order, on the calling thread.
    explicit ParallelGzip(std::function<void(const char*, size_t)> emit);
    ~ParallelGzip();
    ParallelGzip(const ParallelGzip&) = delete;
    ParallelGzip& operator=(const ParallelGzip&) = delete;
    void write(const char* p, size_t n);
    // Compresses what is left and waits for every member; call once. An empty input gives
    // one empty member (a valid gzip file).
    void finish();

private:
    void submit();
    void emit_front();
    std::function<void(const char*, size_t)> emit_;
    std::string block_;
    std::deque<std::future<std::vector<char>>> in_flight_;
    size_t max_in_flight_;
    bool any_ = false;
};

// The threads a compressor may use: the CPUs this process may run on, at most 8.
[[nodiscard]] unsigned compression_threads();

}  // namespace imgbuild::oci
