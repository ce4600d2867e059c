/* Unit tests for windows as instances exchange them (fleet_window.h): a
 * window survives the trip, merged windows add up, and a bad blob is
 * refused whole. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_window.h"

#define MS 1000000ull
#define WINDOW (2000 * MS) /* 2 s: slots of 100 ms */

static void fill(sy_window w[2], uint64_t t0, unsigned seed)
{
    srand(seed);
    sy_window_init(&w[0], WINDOW);
    sy_window_init(&w[1], WINDOW);
    for (int i = 0; i < 500; i++) {
        uint64_t t = t0 + (uint64_t)(rand() % 2000) * MS;
        int arm = rand() % 2, failed = rand() % 10 == 0;
        sy_window_add(&w[arm], t, failed, (uint64_t)(1 + rand() % 900) * MS);
    }
}

static void assert_same_sum(const sy_window_sum *a, const sy_window_sum *b)
{
    cr_assert_eq(a->attempts, b->attempts);
    cr_assert_eq(a->failures, b->failures);
    cr_assert_eq(a->latency.total, b->latency.total);
    for (unsigned k = 0; k < SY_HIST_BUCKETS; k++) cr_assert_eq(a->latency.n[k], b->latency.n[k], "bucket %u", k);
}

Test(fleet_window, round_trip)
{
    static sy_window a[2], back[2];
    uint64_t t0 = 1767225600000ull * MS; /* a wall-clock-like time */
    fill(a, t0, 7);
    char *blob = sy_fleet_window_encode(a);
    cr_assert_not_null(blob);
    cr_assert_eq(strncmp(blob, "sy1 100000000\n", 14), 0, "%.40s", blob);
    cr_assert_eq(sy_fleet_window_decode(blob, strlen(blob), back), 0);
    uint64_t now = t0 + 2000 * MS;
    for (int arm = 0; arm < 2; arm++) {
        sy_window_sum x, y;
        for (uint64_t since = 0; since <= now; since += now / 2 + 1) {
            sy_window_sum_clear(&x);
            sy_window_sum_clear(&y);
            sy_window_collect(&a[arm], now, since, &x);
            sy_window_collect(&back[arm], now, since, &y);
            assert_same_sum(&x, &y);
        }
        cr_assert_gt(x.attempts, 0);
    }
    free(blob);
}

Test(fleet_window, merged_windows_add_up)
{
    /* Three instances, each with its own traffic: the sum of what each
     * window holds is what one window fed all of it would hold. */
    static sy_window inst[3][2], all[2], back[2];
    uint64_t t0 = 1767225600000ull * MS;
    sy_window_init(&all[0], WINDOW);
    sy_window_init(&all[1], WINDOW);
    for (int i = 0; i < 3; i++) {
        fill(inst[i], t0, 100 + (unsigned)i);
        srand(100 + (unsigned)i);
        for (int n = 0; n < 500; n++) {
            uint64_t t = t0 + (uint64_t)(rand() % 2000) * MS;
            int arm = rand() % 2, failed = rand() % 10 == 0;
            sy_window_add(&all[arm], t, failed, (uint64_t)(1 + rand() % 900) * MS);
        }
    }
    uint64_t now = t0 + 2000 * MS;
    sy_window_sum merged, one;
    sy_window_sum_clear(&merged);
    sy_window_sum_clear(&one);
    for (int i = 0; i < 3; i++) {
        char *blob = sy_fleet_window_encode(inst[i]);
        cr_assert_eq(sy_fleet_window_decode(blob, strlen(blob), back), 0);
        sy_window_collect(&back[1], now, 0, &merged);
        free(blob);
    }
    sy_window_collect(&all[1], now, 0, &one);
    assert_same_sum(&merged, &one);
    cr_assert_float_eq(sy_window_p95_ns(&merged), sy_window_p95_ns(&one), 1e-6);
}

Test(fleet_window, empty_window)
{
    static sy_window a[2], back[2];
    sy_window_init(&a[0], WINDOW);
    sy_window_init(&a[1], WINDOW);
    char *blob = sy_fleet_window_encode(a);
    cr_assert_str_eq(blob, "sy1 100000000\n");
    cr_assert_eq(sy_fleet_window_decode(blob, strlen(blob), back), 0);
    sy_window_sum s;
    sy_window_sum_clear(&s);
    sy_window_collect(&back[0], 5000 * MS, 0, &s);
    cr_assert_eq(s.attempts, 0);
    free(blob);
}

Test(fleet_window, failures_only_slot)
{
    static sy_window a[2], back[2];
    sy_window_init(&a[0], WINDOW);
    sy_window_init(&a[1], WINDOW);
    sy_window_add(&a[1], 1000 * MS, 1, 0);
    char *blob = sy_fleet_window_encode(a);
    cr_assert_str_eq(blob, "sy1 100000000\n1 10 1 1 -\n");
    cr_assert_eq(sy_fleet_window_decode(blob, strlen(blob), back), 0);
    cr_assert_eq(back[1].slot[10 % SY_WINDOW_RING].failures, 1);
    free(blob);
}

Test(fleet_window, refused_blobs)
{
    static sy_window back[2];
    const char *bad[] = {
        "",
        "sy2 100\n",
        "sy1 0\n",
        "sy1 100",                          /* no line end */
        "sy1 100\n2 10 1 0 -\n",            /* arm 2 */
        "sy1 100\n1 10 1 2 -\n",            /* more failures than attempts */
        "sy1 100\n1 10 2 0 5:3\n",          /* more latency samples than successes */
        "sy1 100\n1 10 2 0 400:1\n",        /* bucket out of range */
        "sy1 100\n1 10 2 0 5:1,5:1\n",      /* a bucket twice */
        "sy1 100\n1 10 2 0 5:0\n",          /* an empty bucket written */
        "sy1 100\n1 10 1 0 -\n1 31 1 0 -\n",/* two slots in one place of the ring */
        "sy1 100\n1 10 99999999999 0 -\n",  /* count over 32 bits */
        "sy1 100\n1 -3 1 0 -\n",
        "sy1 100\n1 10 1 0 -\ngarbage\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(sy_fleet_window_decode(bad[i], strlen(bad[i]), back), -1, "accepted: %s", bad[i]);
        sy_window_sum s;
        sy_window_sum_clear(&s);
        sy_window_collect(&back[1], 50 * 100, 0, &s);
        cr_assert_eq(s.attempts, 0, "a refused blob leaves nothing behind");
    }
}
