#pragma once
// When to try an HTTP request again, and how long to wait first: connection errors, 5xx and
// 429 are retried with exponential backoff (with jitter), a Retry-After header overrides the
// computed delay (capped, so a registry cannot park us for an hour).
#include <chrono>
#include <ctime>
#include <optional>
#include <string_view>

namespace imgbuild::registry {

struct RetryPolicy {
    int max_attempts = 5;                                   // the first try included
    std::chrono::milliseconds base_delay{250};              // doubled per attempt
    std::chrono::milliseconds max_delay{8000};
    std::chrono::milliseconds max_retry_after{60000};
};

// The policy in effect: the defaults, or IMGBUILD_RETRY=attempts[,base_ms] from the environment.
[[nodiscard]] RetryPolicy retry_policy_from_env();

// A status worth another try: 408, 429, 500, 502, 503, 504.
[[nodiscard]] bool retryable_status(long status);

// Retry-After is either delta-seconds ("3") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT");
// nullopt when unparseable. A date in the past means 0.
[[nodiscard]] std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now);

// The wait before attempt `attempt` + 1 (attempt counts from 1): base * 2^(attempt-1), at most
// max_delay, plus up to 25% jitter from `jitter01` (0..1); Retry-After, when given, instead.
[[nodiscard]] std::chrono::milliseconds backoff_delay(const RetryPolicy& p, int attempt,
                                                      std::optional<std::chrono::seconds> retry_after,
                                                      double jitter01);

}  // namespace imgbuild::registry
