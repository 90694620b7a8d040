#include "oci/parallel_gzip.h"

#include <libdeflate.h>
#include <sched.h>

#include <algorithm>

#include "common/error.h"

namespace imgbuild::oci {

namespace {
constexpr int kGzipLevel = 6;  // zlib's default: the same ratio as before, libdeflate is ~2x faster

std::vector<char> gzip_member(const std::string& in) {
    libdeflate_compressor* c = libdeflate_alloc_compressor(kGzipLevel);
    if (!c) throw Error("gzip: cannot allocate a libdeflate compressor");
    std::vector<char> out(libdeflate_gzip_compress_bound(c, in.size()));
    size_t n = libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size());
    libdeflate_free_compressor(c);
    if (n == 0) throw Error("gzip: libdeflate could not compress a block");
    out.resize(n);
    return out;
}
}  // namespace

unsigned compression_threads() {
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return static_cast<unsigned>(std::clamp(n, 1, 8));
}

ParallelGzip::ParallelGzip(std::function<void(const char*, size_t)> emit)
    : emit_(std::move(emit)), max_in_flight_(compression_threads() + 1) {
    block_.reserve(kGzipBlockSize);
}

// Waits for the members still compressing (an exception unwinding past us must not leave
// a thread writing into freed memory: the futures own their inputs).
ParallelGzip::~ParallelGzip() {
    for (auto& f : in_flight_)
        if (f.valid()) f.wait();
}

void ParallelGzip::write(const char* p, size_t n) {
    while (n > 0) {
        size_t k = std::min(n, kGzipBlockSize - block_.size());
        block_.append(p, k);
        p += k;
        n -= k;
        if (block_.size() == kGzipBlockSize) submit();
    }
}

void ParallelGzip::submit() {
    if (in_flight_.size() >= max_in_flight_) emit_front();
    if (max_in_flight_ <= 2) {  // one CPU: no thread to hand the block to
        auto out = gzip_member(block_);
        std::promise<std::vector<char>> done;
        done.set_value(std::move(out));
        in_flight_.push_back(done.get_future());
    } else {
        in_flight_.push_back(std::async(std::launch::async, [in = std::move(block_)] { return gzip_member(in); }));
    }
    block_ = std::string();
    block_.reserve(kGzipBlockSize);
    any_ = true;
}

void ParallelGzip::emit_front() {
    std::vector<char> out = in_flight_.front().get();
    in_flight_.pop_front();
    emit_(out.data(), out.size());
}

void ParallelGzip::finish() {
    if (!block_.empty() || !any_) submit();
    while (!in_flight_.empty()) emit_front();
}

}  // namespace imgbuild::oci
