/* Unit tests for backoff with jitter and Retry-After parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "backoff.h"
#include "rng.h"

static sy_retry_conf conf(sy_jitter j)
{
    sy_retry_conf rc;
    memset(&rc, 0, sizeof rc);
    rc.max_attempts = 3;
    rc.backoff_base_ms = 500;
    rc.backoff_max_ms = 8000;
    rc.jitter = j;
    rc.retry_after_honor = 1;
    rc.retry_after_max_ms = 60000;
    return rc;
}

Test(backoff, no_jitter_doubles_up_to_max)
{
    sy_retry_conf rc = conf(SY_JITTER_NONE);
    cr_assert_eq(sy_backoff_delay_ms(&rc, 1), 500);
    cr_assert_eq(sy_backoff_delay_ms(&rc, 2), 1000);
    cr_assert_eq(sy_backoff_delay_ms(&rc, 3), 2000);
    cr_assert_eq(sy_backoff_delay_ms(&rc, 5), 8000);
    cr_assert_eq(sy_backoff_delay_ms(&rc, 60), 8000);
}

Test(backoff, full_jitter_stays_in_range_and_varies)
{
    sy_rng_seed(42);
    sy_retry_conf rc = conf(SY_JITTER_FULL);
    int64_t lo = 1 << 30, hi = -1;
    for (int i = 0; i < 2000; i++) {
        int64_t d = sy_backoff_delay_ms(&rc, 3);
        cr_assert(d >= 0 && d <= 2000, "delay %lld out of [0, 2000]", (long long)d);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    cr_assert(lo < 200 && hi > 1800, "full jitter should cover the range (got %lld..%lld)",
              (long long)lo, (long long)hi);
}

Test(backoff, equal_jitter_keeps_half)
{
    sy_rng_seed(7);
    sy_retry_conf rc = conf(SY_JITTER_EQUAL);
    for (int i = 0; i < 1000; i++) {
        int64_t d = sy_backoff_delay_ms(&rc, 2);
        cr_assert(d >= 500 && d <= 1000);
    }
}

Test(retry_after, seconds_ms_and_dates)
{
    cr_assert_eq(sy_retry_after_ms("2", NULL, 0), 2000);
    cr_assert_eq(sy_retry_after_ms(" 10 ", NULL, 0), 10000);
    cr_assert_eq(sy_retry_after_ms("2", "150", 0), 150);
    cr_assert_eq(sy_retry_after_ms(NULL, "75", 0), 75);
    /* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
    cr_assert_eq(sy_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", NULL, 784111777 - 30), 30000);
    cr_assert_eq(sy_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", NULL, 784111777 + 5), 0);
    cr_assert_eq(sy_retry_after_ms("soon", NULL, 0), -1);
    cr_assert_eq(sy_retry_after_ms("-3", NULL, 0), -1);
    cr_assert_eq(sy_retry_after_ms("1.5", NULL, 0), -1);
    cr_assert_eq(sy_retry_after_ms(NULL, NULL, 0), -1);
    cr_assert_eq(sy_retry_after_ms("99999999999999999999999", NULL, 0), -1);
}

Test(retry_after, honoured_and_capped)
{
    sy_retry_conf rc = conf(SY_JITTER_NONE);
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 3000), 3000);  /* longer than backoff: wait it */
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 100), 500);    /* shorter: backoff wins */
    /* Beyond retry_after.max: no wait at all (the executor moves to the next route). */
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 600000), SY_RETRY_NO_WAIT);
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 60001), SY_RETRY_NO_WAIT);
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 60000), 60000); /* at the cap: still waited */
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, -1), 500);
    rc.retry_after_honor = 0;
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 3000), 500);
    cr_assert_eq(sy_retry_delay_ms(&rc, 1, 600000), 500); /* not honoured: the cap plays no part */
}
