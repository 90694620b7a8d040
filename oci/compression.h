#pragma once
// Layer compression: the names used on the command line and in media types, and a streaming
// compressor that hashes what goes in (diffID) and what comes out (blob digest) in one pass.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace imgbuild::oci {

enum class Compression { none, gzip, zstd };

// "none", "gzip", "zstd".
[[nodiscard]] std::string_view compression_name(Compression c);
// The inverse of compression_name; throws UsageError naming the value and the valid ones.
[[nodiscard]] Compression parse_compression(std::string_view name);

}  // namespace imgbuild::oci
