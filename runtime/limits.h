#pragma once
// Parsing of the docker-style limit flags into Limits (pure; unit-tested).
#include <cstdint>
#include <string_view>

#include "runtime/container.h"

namespace imgbuild::runtime {

// "512m", "1g", "100k", "1048576", "1.5g" (b, k, m, g, t; case-insensitive; optional trailing
// "b" as in "512mb"). Throws UsageError naming the text.
[[nodiscard]] int64_t parse_byte_size(std::string_view text);

// --cpus 0.5 -> quota 50000 with period 100000 (docker's arithmetic).
void apply_cpus(Limits& limits, std::string_view cpus);

}  // namespace imgbuild::runtime
