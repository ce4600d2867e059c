/*
 * clock.h - the one clock. Every time read in the router goes through here so
 * tests (and `simulate`) can drive breakers, backoff and rollback windows with
 * a fake clock.
 */
#ifndef SY_CLOCK_H
#define SY_CLOCK_H

#include <stdint.h>

typedef struct sy_clock {
    /* Monotonic nanoseconds. */
    uint64_t (*now_ns)(void *ctx);
    /* Wall clock, Unix seconds (for Retry-After dates and logs). */
    int64_t (*wall_s)(void *ctx);
    void *ctx;
} sy_clock;

/* The process-wide clock; the real one unless a test installed another. */
const sy_clock *sy_clock_get(void);
void sy_clock_set(const sy_clock *c); /* NULL restores the real clock */

static inline uint64_t sy_now_ns(void) { const sy_clock *c = sy_clock_get(); return c->now_ns(c->ctx); }
static inline int64_t sy_wall_s(void) { const sy_clock *c = sy_clock_get(); return c->wall_s(c->ctx); }

/* A fake clock for tests: starts at start_ns and moves only when told. */
typedef struct sy_fake_clock {
    sy_clock clock;
    uint64_t now;
    int64_t wall;
} sy_fake_clock;
void sy_fake_clock_init(sy_fake_clock *f, uint64_t start_ns, int64_t wall_s);
void sy_fake_clock_advance(sy_fake_clock *f, uint64_t ns);

#endif
