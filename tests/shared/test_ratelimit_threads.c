/* The local bucket without a lock (ratelimit.h): threads taking at once
 * never get more than the bucket holds. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ratelimit.h"

static sy_ratelimit bucket;
static sy_rate_limit_conf conf;
static atomic_int granted;

static void *taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        if (sy_ratelimit_take(&bucket, &conf, 5000000000ull) == 0) atomic_fetch_add(&granted, 1);
    return NULL;
}

Test(ratelimit_threads, burst_is_exact_under_contention)
{
    memset(&conf, 0, sizeof conf);
    conf.enabled = 1;
    conf.rps = 10;
    conf.burst = 1000;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, taker, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    /* All at the same instant: exactly the burst. */
    cr_assert_eq(atomic_load(&granted), 1000);
    /* A second later: rps more. */
    int more = 0;
    while (sy_ratelimit_take(&bucket, &conf, 6000000000ull) == 0) more++;
    cr_assert_eq(more, 10);
}

Test(ratelimit_threads, lowered_burst_applies)
{
    sy_ratelimit b = {0};
    sy_rate_limit_conf c = {.enabled = 1, .rps = 1, .burst = 10};
    uint64_t t = 1000000000ull;
    cr_assert_eq(sy_ratelimit_take(&b, &c, t), 0);
    c.burst = 1; /* a reload made it smaller */
    cr_assert_gt(sy_ratelimit_take(&b, &c, t), 0);
}
