#pragma once
// Small string pieces every module needs, written once: field splitting and hex.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild {

// Every field of `s` between `sep`s, empty ones included, as Go's strings.Split: "" is one
// empty field, "a,,b," is {"a", "", "b", ""}. The views point into `s`.
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);

// Appends the two hex digits of `byte` (lowercase unless `upper`).
void append_hex(std::string& out, unsigned char byte, bool upper = false);

// Lowercase hex of `bytes`: "\x01\xab" -> "01ab".
[[nodiscard]] std::string hex_encode(std::string_view bytes);
[[nodiscard]] std::string hex_encode(const unsigned char* bytes, size_t n);

// The bytes of an even-length hex string (either case); nullopt for anything else.
[[nodiscard]] std::optional<std::string> hex_decode(std::string_view hex);

}  // namespace imgbuild
