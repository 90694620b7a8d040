#include "common/log.h"

#include <cstdio>
#include <string>

#include "common/error.h"

namespace imgbuild::log {

namespace {
Level current = Level::warn;

void emit(Level level, const char* tag, std::string_view msg) {
    if (!enabled(level)) return;
    std::fprintf(stderr, "imgbuild: %s%.*s\n", tag, static_cast<int>(msg.size()), msg.data());
}
}  // namespace

void set_level(Level level) { current = level; }

void set_level(std::string_view name) {
    static const struct { std::string_view name; Level level; } levels[] = {
        {"debug", Level::debug}, {"info", Level::info}, {"warn", Level::warn}, {"error", Level::error}};
    for (const auto& l : levels)
        if (l.name == name) return set_level(l.level);
    throw UsageError("--log-level: unknown level \"" + std::string(name) + "\" (debug, info, warn, error)");
}

bool enabled(Level level) { return level >= current; }

void debug(std::string_view msg) { emit(Level::debug, "debug: ", msg); }
void info(std::string_view msg) { emit(Level::info, "", msg); }
void warn(std::string_view msg) { emit(Level::warn, "warning: ", msg); }
void error(std::string_view msg) { emit(Level::error, "error: ", msg); }

}  // namespace imgbuild::log
