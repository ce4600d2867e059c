/* Unit tests for one endpoint's circuit breaker. */
#include <criterion/criterion.h>

#include "breaker.h"

#define MS 1000000ull

static sy_breaker_conf conf(void)
{
    return (sy_breaker_conf){.failure_threshold = 5, .success_threshold = 2,
                             .open_for_ms = 60000, .half_open_max_calls = 3};
}

static sy_breaker_permit take(sy_breaker *b, const sy_breaker_conf *c, uint64_t now)
{
    sy_breaker_permit p;
    cr_assert_eq(sy_breaker_acquire(b, c, now, &p, NULL), SY_BREAKER_ALLOWED);
    return p;
}

static void fail_n(sy_breaker *b, const sy_breaker_conf *c, uint64_t now, int n)
{
    for (int i = 0; i < n; i++) sy_breaker_release(b, c, now, take(b, c, now), SY_OUTCOME_FAILURE);
}

Test(breaker, opens_after_consecutive_failures_only)
{
    sy_breaker b;
    sy_breaker_conf c = conf();
    sy_breaker_init(&b);
    fail_n(&b, &c, 0, 4);
    sy_breaker_release(&b, &c, 0, take(&b, &c, 0), SY_OUTCOME_SUCCESS); /* resets the run */
    fail_n(&b, &c, 0, 4);
    cr_assert_eq(b.state, SY_BREAKER_CLOSED);
    fail_n(&b, &c, 0, 1);
    cr_assert_eq(b.state, SY_BREAKER_OPEN);
    cr_assert_eq(b.opens, 1);
}

Test(breaker, neutral_outcomes_do_not_count)
{
    sy_breaker b;
    sy_breaker_conf c = conf();
    sy_breaker_init(&b);
    for (int i = 0; i < 50; i++) sy_breaker_release(&b, &c, 0, take(&b, &c, 0), SY_OUTCOME_NEUTRAL);
    cr_assert_eq(b.state, SY_BREAKER_CLOSED);
    cr_assert_eq(b.failures, 0);
}

Test(breaker, open_refuses_until_open_for_then_half_open_probes)
{
    sy_breaker b;
    sy_breaker_conf c = conf();
    sy_breaker_init(&b);
    fail_n(&b, &c, 0, 5);
    sy_breaker_permit p;
    uint64_t at = 0;
    cr_assert_eq(sy_breaker_acquire(&b, &c, 59999 * MS, &p, &at), SY_BREAKER_REFUSED_OPEN);
    cr_assert_eq(at, 60000 * MS);
    cr_assert_not(sy_breaker_usable(&b, &c, 59999 * MS));
    cr_assert(sy_breaker_usable(&b, &c, 60000 * MS));
    /* Three probes at most in flight. */
    sy_breaker_permit p1 = take(&b, &c, 60000 * MS);
    cr_assert_eq(b.state, SY_BREAKER_HALF_OPEN);
    sy_breaker_permit p2 = take(&b, &c, 60000 * MS);
    sy_breaker_permit p3 = take(&b, &c, 60000 * MS);
    cr_assert_eq(sy_breaker_acquire(&b, &c, 60000 * MS, &p, NULL), SY_BREAKER_REFUSED_PROBES);
    /* A probe handed back without a verdict (client gone) frees its slot. */
    sy_breaker_release(&b, &c, 60001 * MS, p3, SY_OUTCOME_NEUTRAL);
    p3 = take(&b, &c, 60001 * MS);
    /* Two successes close it. */
    cr_assert_eq(sy_breaker_release(&b, &c, 60002 * MS, p1, SY_OUTCOME_SUCCESS), 0);
    cr_assert_eq(sy_breaker_release(&b, &c, 60002 * MS, p2, SY_OUTCOME_SUCCESS), 1);
    cr_assert_eq(b.state, SY_BREAKER_CLOSED);
    /* The third probe, from the half-open generation, does not disturb the closed state. */
    sy_breaker_release(&b, &c, 60003 * MS, p3, SY_OUTCOME_SUCCESS);
    cr_assert_eq(b.state, SY_BREAKER_CLOSED);
    cr_assert_eq(b.failures, 0);
}

Test(breaker, a_failed_probe_reopens_for_open_for_again)
{
    sy_breaker b;
    sy_breaker_conf c = conf();
    sy_breaker_init(&b);
    fail_n(&b, &c, 0, 5);
    sy_breaker_permit p = take(&b, &c, 61000 * MS);
    cr_assert_eq(sy_breaker_release(&b, &c, 61500 * MS, p, SY_OUTCOME_FAILURE), 1);
    cr_assert_eq(b.state, SY_BREAKER_OPEN);
    cr_assert_eq(b.opens, 2);
    cr_assert_not(sy_breaker_usable(&b, &c, 121499 * MS));
    cr_assert(sy_breaker_usable(&b, &c, 121500 * MS));
}

Test(breaker, stale_closed_failure_still_counts)
{
    /* An attempt started while closed that fails after another opened and
     * closed the breaker still counts as a failure of the closed breaker. */
    sy_breaker b;
    sy_breaker_conf c = conf();
    c.failure_threshold = 1;
    sy_breaker_init(&b);
    sy_breaker_permit old = take(&b, &c, 0);
    fail_n(&b, &c, 0, 1); /* opens */
    cr_assert_eq(b.state, SY_BREAKER_OPEN);
    /* A stale failure while open changes nothing and does not extend open_for. */
    uint64_t until = b.open_until;
    sy_breaker_release(&b, &c, 10 * MS, old, SY_OUTCOME_FAILURE);
    cr_assert_eq(b.state, SY_BREAKER_OPEN);
    cr_assert_eq(b.open_until, until);
}
