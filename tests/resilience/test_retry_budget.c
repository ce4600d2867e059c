/* Unit tests for the retry budget. */
#include <criterion/criterion.h>

#include "retry_budget.h"

#define SEC 1000000000ull

Test(retry_budget, floor_allows_min_per_second_times_window)
{
    sy_retry_budget b;
    sy_retry_budget_init(&b);
    int ok = 0;
    for (int i = 0; i < 1000; i++) ok += sy_retry_budget_take(&b, 0.2, 10, 100 * SEC);
    cr_assert_eq(ok, 10 * SY_RETRY_BUDGET_SECONDS);
    cr_assert_eq(b.exhausted, 1000 - ok);
}

Test(retry_budget, storm_stays_near_ratio)
{
    /* 200 requests/s for 60 s, each wanting 2 retries: attempts stay about
     * 1.2x the requests plus the floor, not 3x. */
    sy_retry_budget b;
    sy_retry_budget_init(&b);
    uint64_t requests = 0, retries = 0;
    for (uint64_t ms = 0; ms < 60000; ms += 5) {
        uint64_t now = 1000 * SEC + ms * 1000000ull;
        sy_retry_budget_request(&b, now);
        requests++;
        for (int r = 0; r < 2; r++) retries += (uint64_t)sy_retry_budget_take(&b, 0.2, 10, now);
    }
    double load = (double)(requests + retries) / (double)requests;
    cr_assert(load > 1.15 && load < 1.3, "attempts/requests = %.3f", load);
}

Test(retry_budget, old_seconds_leave_the_window)
{
    sy_retry_budget b;
    sy_retry_budget_init(&b);
    while (sy_retry_budget_take(&b, 0, 1, 5 * SEC)) {}
    cr_assert_not(sy_retry_budget_take(&b, 0, 1, 14 * SEC + SEC / 2));
    /* At second 15 the bucket of second 5 is out of the window. */
    cr_assert(sy_retry_budget_take(&b, 0, 1, 15 * SEC));
}

Test(retry_budget, zero_budget_refuses_all)
{
    sy_retry_budget b;
    sy_retry_budget_init(&b);
    for (int i = 0; i < 100; i++) sy_retry_budget_request(&b, SEC);
    cr_assert_not(sy_retry_budget_take(&b, 0, 0, SEC));
}
