#include <doctest/doctest.h>

#include <cstdlib>

#include "registry/retry.h"

using namespace imgbuild::registry;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("what is retried") {
    for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) CHECK(retryable_status(s));
    for (long s : {200L, 201L, 400L, 401L, 403L, 404L, 405L, 416L, 501L, 505L}) CHECK_FALSE(retryable_status(s));
}

TEST_CASE("Retry-After: delta seconds and HTTP dates") {
    std::time_t now = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
    CHECK(parse_retry_after("3", now) == seconds(3));
    CHECK(parse_retry_after(" 0 ", now) == seconds(0));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now) == seconds(5));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == seconds(0));  // past
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("soon", now));
    CHECK_FALSE(parse_retry_after("-1", now));
    CHECK(parse_retry_after("99999999999999", now) > seconds(1000000));
}

TEST_CASE("exponential backoff, capped, with jitter; Retry-After wins but is capped") {
    RetryPolicy p;
    p.base_delay = milliseconds(250);
    p.max_delay = milliseconds(8000);
    p.max_retry_after = milliseconds(60000);
    CHECK(backoff_delay(p, 1, std::nullopt, 0.0) == milliseconds(250));
    CHECK(backoff_delay(p, 2, std::nullopt, 0.0) == milliseconds(500));
    CHECK(backoff_delay(p, 3, std::nullopt, 0.0) == milliseconds(1000));
    CHECK(backoff_delay(p, 10, std::nullopt, 0.0) == milliseconds(8000));
    CHECK(backoff_delay(p, 100, std::nullopt, 0.0) == milliseconds(8000));
    CHECK(backoff_delay(p, 1, std::nullopt, 1.0) == milliseconds(312));  // +25% at most
    CHECK(backoff_delay(p, 3, seconds(2), 1.0) == milliseconds(2000));
    CHECK(backoff_delay(p, 1, seconds(3600), 0.0) == milliseconds(60000));
}

TEST_CASE("IMGBUILD_RETRY overrides attempts and base delay") {
    ::setenv("IMGBUILD_RETRY", "7,40", 1);
    RetryPolicy p = retry_policy_from_env();
    CHECK(p.max_attempts == 7);
    CHECK(p.base_delay == milliseconds(40));
    ::setenv("IMGBUILD_RETRY", "junk", 1);
    CHECK(retry_policy_from_env().max_attempts == RetryPolicy{}.max_attempts);
    ::unsetenv("IMGBUILD_RETRY");
}
