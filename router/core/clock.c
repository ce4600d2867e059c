/* clock.c - the real clock and a fake one for tests. */
#include "clock.h"

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

static uint64_t real_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t real_wall_s(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static const sy_clock real_clock = {real_now_ns, real_wall_s, NULL};
static _Atomic(const sy_clock *) current = &real_clock;

const sy_clock *sy_clock_get(void) { return atomic_load_explicit(&current, memory_order_acquire); }

void sy_clock_set(const sy_clock *c)
{
    atomic_store_explicit(&current, c ? c : &real_clock, memory_order_release);
}

static uint64_t fake_now_ns(void *ctx) { return ((sy_fake_clock *)ctx)->now; }
static int64_t fake_wall_s(void *ctx)
{
    sy_fake_clock *f = ctx;
    return f->wall + (int64_t)(f->now / 1000000000u);
}

void sy_fake_clock_init(sy_fake_clock *f, uint64_t start_ns, int64_t wall_s)
{
    f->clock.now_ns = fake_now_ns;
    f->clock.wall_s = fake_wall_s;
    f->clock.ctx = f;
    f->now = start_ns;
    f->wall = wall_s;
}

void sy_fake_clock_advance(sy_fake_clock *f, uint64_t ns) { f->now += ns; }
