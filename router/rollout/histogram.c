/* histogram.c - log-spaced latency histogram (see histogram.h). */
#include "histogram.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define LAST (SY_HIST_BUCKETS - 1)

void sy_hist_clear(sy_hist *h)
{
    h->total = 0;
    h->lo = LAST;
    h->hi = 0;
    memset(h->n, 0, sizeof h->n);
}

/* The lower edges of the buckets, computed once. */
static uint64_t edges[SY_HIST_BUCKETS];
static pthread_once_t edges_once = PTHREAD_ONCE_INIT;

static void edges_init(void)
{
    edges[0] = 0;
    for (unsigned b = 1; b < SY_HIST_BUCKETS; b++)
        edges[b] = (uint64_t)llround((double)SY_HIST_FLOOR_NS *
                                     exp2((double)(b - 1) / SY_HIST_PER_DOUBLING));
}

uint64_t sy_hist_lower_ns(unsigned b)
{
    pthread_once(&edges_once, edges_init);
    return edges[b > LAST ? LAST : b];
}

uint64_t sy_hist_upper_ns(unsigned b)
{
    return b >= LAST ? UINT64_MAX : sy_hist_lower_ns(b + 1);
}

unsigned sy_hist_bucket(uint64_t ns)
{
    pthread_once(&edges_once, edges_init);
    /* The last bucket whose lower edge is <= ns: a binary search, no log. */
    unsigned lo = 0, hi = LAST;
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;
        if (edges[mid] <= ns) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

void sy_hist_add(sy_hist *h, uint64_t ns)
{
    unsigned b = sy_hist_bucket(ns);
    h->n[b]++;
    h->total++;
    if (b < h->lo) h->lo = (uint16_t)b;
    if (b > h->hi) h->hi = (uint16_t)b;
}

void sy_hist_merge(sy_hist *to, const sy_hist *from)
{
    if (!from->total) return;
    for (unsigned b = from->lo; b <= from->hi; b++) to->n[b] += from->n[b];
    to->total += from->total;
    if (from->lo < to->lo) to->lo = from->lo;
    if (from->hi > to->hi) to->hi = from->hi;
}

/* The point a fraction f (0..1) of the way through bucket b: linear in the
 * first bucket, geometric in the log-spaced ones; the overflow bucket has no
 * upper edge and answers its lower one. */
static double inside(unsigned b, double f)
{
    double lo = (double)sy_hist_lower_ns(b);
    if (b == 0) return f * (double)SY_HIST_FLOOR_NS;
    if (b == LAST) return lo;
    double hi = (double)sy_hist_upper_ns(b);
    return lo * pow(hi / lo, f);
}

double sy_hist_quantile(const sy_hist *h, double q)
{
    if (!h->total) return 0;
    if (q > 1) q = 1;
    double rank = ceil(q * (double)h->total); /* the rank-th smallest sample, 1-based */
    if (rank < 1) rank = 1;
    double below = 0;
    for (unsigned b = h->lo; b <= h->hi; b++) {
        if (!h->n[b]) continue;
        if (below + h->n[b] >= rank) return inside(b, (rank - below) / h->n[b]);
        below += h->n[b];
    }
    return inside(h->hi, 1);
}

double sy_hist_count_above(const sy_hist *h, uint64_t t)
{
    if (!h->total) return 0;
    unsigned tb = sy_hist_bucket(t);
    double above = 0;
    for (unsigned b = tb + 1; b <= h->hi && b < SY_HIST_BUCKETS; b++) above += h->n[b];
    if (h->n[tb]) {
        /* The share of bucket tb above t, on the same scale as inside(). */
        double f;
        if (tb == 0) {
            f = 1.0 - (double)t / (double)SY_HIST_FLOOR_NS;
        } else if (tb == LAST) {
            f = 1.0; /* no upper edge: count it all */
        } else {
            double lo = (double)sy_hist_lower_ns(tb), hi = (double)sy_hist_upper_ns(tb);
            f = 1.0 - log((double)t / lo) / log(hi / lo);
        }
        if (f < 0) f = 0;
        if (f > 1) f = 1;
        above += f * h->n[tb];
    }
    return above;
}
