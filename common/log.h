#pragma once
// Minimal leveled logging to stderr; the level comes from --log-level.
#include <string_view>

namespace imgbuild::log {

enum class Level { debug, info, warn, error };

void set_level(Level level);
// Throws UsageError for an unknown name.
void set_level(std::string_view name);
[[nodiscard]] bool enabled(Level level);

void debug(std::string_view msg);
void info(std::string_view msg);
void warn(std::string_view msg);
void error(std::string_view msg);

}  // namespace imgbuild::log
