/*
 * rollback_figures.c - measures, by simulation through the real window and
 * controller, how often the rollback rule fires on a healthy canary (false
 * rollbacks) and how fast it fires on a bad one. The figures in
 * docs/rollout.md come from this program; it runs in the test suite with a
 * fixed seed (same figures every run) and fails if they drift past the
 * bounds the docs promise.
 *
 *   rollback_figures [--quick]      (--quick: a tenth of the trials)
 *
 * Traffic: canary attempts at a steady rate, each failing with the given
 * probability, latencies log-normal; the controller ticks every 200 ms as in
 * serve. "Plain rule" is the naive rule for comparison: roll back when the
 * observed success rate in the window is below the threshold (with at least
 * min_requests attempts).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "rng.h"
#include "stats.h"
#include "window.h"

#define MS 1000000ull
#define S (1000 * MS)
#define TICK (200 * MS)
#define T0 (10 * S)

typedef struct scenario {
    double error_rate;
    double p50_ms, p95_ms;      /* log-normal latency */
    double rate;                /* canary attempts per second */
    uint64_t window_ns;
    uint64_t min_requests;
    uint64_t requests;          /* how long the run lasts, in attempts */
} scenario;

typedef struct outcome {
    int ours, plain, z95;       /* fired? (z95: the same Wilson rule at 95 %) */
    double ours_delay_s;        /* from min_requests reached in the window to the rollback */
} outcome;

static sy_window win;
static uint64_t clock_now;

static void collect(void *ctx, uint64_t since, sy_window_sum *out)
{
    (void)ctx;
    sy_window_collect(&win, clock_now, since, out);
}

