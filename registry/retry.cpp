#include "registry/retry.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

namespace imgbuild::registry {

using std::chrono::milliseconds;
using std::chrono::seconds;

RetryPolicy retry_policy_from_env() {
    RetryPolicy p;
    const char* env = std::getenv("IMGBUILD_RETRY");
    if (!env || !*env) return p;
    char* end = nullptr;
    long attempts = std::strtol(env, &end, 10);
    if (attempts >= 1 && attempts <= 100) p.max_attempts = static_cast<int>(attempts);
    if (end && *end == ',') {
        long base = std::strtol(end + 1, nullptr, 10);
        if (base >= 0 && base <= 60000) p.base_delay = milliseconds(base);
    }
    return p;
}

bool retryable_status(long status) {
    switch (status) {
        case 408: case 429: case 500: case 502: case 503: case 504: return true;
        default: return false;
    }
}

std::optional<seconds> parse_retry_after(std::string_view value, std::time_t now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (value.find_first_not_of("0123456789") == std::string_view::npos) {
        if (value.size() > 9) return seconds(999999999);
        return seconds(std::stol(std::string(value)));
    }
    std::tm tm{};
    std::string s(value);
    const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    std::time_t when = ::timegm(&tm);
    if (when <= now) return seconds(0);
    return seconds(when - now);
}

milliseconds backoff_delay(const RetryPolicy& p, int attempt, std::optional<seconds> retry_after, double jitter01) {
    if (retry_after) return std::min<milliseconds>(std::chrono::duration_cast<milliseconds>(*retry_after), p.max_retry_after);
    int shift = std::clamp(attempt - 1, 0, 20);
    milliseconds d = p.base_delay * (int64_t{1} << shift);
    d = std::min(d, p.max_delay);
    jitter01 = std::clamp(jitter01, 0.0, 1.0);
    return d + milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * 0.25 * jitter01));
}

}  // namespace imgbuild::registry
