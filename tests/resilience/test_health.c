/* Unit tests for the active health state machine (resilience/health.h). */
#include <criterion/criterion.h>

#include "health.h"

/* Feed results ("ok"/"bad" as 1/0) and return how many changed the state. */
static int feed(sy_health *h, const int *results, int n, int unhealthy_after, int healthy_after)
{
    int changes = 0;
    for (int i = 0; i < n; i++) changes += sy_health_record(h, results[i], unhealthy_after, healthy_after);
    return changes;
}

Test(health, starts_up)
{
    sy_health h;
    sy_health_init(&h);
    cr_assert_eq(h.up, 1);
    cr_assert_eq(sy_health_record(&h, 1, 3, 2), 0, "a good probe while up changes nothing");
    cr_assert_eq(h.up, 1);
}

Test(health, down_after_unhealthy_after_consecutive_failures)
{
    sy_health h;
    sy_health_init(&h);
    cr_assert_eq(sy_health_record(&h, 0, 3, 2), 0);
    cr_assert_eq(sy_health_record(&h, 0, 3, 2), 0);
    cr_assert_eq(h.up, 1, "two failures of three: still up");
    cr_assert_eq(sy_health_record(&h, 0, 3, 2), 1, "the third failure is a change");
    cr_assert_eq(h.up, 0);
    cr_assert_eq(sy_health_record(&h, 0, 3, 2), 0, "more failures while down: no change");
    cr_assert_eq(h.up, 0);
}

Test(health, a_good_probe_resets_the_failure_run)
{
    sy_health h;
    sy_health_init(&h);
    const int r[] = {0, 0, 1, 0, 0, 1, 0, 0};
    cr_assert_eq(feed(&h, r, 8, 3, 2), 0);
    cr_assert_eq(h.up, 1, "never three failures in a row");
}

Test(health, up_after_healthy_after_consecutive_successes)
{
    sy_health h;
    sy_health_init(&h);
    const int down[] = {0, 0};
    cr_assert_eq(feed(&h, down, 2, 2, 3), 1);
    cr_assert_eq(h.up, 0);
    cr_assert_eq(sy_health_record(&h, 1, 2, 3), 0);
    cr_assert_eq(sy_health_record(&h, 1, 2, 3), 0);
    cr_assert_eq(h.up, 0, "two good probes of three: still down");
    cr_assert_eq(sy_health_record(&h, 1, 2, 3), 1, "the third good probe is a change");
    cr_assert_eq(h.up, 1);
}

Test(health, a_failure_while_down_resets_the_good_run)
{
    sy_health h;
    sy_health_init(&h);
    sy_health_record(&h, 0, 1, 2);
    cr_assert_eq(h.up, 0);
    const int r[] = {1, 0, 1, 0, 1};
    cr_assert_eq(feed(&h, r, 5, 1, 2), 0);
    cr_assert_eq(h.up, 0, "never two good probes in a row");
    cr_assert_eq(sy_health_record(&h, 1, 1, 2), 1);
    cr_assert_eq(h.up, 1);
}

Test(health, a_failure_run_starts_from_zero_after_recovery)
{
    sy_health h;
    sy_health_init(&h);
    const int cycle[] = {0, 0, 1, 1};
    cr_assert_eq(feed(&h, cycle, 4, 2, 2), 2, "down, then up again");
    cr_assert_eq(h.up, 1);
    cr_assert_eq(sy_health_record(&h, 0, 2, 2), 0, "one failure after recovering is not two");
    cr_assert_eq(h.up, 1);
}

Test(health, thresholds_below_one_count_as_one)
{
    sy_health h;
    sy_health_init(&h);
    cr_assert_eq(sy_health_record(&h, 0, 0, -5), 1);
    cr_assert_eq(h.up, 0);
    cr_assert_eq(sy_health_record(&h, 1, 0, -5), 1);
    cr_assert_eq(h.up, 1);
}

Test(health, new_thresholds_apply_to_the_run_in_progress)
{
    /* A reload that lowers unhealthy_after: the failures already counted stand. */
    sy_health h;
    sy_health_init(&h);
    cr_assert_eq(sy_health_record(&h, 0, 5, 2), 0);
    cr_assert_eq(sy_health_record(&h, 0, 5, 2), 0);
    cr_assert_eq(sy_health_record(&h, 0, 3, 2), 1);
    cr_assert_eq(h.up, 0);
}
