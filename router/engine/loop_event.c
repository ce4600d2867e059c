/* loop_event.c - the engine's loop on libevent (see loop.h). */
#include <event2/event.h>
#include <stdlib.h>

#include "clock.h"
#include "loop.h"

typedef struct ev_loop {
    sy_loop base;
    struct event_base *evb;
} ev_loop;

struct sy_timer {
    sy_timer_base base; /* first: loop.h's inline helpers read it */
    struct event *ev;
    sy_timer_fn fn;
    void *arg;
};

static uint64_t ev_now(sy_loop *l)
{
    (void)l;
    return sy_now_ns();
}

static int64_t ev_wall(sy_loop *l)
{
    (void)l;
    return sy_wall_s();
}

static void ev_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_timer *t = arg;
    t->fn(t->arg);
}

static const sy_loop_ops ev_ops;

static sy_timer *ev_timer_new(sy_loop *l, sy_timer_fn fn, void *arg)
{
    sy_timer *t = malloc(sizeof *t);
    if (!t) return NULL;
    t->base.ops = &ev_ops;
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(((ev_loop *)l)->evb, ev_fire, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    return t;
}

static void ev_timer_arm(sy_timer *t, uint64_t delay_ns)
{
    struct timeval tv = {(time_t)(delay_ns / 1000000000u), (suseconds_t)(delay_ns % 1000000000u / 1000u)};
    evtimer_add(t->ev, &tv);
}

static void ev_timer_cancel(sy_timer *t) { evtimer_del(t->ev); }

static void ev_timer_free(sy_timer *t)
{
    event_free(t->ev);
    free(t);
}

static const sy_loop_ops ev_ops = {ev_now, ev_wall, ev_timer_new, ev_timer_arm, ev_timer_cancel,
                                   ev_timer_free};

sy_loop *sy_loop_event_new(struct event_base *base)
{
    ev_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base.ops = &ev_ops;
    l->evb = base;
    return &l->base;
}

void sy_loop_event_free(sy_loop *l) { free(l); }
