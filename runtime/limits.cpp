#include "runtime/limits.h"

#include <cctype>
#include <cmath>
#include <string>
#include <utility>

#include "common/error.h"

namespace imgbuild::runtime {
namespace {

constexpr std::pair<char, int64_t> kUnits[] = {
    {'b', 1}, {'k', int64_t{1} << 10}, {'m', int64_t{1} << 20}, {'g', int64_t{1} << 30}, {'t', int64_t{1} << 40},
};

double parse_number(std::string_view text, std::string_view what) {
    std::string s(text);
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != s.size() || !std::isfinite(v) || v < 0)
        throw UsageError("invalid " + std::string(what) + ": \"" + std::string(text) + "\"");
    return v;
}

}  // namespace

int64_t parse_byte_size(std::string_view text) {
    std::string s;
    for (char c : text) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (s.size() > 2 && s.back() == 'b' && std::isalpha(static_cast<unsigned char>(s[s.size() - 2]))) s.pop_back();
    int64_t unit = 1;
    if (!s.empty() && std::isalpha(static_cast<unsigned char>(s.back()))) {
        bool known = false;
        for (const auto& [c, mult] : kUnits) {
            if (c != s.back()) continue;
            unit = mult;
            known = true;
        }
        if (!known) throw UsageError("invalid size: \"" + std::string(text) + "\" (units: b, k, m, g, t)");
        s.pop_back();
    }
    double v = parse_number(s, "size");
    return static_cast<int64_t>(std::llround(v * static_cast<double>(unit)));
}

void apply_cpus(Limits& limits, std::string_view cpus) {
    double v = parse_number(cpus, "--cpus value");
    if (v <= 0) throw UsageError("--cpus must be positive");
    constexpr uint64_t kPeriod = 100000;
    limits.cpu_period_us = kPeriod;
    limits.cpu_quota_us = static_cast<uint64_t>(std::llround(v * static_cast<double>(kPeriod)));
}

}  // namespace imgbuild::runtime
