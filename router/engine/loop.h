/*
 * loop.h - the engine's first seam: time and one-shot timers.
 *
 * The engine never reads a clock or arms a timer except through a sy_loop, so
 * the same executor runs on libevent in `serve` (loop_event.c) and on a
 * simulated clock in tests and `simulate` (loop_sim.c), where a million
 * requests take seconds because nothing waits for real time.
 *
 * A loop belongs to one thread: every call on it and every timer callback
 * happens on that thread.
 */
#ifndef SY_LOOP_H
#define SY_LOOP_H

#include <stdint.h>

typedef struct sy_loop sy_loop;
typedef struct sy_timer sy_timer;
typedef void (*sy_timer_fn)(void *arg);

typedef struct sy_loop_ops {
    /* Monotonic nanoseconds. */
    uint64_t (*now_ns)(sy_loop *l);
    /* Wall clock, Unix seconds (Retry-After dates). */
    int64_t (*wall_s)(sy_loop *l);
    /* A timer that calls fn(arg) once per arm; NULL when out of memory. */
    sy_timer *(*timer_new)(sy_loop *l, sy_timer_fn fn, void *arg);
    /* Fire after delay_ns (re-arming an armed timer moves it). */
    void (*timer_arm)(sy_timer *t, uint64_t delay_ns);
    void (*timer_cancel)(sy_timer *t);
    /* Cancel and free; NULL is fine. */
    void (*timer_free)(sy_timer *t);
} sy_loop_ops;

struct sy_loop {
    const sy_loop_ops *ops;
};

static inline uint64_t sy_loop_now(sy_loop *l) { return l->ops->now_ns(l); }
static inline int64_t sy_loop_wall(sy_loop *l) { return l->ops->wall_s(l); }
static inline sy_timer *sy_timer_new(sy_loop *l, sy_timer_fn fn, void *arg)
{
    return l->ops->timer_new(l, fn, arg);
}

/* Timers keep a pointer to their loop's ops as their first member, so these
 * need no loop argument. */
typedef struct sy_timer_base {
    const sy_loop_ops *ops;
} sy_timer_base;
static inline void sy_timer_arm_ms(sy_timer *t, int64_t ms)
{
    ((sy_timer_base *)t)->ops->timer_arm(t, ms > 0 ? (uint64_t)ms * 1000000u : 0);
}
static inline void sy_timer_arm_ns(sy_timer *t, uint64_t ns) { ((sy_timer_base *)t)->ops->timer_arm(t, ns); }
static inline void sy_timer_cancel(sy_timer *t) { ((sy_timer_base *)t)->ops->timer_cancel(t); }
static inline void sy_timer_free(sy_timer *t)
{
    if (t) ((sy_timer_base *)t)->ops->timer_free(t);
}

/* libevent's loop (loop_event.c): the real clock, event timers. */
struct event_base;
sy_loop *sy_loop_event_new(struct event_base *base);
void sy_loop_event_free(sy_loop *l);

/* A simulated loop (loop_sim.c): time moves only when timers fire. */
sy_loop *sy_loop_sim_new(uint64_t start_ns, int64_t wall_s);
void sy_loop_sim_free(sy_loop *l);
/* Fire the earliest timer (moving time to it); 0 when none is armed. */
int sy_loop_sim_step(sy_loop *l);
/* Fire every timer due up to until_ns, then set now to until_ns. */
void sy_loop_sim_run_until(sy_loop *l, uint64_t until_ns);
/* Fire timers until none is armed or max_steps fired; returns the count. */
uint64_t sy_loop_sim_run(sy_loop *l, uint64_t max_steps);

#endif
