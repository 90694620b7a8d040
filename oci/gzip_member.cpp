#include "oci/gzip_member.h"

#include <libdeflate.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "common/error.h"

namespace imgbuild::oci {

namespace {
constexpr int kGzipLevel = 6;    // zlib's default: the same ratio as zlib, libdeflate is ~2x faster
constexpr int kStoredLevel = 0;  // libdeflate's level 0: stored blocks, a copy

// Incompressible bytes are stored, not compressed: level 6 spends ~14 ms per MiB of random
// bytes to find nothing, a stored block is a copy. The test is made per 4 KiB chunk, as a
// layer interleaves such bytes with others at file granularity (W3's files are 40 KiB random
// then 40 KiB zeros: with 16 KiB chunks, until 2026-12-03, 39% of the random bytes were in
// mixed chunks and went through level 6; with 4 KiB chunks ~10%).
//
// The order-0 entropy of n random bytes measures 8 - 255 / (2 n ln 2) bits a byte on average
// (the estimate's bias: 7.955 over 4 KiB), with a spread of ~0.004; text and code measure
// 4-6.5, zeros 0. At 7.93 what is stored could have shrunk by at most ~0.3% (order 0). What
// this cannot see is a repeat within deflate's 32 KiB window of bytes that look random (the
// same compressed file twice in a row): stored, as the chunk's bytes alone decide.
constexpr double kIncompressibleBits = 7.93;

// c * log2(c) for every count a chunk can hold: the entropy of a chunk without a log2 call
// per byte value (256 of them per 4 KiB cost as much as the histogram).
const std::array<double, kEntropyChunk + 1>& count_log_table() {
    static const auto table = [] {
        std::array<double, kEntropyChunk + 1> t{};
        for (size_t c = 1; c <= kEntropyChunk; ++c) t[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
        return t;
    }();
    return table;
}
}  // namespace

// A first look at every 8th byte: how many byte values 512 of them take. Random bytes take
// 221 +- 5 of the 256; text, code and zeros far fewer. Below 200 the chunk is compressible
// and the histogram of all its bytes is not made (on zeros it is the slowest case: each count
// waits for its last increment). A random chunk taken for compressible here is only deflated.
constexpr size_t kSampleStride = 8;
constexpr unsigned kMinSampledValues = 200;

bool sample_looks_random(const unsigned char* b, size_t n) {
    unsigned char seen[256] = {};
    for (size_t i = 0; i < n; i += kSampleStride) seen[b[i]] = 1;  // stores only: no chain through memory
    unsigned values = 0;
    for (unsigned char v : seen) values += v;
    return values >= kMinSampledValues;
}

bool incompressible_chunk(const char* p, size_t n) {
    if (n != kEntropyChunk) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(p);
    if (!sample_looks_random(b, n)) return false;
    // Four histograms: no store-to-load stall on runs of one byte value. 16-bit counts (at
    // most n/4 each) keep the tables to 2 KiB, cleared for every chunk.
    uint16_t counts[4][256] = {};
    for (size_t i = 0; i < n; i += 4) {
        ++counts[0][b[i]];
        ++counts[1][b[i + 1]];
        ++counts[2][b[i + 2]];
        ++counts[3][b[i + 3]];
    }
    // H = log2(n) - (1/n) * sum(c * log2(c))
    const auto& clog = count_log_table();
    double sum = 0;
    for (int v = 0; v < 256; ++v) sum += clog[counts[0][v] + counts[1][v] + counts[2][v] + counts[3][v]];
    double bits = std::log2(static_cast<double>(n)) - sum / static_cast<double>(n);
    return bits > kIncompressibleBits;
}

GzipMemberEncoder::GzipMemberEncoder()
    : deflate_(libdeflate_alloc_compressor(kGzipLevel)), store_(libdeflate_alloc_compressor(kStoredLevel)) {
    if (!deflate_ || !store_) {
        libdeflate_free_compressor(deflate_);
        libdeflate_free_compressor(store_);
        throw Error("gzip: cannot allocate a libdeflate compressor");
    }
}

GzipMemberEncoder::~GzipMemberEncoder() {
    libdeflate_free_compressor(deflate_);
    libdeflate_free_compressor(store_);
}

// The member's end in `out`.
size_t GzipMemberEncoder::append_member(std::vector<char>& out, size_t at, const char* p, size_t n, bool stored) {
    libdeflate_compressor* c = stored ? store_ : deflate_;
    size_t bound = libdeflate_gzip_compress_bound(c, n);
    if (out.size() < at + bound) out.resize(at + bound);
    size_t got = libdeflate_gzip_compress(c, p, n, out.data() + at, bound);
    if (got == 0) throw Error("gzip: libdeflate could not compress a block");
    return at + got;
}

size_t GzipMemberEncoder::encode(const std::string& in, std::vector<char>& out) {
    size_t end = 0;
    size_t run_start = 0;
    bool run_stored = false;
    for (size_t off = 0; off < in.size(); off += kEntropyChunk) {
        bool stored = incompressible_chunk(in.data() + off, std::min(kEntropyChunk, in.size() - off));
        if (off == 0) {
            run_stored = stored;
        } else if (stored != run_stored) {
            end = append_member(out, end, in.data() + run_start, off - run_start, run_stored);
            run_start = off;
            run_stored = stored;
        }
    }
    return append_member(out, end, in.data() + run_start, in.size() - run_start, run_stored);  // (empty: one empty member)
}

}  // namespace imgbuild::oci