static double normal(void)
{
    double u = sy_rng_unit(), v = sy_rng_unit();
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static uint64_t latency(const scenario *sc)
{
    double sigma = log(sc->p95_ms / sc->p50_ms) / 1.6448536;
    return (uint64_t)(sc->p50_ms * exp(sigma * normal()) * (double)MS);
}

/* One run: ticks every 200 ms while attempts arrive; stops at the first
 * rollback of the real controller (the plain rule is watched alongside). */
static outcome run(const scenario *sc)
{
    outcome o = {0, 0, 0, -1};
    sy_rollout_ctl c;
    sy_ro_init(&c);
    sy_ro_conf conf = {.id = "figures", .percent = 10, .success_rate_below = 0.995,
                       .p95_above_ns = 500 * MS, .window_ns = sc->window_ns,
                       .min_requests = sc->min_requests};
    sy_ro_change ch;
    clock_now = T0;
    sy_window_init(&win, sc->window_ns);
    sy_ro_configure(&c, &conf, clock_now, 0, &ch);
    uint64_t gap = (uint64_t)(1e9 / sc->rate), next_tick = T0 + TICK;
    int64_t reached = -1; /* the tick at which the window first held min_requests */
    for (uint64_t i = 0; i < sc->requests; i++) {
        uint64_t t = T0 + (i + 1) * gap;
        while (next_tick <= t) {
            clock_now = next_tick;
            sy_window_sum w;
            sy_window_sum_clear(&w);
            sy_window_collect(&win, clock_now, 0, &w);
            if (w.attempts >= sc->min_requests) {
                if (reached < 0) reached = (int64_t)clock_now;
                if (sy_window_success_rate(&w) < conf.success_rate_below) o.plain = 1;
                if (sy_wilson_upper((double)(w.attempts - w.failures), w.attempts, 1.959964) <
                    conf.success_rate_below)
                    o.z95 = 1;
            }
            sy_ro_tick(&c, clock_now, 0, collect, NULL, &ch);
            if (ch.rollback) {
                o.ours = 1;
                o.ours_delay_s = reached < 0 ? 0 : (double)(clock_now - (uint64_t)reached) / S;
                sy_ro_free(&c);
                return o;
            }
            next_tick += TICK;
        }
        int failed = sy_rng_unit() < sc->error_rate;
        sy_window_add(&win, t, failed, failed ? 0 : latency(sc));
    }
    sy_ro_free(&c);
    return o;
}

/* The rule on one window of exactly n attempts (the "200 requests"). */
static void single_window(double error_rate, uint64_t n, int trials, double *ours, double *plain)
{
    sy_rollout_ctl c;
    sy_ro_init(&c);
    c.success_rate_below = 0.995;
    c.min_requests = n;
    int fired = 0, naive = 0;
    for (int k = 0; k < trials; k++) {
        sy_window_sum w;
        sy_window_sum_clear(&w);
        w.attempts = n;
        for (uint64_t i = 0; i < n; i++) w.failures += sy_rng_unit() < error_rate;
        sy_ro_reason why;
        fired += sy_ro_should_roll_back(&c, &w, &why);
        naive += sy_window_success_rate(&w) < 0.995;
    }
    *ours = (double)fired / trials;
    *plain = (double)naive / trials;
}

typedef struct summary {
    double ours, plain, z95, within_window, median_s, max_s;
} summary;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static summary many(const scenario *sc, int trials)
{
    summary s = {0, 0, 0, 0, 0, 0};
    double *delays = calloc((size_t)trials, sizeof *delays);
    int n = 0;
    for (int k = 0; k < trials; k++) {
        outcome o = run(sc);
        s.ours += o.ours;
        s.plain += o.plain;
        s.z95 += o.z95;
        if (o.ours) {
            delays[n++] = o.ours_delay_s;
            if (o.ours_delay_s <= (double)sc->window_ns / S) s.within_window++;
        }
    }
    s.ours /= trials;
    s.plain /= trials;
    s.z95 /= trials;
    s.within_window /= trials;
    if (n) {
        qsort(delays, (size_t)n, sizeof *delays, cmp_double);
        s.median_s = delays[n / 2];
        s.max_s = delays[n - 1];
    }
    free(delays);
    return s;
}

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("  FAILED: %s\n", what);
        failures++;
    }
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    int scale = quick ? 10 : 1;
    sy_rng_seed(20260601);
    printf("rollback rule: Wilson bound at 99.9%% one-sided; success_rate_below 99.5%%, "
           "p95_above 500 ms\n\n");

    double ours, plain;
    single_window(0.0025, 200, 200000 / scale, &ours, &plain);
    printf("A. one window of 200 attempts, true error rate 0.25%% (healthy):\n"
           "   false rollback: %.3f%% (plain rule: %.1f%%)\n", 100 * ours, 100 * plain);
    check(ours < 0.001, "A: false rollbacks under 0.1%");

    single_window(0.05, 200, 20000 / scale, &ours, &plain);
    printf("   same window at 5%% errors: rolled back %.1f%%\n\n", 100 * ours);

    scenario healthy = {.error_rate = 0.002, .p50_ms = 150, .p95_ms = 300, .rate = 100,
                        .window_ns = 2 * S, .min_requests = 200, .requests = 10000};
    summary h = many(&healthy, 1000 / scale);
    printf("B. 10,000 attempts at 0.2%% errors, P95 300 ms, watched every 200 ms as the window "
           "slides:\n   window of ~200 attempts (2 s at 100/s): false rollback %.1f%% of runs "
           "(plain rule: %.1f%%, Wilson at 95%%: %.1f%%)\n", 100 * h.ours, 100 * h.plain,
           100 * h.z95);
    check(h.ours < 0.05, "B: false rollbacks under 5% with a 200-attempt window");
    healthy.window_ns = 20 * S;
    summary h2 = many(&healthy, 1000 / scale);
    printf("   window of ~2,000 attempts (20 s at 100/s): false rollback %.1f%% of runs (plain "
           "rule: %.1f%%, Wilson at 95%%: %.1f%%)\n", 100 * h2.ours, 100 * h2.plain, 100 * h2.z95);
    check(h2.ours < 0.01, "B: false rollbacks under 1% with a 2,000-attempt window");
    healthy.error_rate = 0.0025;
    healthy.window_ns = 2 * S;
    summary h3 = many(&healthy, 1000 / scale);
    printf("   at 0.25%% errors, window of ~200: false rollback %.1f%% of runs (plain rule: "
           "%.1f%%, Wilson at 95%%: %.1f%%)\n\n", 100 * h3.ours, 100 * h3.plain, 100 * h3.z95);

    scenario bad = {.error_rate = 0.05, .p50_ms = 150, .p95_ms = 300, .rate = 100,
                    .window_ns = 2 * S, .min_requests = 200, .requests = 3000};
    summary b = many(&bad, 1000 / scale);
    printf("C. 5%% errors from the start, min_requests 200:\n"
           "   window 2 s (~200 attempts): rolled back in %.1f%% of runs, %.1f%% within one window "
           "of min_requests; delay median %.1f s, max %.1f s\n",
           100 * b.ours, 100 * b.within_window, b.median_s, b.max_s);
    check(b.within_window >= 0.999, "C: 5% errors rolled back within one window");
    bad.window_ns = 20 * S;
    bad.requests = 6000;
    summary b2 = many(&bad, 1000 / scale);
    printf("   window 20 s (~2,000 attempts): rolled back in %.1f%% of runs, %.1f%% within one "
           "window; delay median %.1f s, max %.1f s\n\n",
           100 * b2.ours, 100 * b2.within_window, b2.median_s, b2.max_s);
    check(b2.within_window >= 0.999, "C: 5% errors rolled back within one window (20 s)");

    scenario slow_ok = {.error_rate = 0, .p50_ms = 200, .p95_ms = 400, .rate = 100,
                        .window_ns = 2 * S, .min_requests = 200, .requests = 10000};
    summary p = many(&slow_ok, 1000 / scale);
    printf("D. P95: true P95 400 ms under p95_above 500 ms, 10,000 attempts, window ~200: false "
           "rollback %.1f%% of runs\n", 100 * p.ours);
    check(p.ours < 0.01, "D: P95 false rollbacks under 1%");
    scenario slow_bad = {.error_rate = 0, .p50_ms = 300, .p95_ms = 650, .rate = 100,
                         .window_ns = 2 * S, .min_requests = 200, .requests = 3000};
    summary pb = many(&slow_bad, 1000 / scale);
    printf("   true P95 650 ms: rolled back in %.1f%% of runs, %.1f%% within one window of "
           "min_requests; delay median %.1f s, max %.1f s\n",
           100 * pb.ours, 100 * pb.within_window, pb.median_s, pb.max_s);
    check(pb.within_window >= 0.99, "D: P95 650 ms rolled back within one window");

    printf("\n%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
