#pragma once
// Timestamps for image configs: RFC 3339 in UTC, honouring SOURCE_DATE_EPOCH.
#include <cstdint>
#include <optional>
#include <string>

namespace imgbuild {

// SOURCE_DATE_EPOCH from the environment when set and valid.
[[nodiscard]] std::optional<int64_t> source_date_epoch();
// "2026-11-29T00:21:35Z" (with nanoseconds when nonzero).
[[nodiscard]] std::string rfc3339(int64_t seconds, int64_t nanos = 0);
// Now, or SOURCE_DATE_EPOCH when set (reproducible builds).
[[nodiscard]] std::string created_timestamp();

}  // namespace imgbuild

namespace imgbuild {

// Seconds since the epoch of an RFC 3339 time ("2026-11-29T00:21:35.5Z", "...+02:00");
// nullopt when it is not one.
[[nodiscard]] std::optional<int64_t> parse_rfc3339(const std::string& text);

}  // namespace imgbuild
