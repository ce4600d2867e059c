/* Unit tests for the rollout's latency histogram: buckets, P95, count above. */
#include <criterion/criterion.h>
#include <math.h>

#include "histogram.h"

#define MS 1000000ull

Test(histogram, buckets_are_log_spaced_and_cover_every_value)
{
    cr_assert_eq(sy_hist_bucket(0), 0);
    cr_assert_eq(sy_hist_bucket(MS - 1), 0);
    cr_assert_eq(sy_hist_bucket(MS), 1);
    cr_assert_eq(sy_hist_bucket(2 * MS), 1 + SY_HIST_PER_DOUBLING, "one doubling: 16 buckets on");
    cr_assert_eq(sy_hist_bucket(UINT64_MAX), SY_HIST_BUCKETS - 1);
    /* Every value lies inside its bucket's edges; each bucket is ~4.4 % wide. */
    for (uint64_t v = 1; v < 4000ull * 1000 * MS; v = v * 1.37 + 1) {
        unsigned b = sy_hist_bucket(v);
        cr_assert(sy_hist_lower_ns(b) <= v && v < sy_hist_upper_ns(b), "v=%llu b=%u",
                  (unsigned long long)v, b);
    }
    for (unsigned b = 1; b < SY_HIST_BUCKETS - 1; b++) {
        double ratio = (double)sy_hist_upper_ns(b) / (double)sy_hist_lower_ns(b);
        cr_assert_float_eq(ratio, exp2(1.0 / 16), 1e-3, "bucket %u", b);
    }
}

Test(histogram, p95_within_a_bucket_of_the_sample_quantile)
{
    sy_hist h;
    sy_hist_clear(&h);
    cr_assert_float_eq(sy_hist_quantile(&h, 0.95), 0, 1e-9, "empty: 0");
    /* 1..1000 ms: the sample P95 is 950 ms. */
    for (uint64_t ms = 1; ms <= 1000; ms++) sy_hist_add(&h, ms * MS);
    cr_assert_eq(h.total, 1000);
    double p95 = sy_hist_quantile(&h, 0.95) / MS;
    cr_assert(fabs(p95 - 950) <= 950 * 0.045, "p95 %.1f ms", p95);
    double p50 = sy_hist_quantile(&h, 0.5) / MS;
    cr_assert(fabs(p50 - 500) <= 500 * 0.045, "p50 %.1f ms", p50);
    /* All the same value: every quantile is that value, to a bucket's width. */
    sy_hist_clear(&h);
    for (int i = 0; i < 300; i++) sy_hist_add(&h, 400 * MS);
    p95 = sy_hist_quantile(&h, 0.95) / MS;
    cr_assert(fabs(p95 - 400) <= 400 * 0.045, "p95 %.1f ms", p95);
}

Test(histogram, count_above_a_threshold)
{
    sy_hist h;
    sy_hist_clear(&h);
    for (int i = 0; i < 900; i++) sy_hist_add(&h, 100 * MS);
    for (int i = 0; i < 100; i++) sy_hist_add(&h, 900 * MS);
    cr_assert_float_eq(sy_hist_count_above(&h, 500 * MS), 100, 1e-9);
    cr_assert_float_eq(sy_hist_count_above(&h, 50 * MS), 1000, 1e-9);
    cr_assert_float_eq(sy_hist_count_above(&h, 2000 * MS), 0, 1e-9);
    /* A threshold inside a bucket counts that bucket in part. */
    double part = sy_hist_count_above(&h, 100 * MS);
    cr_assert(part > 100 && part < 1000, "part %.1f", part);
}

Test(histogram, merge_adds_counts)
{
    sy_hist a, b;
    sy_hist_clear(&a);
    sy_hist_clear(&b);
    sy_hist_add(&a, 5 * MS);
    sy_hist_add(&b, 700 * MS);
    sy_hist_add(&b, 700 * MS);
    sy_hist_merge(&a, &b);
    cr_assert_eq(a.total, 3);
    cr_assert_float_eq(sy_hist_count_above(&a, 100 * MS), 2, 1e-9);
    sy_hist empty;
    sy_hist_clear(&empty);
    sy_hist_merge(&a, &empty);
    cr_assert_eq(a.total, 3);
}
