/* Unit tests for the sliding window, the Wilson bounds and what counts as
 * an attempt (the per-thread shards: test_shards.c). */
#include <criterion/criterion.h>

#include "stats.h"
#include "window.h"

#define MS 1000000ull
#define S (1000 * MS)

static sy_window_sum sum_of(const sy_window *w, uint64_t now, uint64_t since)
{
    sy_window_sum s;
    sy_window_sum_clear(&s);
    sy_window_collect(w, now, since, &s);
    return s;
}

Test(window, counts_attempts_failures_and_latency)
{
    sy_window w;
    sy_window_init(&w, 10 * S);
    sy_window_add(&w, 1 * S, 0, 100 * MS);
    sy_window_add(&w, 2 * S, 1, 0);
    sy_window_add(&w, 3 * S, 0, 300 * MS);
    sy_window_sum s = sum_of(&w, 3 * S, 0);
    cr_assert_eq(s.attempts, 3);
    cr_assert_eq(s.failures, 1);
    cr_assert_eq(s.latency.total, 2, "only successes carry a latency");
    cr_assert_float_eq(sy_window_success_rate(&s), 2.0 / 3, 1e-9);
}

Test(window, old_slots_slide_out)
{
    sy_window w;
    sy_window_init(&w, 10 * S); /* slots of 0.5 s; the window: the current one and 20 more */
    for (int i = 0; i < 100; i++) sy_window_add(&w, 1 * S + (uint64_t)i * MS, 1, 0);
    cr_assert_eq(sum_of(&w, 5 * S, 0).attempts, 100);
    cr_assert_eq(sum_of(&w, 11 * S, 0).attempts, 100, "10 s later: still in (a whole window)");
    cr_assert_eq(sum_of(&w, 11500 * MS, 0).attempts, 0, "10.5 s later: gone");
    /* A slot reused for new time starts empty. */
    sy_window_add(&w, 11500 * MS, 0, 5 * MS);
    sy_window_sum s = sum_of(&w, 11500 * MS, 0);
    cr_assert_eq(s.attempts, 1);
    cr_assert_eq(s.failures, 0);
    /* An event older than the slot it maps to is dropped. */
    sy_window_add(&w, 1 * S, 1, 0);
    cr_assert_eq(sum_of(&w, 11500 * MS, 0).attempts, 1);
}

Test(window, since_excludes_slots_that_began_before)
{
    sy_window w;
    sy_window_init(&w, 10 * S);
    sy_window_add(&w, 1 * S, 1, 0);
    sy_window_add(&w, 4 * S, 0, MS);
    cr_assert_eq(sum_of(&w, 5 * S, 3 * S).attempts, 1);
    cr_assert_eq(sum_of(&w, 5 * S, 0).attempts, 2);
}

Test(stats, wilson_bounds)
{
    /* Textbook values: 10 of 200 at z = 1.96 gives [0.0275, 0.0899]. */
    cr_assert_float_eq(sy_wilson_lower(10, 200, 1.959964), 0.02745, 1e-4);
    cr_assert_float_eq(sy_wilson_upper(10, 200, 1.959964), 0.08963, 1e-4);
    cr_assert_float_eq(sy_wilson_lower(0, 0, 3), 0, 1e-12);
    cr_assert_float_eq(sy_wilson_upper(0, 0, 3), 1, 1e-12);
    cr_assert_float_eq(sy_wilson_upper(200, 200, SY_ROLLBACK_Z), 1.0, 1e-12);
}

/* ---- what an attempt counts as (counting.h) */

#include "counting.h"

Test(counting, attempts_by_outcome)
{
    int arm, failed;
    uint64_t lat;
    sy_attempt_event e = {.provider = "relay", .endpoint = "hs1", .arm = "canary",
                          .start_ns = 1000 * MS, .ttfb_ns = 1100 * MS, .end_ns = 1500 * MS};
    cr_assert(sy_ro_count_attempt(&e, 0, &arm, &failed, &lat));
    cr_assert_eq(arm, 1);
    cr_assert_eq(failed, 0);
    cr_assert_eq(lat, 100 * MS, "ttfb");
    cr_assert(sy_ro_count_attempt(&e, 1, &arm, &failed, &lat));
    cr_assert_eq(lat, 500 * MS, "total");
    const char *failures[] = {"503", "429", "timeout", "connect_error", "io_error", "stream_cut",
                              "stream_idle", "no_route", "401"};
    for (size_t i = 0; i < sizeof failures / sizeof *failures; i++) {
        e.failure = failures[i];
        cr_assert(sy_ro_count_attempt(&e, 0, &arm, &failed, &lat), "%s", failures[i]);
        cr_assert_eq(failed, 1, "%s", failures[i]);
    }
    const char *neutral[] = {"client_error", "client_gone", "shutdown", "plugin_error",
                             "too_large"};
    for (size_t i = 0; i < sizeof neutral / sizeof *neutral; i++) {
        e.failure = neutral[i];
        cr_assert_not(sy_ro_count_attempt(&e, 0, &arm, &failed, &lat), "%s", neutral[i]);
    }
    e.failure = NULL;
    e.arm = "stable";
    cr_assert(sy_ro_count_attempt(&e, 0, &arm, &failed, &lat));
    cr_assert_eq(arm, 0);
    e.budget_exhausted = 1;
    cr_assert_not(sy_ro_count_attempt(&e, 0, &arm, &failed, &lat), "not an attempt");
}
