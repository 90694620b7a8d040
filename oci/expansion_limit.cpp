#include "oci/expansion_limit.h"

#include <array>
#include <cctype>
#include <cstdlib>

#include "common/error.h"

namespace imgbuild::oci {

namespace {

struct Suffix {
    char c;
    int shift;
};
constexpr std::array<Suffix, 4> kSuffixes{{{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}}};

uint64_t env_size(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    return parse_size(v, name);
}

}  // namespace

uint64_t parse_size(const std::string& text, const std::string& name) {
    auto bad = [&] { return UsageError(name + "=" + text + ": want a size such as 0, 4096, 512M or 10G"); };
    size_t digits = text.find_first_not_of("0123456789");
    if (digits == 0 || text.empty()) throw bad();
    int shift = 0;
    if (digits != std::string::npos) {
        if (digits + 1 != text.size() && !(digits + 2 == text.size() && (text[digits + 1] == 'B' || text[digits + 1] == 'b')))
            throw bad();
        char c = static_cast<char>(std::toupper(static_cast<unsigned char>(text[digits])));
        bool found = false;
        for (const auto& s : kSuffixes)
            if (s.c == c) shift = s.shift, found = true;
        if (!found) throw bad();
    }
    if (digits != std::string::npos && digits > 12) throw bad();
    uint64_t n = std::stoull(text.substr(0, digits));
    if (shift && n > (UINT64_MAX >> shift)) throw bad();
    return n << shift;
}

ExpansionLimits expansion_limits_from_env() {
    ExpansionLimits l;
    l.max_size = env_size("IMGBUILD_MAX_LAYER_SIZE", l.max_size);
    l.max_ratio = env_size("IMGBUILD_MAX_LAYER_RATIO", l.max_ratio);
    l.ratio_from = env_size("IMGBUILD_LAYER_RATIO_FROM", l.ratio_from);
    return l;
}

void ExpansionGuard::fail_size(const std::string& what) const {
    throw Error(what + ": expands to more than " + std::to_string(limits_.max_size) +
                " bytes (IMGBUILD_MAX_LAYER_SIZE); refusing it");
}

void ExpansionGuard::fail_ratio(uint64_t compressed, const std::string& what) const {
    throw Error(what + ": " + std::to_string(compressed) + " compressed bytes expand to more than " +
                std::to_string(expanded_) + " (over " + std::to_string(limits_.max_ratio) +
                ":1 past " + std::to_string(limits_.ratio_from) +
                " bytes): a decompression bomb? Refusing it (IMGBUILD_MAX_LAYER_RATIO=0 lifts the limit)");
}

}  // namespace imgbuild::oci
