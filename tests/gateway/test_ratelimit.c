/* Unit tests for the local rate limit's token bucket. */
#include <criterion/criterion.h>
#include <string.h>

#include "ratelimit.h"

static sy_rate_limit_conf rl(double rps, double burst)
{
    sy_rate_limit_conf c;
    memset(&c, 0, sizeof c);
    c.enabled = 1;
    c.rps = rps;
    c.burst = burst;
    return c;
}

Test(ratelimit, burst_then_refill)
{
    sy_ratelimit b = {0};
    sy_rate_limit_conf c = rl(10, 5);
    uint64_t t = 1000000000ull;
    for (int i = 0; i < 5; i++) cr_assert_eq(sy_ratelimit_take(&b, &c, t), 0, "token %d of the burst", i);
    int64_t wait = sy_ratelimit_take(&b, &c, t);
    cr_assert(wait >= 1 && wait <= 101, "wait %lld ms for the next token at 10 rps", (long long)wait);
    /* 100 ms later exactly one token is back. */
    cr_assert_eq(sy_ratelimit_take(&b, &c, t + 100000000ull), 0);
    cr_assert_gt(sy_ratelimit_take(&b, &c, t + 100000000ull), 0);
    /* A long pause refills only up to the burst. */
    uint64_t later = t + 60ull * 1000000000ull;
    for (int i = 0; i < 5; i++) cr_assert_eq(sy_ratelimit_take(&b, &c, later), 0);
    cr_assert_gt(sy_ratelimit_take(&b, &c, later), 0);
}

Test(ratelimit, disabled_always_allows)
{
    sy_ratelimit b = {0};
    sy_rate_limit_conf c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 1000; i++) cr_assert_eq(sy_ratelimit_take(&b, &c, 5), 0);
}
