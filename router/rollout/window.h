/*
 * window.h - one arm's sliding window: attempts, failures and latency over
 * the last `window` (migration.rollback.window), kept in sub-buckets
 * (slots) of window/20 each on the caller's clock. The window slides in
 * steps of 1/20 of its length: it is the current slot and the 20 before it,
 * so it always spans at least `window` (at most 5 % more), and old data
 * falls out slot by slot, in fixed memory.
 *
 * What an attempt counts as is the caller's business (counting.h): add()
 * takes the outcome already decided.
 *
 * Pure and not thread-safe: "now" is passed in, the owner serialises calls.
 * serve keeps one window per arm in each worker thread's shard (shards.h)
 * and merges them on the main thread; `simulate` keeps one per arm.
 */
#ifndef SY_WINDOW_H
#define SY_WINDOW_H

#include <stdint.h>

#include "histogram.h"

#define SY_WINDOW_SLOTS 20                  /* slots per window length */
#define SY_WINDOW_RING (SY_WINDOW_SLOTS + 1) /* the current slot and 20 whole ones */

typedef struct sy_window_slot {
    int64_t idx;         /* which slot of time this is: t / width; -1 unused */
    uint32_t attempts;   /* counted attempts (successes and failures) */
    uint32_t failures;
    sy_hist latency;     /* of successful attempts */
} sy_window_slot;

typedef struct sy_window {
    uint64_t width_ns;   /* one slot: window / SY_WINDOW_SLOTS (at least 1 ns) */
    sy_window_slot slot[SY_WINDOW_RING];
} sy_window;

/* What a window (or several merged) holds over a span of time. */
typedef struct sy_window_sum {
    uint64_t attempts, failures;
    sy_hist latency;     /* latency.total: the latency samples */
} sy_window_sum;

void sy_window_init(sy_window *w, uint64_t window_ns);
/* One counted attempt that ended at t: failed or not, with its latency
 * (latency_ns is ignored for a failure; a success always has one). An
 * attempt older than the window's oldest slot is dropped. */
void sy_window_add(sy_window *w, uint64_t t, int failed, uint64_t latency_ns);

void sy_window_sum_clear(sy_window_sum *s);
/* Add to *out what w holds in the window ending at now (the current slot
 * and the SY_WINDOW_SLOTS before it), counting only the slots that began at
 * or after `since` (0: all). */
void sy_window_collect(const sy_window *w, uint64_t now, uint64_t since, sy_window_sum *out);

/* Figures of a sum: success rate in 0..1 (1 when empty), the P95 in ns
 * (0 when no latency sample). */
double sy_window_success_rate(const sy_window_sum *s);
double sy_window_p95_ns(const sy_window_sum *s);

#endif
