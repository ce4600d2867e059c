/* loop_sim.c - a simulated loop: a timer heap on a clock that moves only
 * when a timer fires (see loop.h). Ties fire in the order they were armed,
 * so a run is repeatable. */
#include <stdlib.h>
#include <string.h>

#include "loop.h"

typedef struct sim_loop sim_loop;

struct sy_timer {
    sy_timer_base base; /* first: loop.h's inline helpers read it */
    sim_loop *loop;
    sy_timer_fn fn;
    void *arg;
    uint64_t due, seq;
    size_t slot;        /* index in the heap, or SIZE_MAX when not armed */
};

struct sim_loop {
    sy_loop base;
    uint64_t now;
    int64_t wall0;
    uint64_t start, seq;
    sy_timer **heap;
    size_t n, cap;
};

static int before(const sy_timer *a, const sy_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void put(sim_loop *l, size_t i, sy_timer *t)
{
    l->heap[i] = t;
    t->slot = i;
}

static void sift_up(sim_loop *l, size_t i)
{
    sy_timer *t = l->heap[i];
    while (i > 0 && before(t, l->heap[(i - 1) / 2])) {
        put(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    put(l, i, t);
}

static void sift_down(sim_loop *l, size_t i)
{
    sy_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n) break;
        if (c + 1 < l->n && before(l->heap[c + 1], l->heap[c])) c++;
        if (!before(l->heap[c], t)) break;
        put(l, i, l->heap[c]);
        i = c;
    }
    put(l, i, t);
}

static void heap_remove(sim_loop *l, sy_timer *t)
{
    size_t i = t->slot;
    if (i == SIZE_MAX) return;
    t->slot = SIZE_MAX;
    sy_timer *last = l->heap[--l->n];
    if (last == t) return;
    put(l, i, last);
    sift_up(l, i);
    sift_down(l, last->slot);
}

static uint64_t sim_now(sy_loop *b) { return ((sim_loop *)b)->now; }

static int64_t sim_wall(sy_loop *b)
{
    sim_loop *l = (sim_loop *)b;
    return l->wall0 + (int64_t)((l->now - l->start) / 1000000000u);
}

static const sy_loop_ops sim_ops;

static sy_timer *sim_timer_new(sy_loop *b, sy_timer_fn fn, void *arg)
{
    sy_timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base.ops = &sim_ops;
    t->loop = (sim_loop *)b;
    t->fn = fn;
    t->arg = arg;
    t->slot = SIZE_MAX;
    return t;
}

static void sim_timer_arm(sy_timer *t, uint64_t delay_ns)
{
    sim_loop *l = t->loop;
    heap_remove(l, t);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        sy_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h) abort(); /* a simulation that cannot grow its heap cannot go on */
        l->heap = h;
        l->cap = cap;
    }
    t->due = l->now + delay_ns;
    t->seq = l->seq++;
    put(l, l->n++, t);
    sift_up(l, t->slot);
}

static void sim_timer_cancel(sy_timer *t) { heap_remove(t->loop, t); }

static void sim_timer_free(sy_timer *t)
{
    heap_remove(t->loop, t);
    free(t);
}

static const sy_loop_ops sim_ops = {sim_now, sim_wall, sim_timer_new, sim_timer_arm,
                                    sim_timer_cancel, sim_timer_free};

sy_loop *sy_loop_sim_new(uint64_t start_ns, int64_t wall_s)
{
    sim_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base.ops = &sim_ops;
    l->now = l->start = start_ns;
    l->wall0 = wall_s;
    return &l->base;
}

void sy_loop_sim_free(sy_loop *b)
{
    sim_loop *l = (sim_loop *)b;
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) l->heap[i]->slot = SIZE_MAX;
    free(l->heap);
    free(l);
}

int sy_loop_sim_step(sy_loop *b)
{
    sim_loop *l = (sim_loop *)b;
    if (!l->n) return 0;
    sy_timer *t = l->heap[0];
    heap_remove(l, t);
    if (t->due > l->now) l->now = t->due;
    t->fn(t->arg);
    return 1;
}

void sy_loop_sim_run_until(sy_loop *b, uint64_t until_ns)
{
    sim_loop *l = (sim_loop *)b;
    while (l->n && l->heap[0]->due <= until_ns) sy_loop_sim_step(b);
    if (until_ns > l->now) l->now = until_ns;
}

uint64_t sy_loop_sim_run(sy_loop *b, uint64_t max_steps)
{
    uint64_t n = 0;
    while (n < max_steps && sy_loop_sim_step(b)) n++;
    return n;
}
