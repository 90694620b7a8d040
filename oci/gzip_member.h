#pragma once
// One block of ParallelGzip's input as gzip members (RFC 1952), stored where the bytes are
// incompressible and deflated (libdeflate, level 6) elsewhere. The output depends only on
// the block's bytes.
#include <cstddef>
#include <string>
#include <vector>

struct libdeflate_compressor;

namespace imgbuild::oci {

// The libdeflate compressors of one thread, made once and reused for every block (a level-6
// compressor's tables are hundreds of KiB: allocated per member, their page faults cost more
// than a small member's deflate).
class GzipMemberEncoder {
public:
    GzipMemberEncoder();
    ~GzipMemberEncoder();
    GzipMemberEncoder(const GzipMemberEncoder&) = delete;
    GzipMemberEncoder& operator=(const GzipMemberEncoder&) = delete;

    // Writes the block's members at the start of `out` and returns their size: one member per
    // run of chunks that are all incompressible (stored) or all not (deflated); an empty block
    // is one empty member. `out` only grows (reused, it is not cleared or zero-filled again).
    [[nodiscard]] size_t encode(const std::string& block, std::vector<char>& out);

private:
    size_t append_member(std::vector<char>& out, size_t at, const char* p, size_t n, bool stored);
    libdeflate_compressor* deflate_ = nullptr;
    libdeflate_compressor* store_ = nullptr;
};

// Whether `n` bytes are incompressible: a whole chunk (kEntropyChunk) whose order-0 entropy is
// that of random bytes. Exposed for its test.
inline constexpr size_t kEntropyChunk = 4 << 10;
[[nodiscard]] bool incompressible_chunk(const char* p, size_t n);

}  // namespace imgbuild::oci
