/*
 * histogram.h - a latency histogram in fixed memory, for the rollout's P95.
 *
 * Log-spaced buckets: 16 per doubling from 1 ms to 2^20 ms (about 17 min),
 * plus one for everything under 1 ms and one for everything above. A bucket
 * is 4.4 % wide, so a quantile read from it (interpolated inside the bucket)
 * is within about 4.4 % of the true sample quantile; what the rollback rule
 * compares against p95_above is the count of samples above the threshold,
 * read the same way (docs/rollout.md).
 *
 * Pure and not thread-safe: the owner serialises calls (window.h).
 */
#ifndef SY_HISTOGRAM_H
#define SY_HISTOGRAM_H

#include <stdint.h>

#define SY_HIST_PER_DOUBLING 16
#define SY_HIST_DOUBLINGS 20
#define SY_HIST_FLOOR_NS 1000000ull /* 1 ms: the lower edge of bucket 1 */
/* bucket 0: [0, 1 ms); 1 .. 320: log-spaced; 321: at or above 2^20 ms */
#define SY_HIST_BUCKETS (SY_HIST_PER_DOUBLING * SY_HIST_DOUBLINGS + 2)

typedef struct sy_hist {
    uint64_t total;
    uint16_t lo, hi;              /* the non-empty buckets are within [lo, hi]; lo > hi: empty */
    uint32_t n[SY_HIST_BUCKETS];
} sy_hist;

void sy_hist_clear(sy_hist *h);
void sy_hist_add(sy_hist *h, uint64_t ns);
/* to += from */
void sy_hist_merge(sy_hist *to, const sy_hist *from);

/* The bucket a value falls in, and a bucket's edges in ns (the last
 * bucket's upper edge is UINT64_MAX). */
unsigned sy_hist_bucket(uint64_t ns);
uint64_t sy_hist_lower_ns(unsigned b);
uint64_t sy_hist_upper_ns(unsigned b);

/* The q-quantile (0 < q <= 1) in ns, interpolated inside its bucket; 0 when
 * the histogram is empty. */
double sy_hist_quantile(const sy_hist *h, double q);
/* How many samples are above t ns (the bucket holding t counted in part,
 * interpolated as for quantiles). */
double sy_hist_count_above(const sy_hist *h, uint64_t t);

#endif
