#include "oci/parallel_gzip.h"

#include <libdeflate.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/error.h"

namespace imgbuild::oci {

namespace {
constexpr int kGzipLevel = 6;  // zlib's default: the same ratio as before, libdeflate is ~2x faster
constexpr int kStoredLevel = 0;  // libdeflate's level 0: stored blocks, a copy

// Order-0 entropy of `n` bytes, in bits per byte.
double byte_entropy(const unsigned char* p, size_t n) {
    uint64_t counts[4][256] = {};  // four histograms: no store-to-load stall on repeated bytes
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        ++counts[0][p[i]];
        ++counts[1][p[i + 1]];
        ++counts[2][p[i + 2]];
        ++counts[3][p[i + 3]];
    }
    for (; i < n; ++i) ++counts[0][p[i]];
    double h = 0;
    for (int b = 0; b < 256; ++b) {
        uint64_t c = counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
        if (c == 0) continue;
        double q = static_cast<double>(c) / static_cast<double>(n);
        h -= q * std::log2(q);
    }
    return h;
}

// Incompressible bytes are stored, not compressed: level 6 spends ~14 ms per MiB of random
// bytes to find nothing, a stored block is a copy. The test is made per 16 KiB chunk of the
// block, as a layer interleaves such bytes with others at file granularity (the W3 layer's
// files are 40 KiB random then 40 KiB zeros: no 1 MiB block of it is random as a whole).
// Random or already compressed bytes measure ~7.989 bits/byte over 16 KiB (the estimate's
// bias is 255 / (2 * 16384 * ln 2) = 0.011), text and code 4-6, zeros 0; at 7.97 what is
// stored could have shrunk by at most ~0.4% (order 0). The decision depends on the chunk's
// bytes alone, so the output still depends only on the input.
constexpr size_t kEntropyChunk = 16 << 10;
constexpr double kIncompressibleBits = 7.97;

bool incompressible_chunk(const char* p, size_t n) {
    return n == kEntropyChunk && byte_entropy(reinterpret_cast<const unsigned char*>(p), n) > kIncompressibleBits;
}

void append_member(std::vector<char>& out, const char* p, size_t n, bool stored) {
    libdeflate_compressor* c = libdeflate_alloc_compressor(stored ? kStoredLevel : kGzipLevel);
    if (!c) throw Error("gzip: cannot allocate a libdeflate compressor");
    size_t at = out.size();
    out.resize(at + libdeflate_gzip_compress_bound(c, n));
    size_t got = libdeflate_gzip_compress(c, p, n, out.data() + at, out.size() - at);
    libdeflate_free_compressor(c);
    if (got == 0) throw Error("gzip: libdeflate could not compress a block");
    out.resize(at + got);
}

// The block as gzip members: one per run of chunks that are all incompressible (stored) or
// all not (level 6); a block of ordinary bytes is one member, as before.
std::vector<char> gzip_member(const std::string& in) {
    std::vector<char> out;
    size_t run_start = 0;
    bool run_stored = false;
    for (size_t off = 0; off < in.size(); off += kEntropyChunk) {
        bool stored = incompressible_chunk(in.data() + off, std::min(kEntropyChunk, in.size() - off));
        if (off == 0) {
            run_stored = stored;
        } else if (stored != run_stored) {
            append_member(out, in.data() + run_start, off - run_start, run_stored);
            run_start = off;
            run_stored = stored;
        }
    }
    append_member(out, in.data() + run_start, in.size() - run_start, run_stored);  // (empty input: one empty member)
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
