#include "common/time.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace imgbuild {

std::optional<int64_t> source_date_epoch() {
    const char* v = std::getenv("SOURCE_DATE_EPOCH");
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    long long n = std::strtoll(v, &end, 10);
    if (*end != '\0' || n < 0) return std::nullopt;
    return static_cast<int64_t>(n);
}

std::string rfc3339(int64_t seconds, int64_t nanos) {
    time_t t = static_cast<time_t>(seconds);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    if (nanos) {
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
        std::string f = frac;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    return out + "Z";
}

std::string created_timestamp() {
    if (auto e = source_date_epoch()) return rfc3339(*e);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return rfc3339(ts.tv_sec, ts.tv_nsec);
}

}  // namespace imgbuild
