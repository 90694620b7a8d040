#pragma once
// A cap on how far a compressed archive may expand (decompression bombs: a 1 MiB gzip of
// zeros is 1 GiB of layer). Docker and containerd have none, so the defaults only stop
// what no real image does: an expansion beyond 100:1 once more than 256 MiB came out
// (real layers compress 2-10:1; gzip cannot exceed ~1032:1, so a bomb of it stops at
// 256 MiB instead of filling the disk). An absolute size cap is off unless configured.
// Configured by environment (sizes take K, M, G, T suffixes, powers of 1024; 0 = off):
//   IMGBUILD_MAX_LAYER_SIZE    expanded bytes of one archive or layer (default 0: none)
//   IMGBUILD_MAX_LAYER_RATIO   expanded:compressed ratio (default 100)
//   IMGBUILD_LAYER_RATIO_FROM  the ratio applies once this much has expanded (default 256M)
#include <cstdint>
#include <string>

namespace imgbuild::oci {

struct ExpansionLimits {
    uint64_t max_size = 0;
    uint64_t max_ratio = 100;
    uint64_t ratio_from = uint64_t{256} << 20;
};

// The limits from the environment; throws UsageError naming the variable on a bad value.
[[nodiscard]] ExpansionLimits expansion_limits_from_env();

// Parses "512", "64K", "256M", "10G", "1T" (powers of 1024). Throws UsageError naming `name`.
[[nodiscard]] uint64_t parse_size(const std::string& text, const std::string& name);

// Counts expanded bytes and throws Error once the limits are passed.
class ExpansionGuard {
public:
    explicit ExpansionGuard(ExpansionLimits limits) : limits_(limits) {}
    // `n` more bytes came out; `compressed` bytes went in so far (all of them, ever).
    void add(uint64_t n, uint64_t compressed, const std::string& what) {
        expanded_ += n;
        check(compressed, what);
    }
    // The expanded total is known directly (a decompressed stream's size).
    void set(uint64_t expanded, uint64_t compressed, const std::string& what) {
        expanded_ = expanded;
        check(compressed, what);
    }

private:
    void check(uint64_t compressed, const std::string& what) const {
        if (limits_.max_size && expanded_ > limits_.max_size) fail_size(what);
        if (limits_.max_ratio && expanded_ > limits_.ratio_from && expanded_ / limits_.max_ratio > compressed)
            fail_ratio(compressed, what);
    }
    [[noreturn]] void fail_size(const std::string& what) const;
    [[noreturn]] void fail_ratio(uint64_t compressed, const std::string& what) const;
    ExpansionLimits limits_;
    uint64_t expanded_ = 0;
};

}  // namespace imgbuild::oci
