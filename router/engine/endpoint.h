/*
 * endpoint.h - one upstream endpoint's live state, shared by every worker,
 * and the lock-free paths a request takes through it.
 *
 * The breaker (breaker.h), the per-model cooldowns (cooldown.h) and the
 * health flag change under the endpoint's small mutex: a breaker is a state
 * machine whose steps must not interleave. But a request to a healthy
 * endpoint changes none of them: the breaker is closed with no failure
 * counted, the attempt is allowed and its success leaves everything as it
 * was. So every change under the mutex ends with sy_endpoint_publish, which
 * stores two words the request path reads without a lock:
 *
 *   gate       generation << 1 | 1 while the breaker is closed with no
 *              failure counted and the endpoint is healthy; 0 otherwise
 *   open_until while the breaker is open, when it may be tried again;
 *              UINT64_MAX while a health check has the endpoint down;
 *              0 otherwise
 *
 * plus cool_max, the latest end of any model's cooldown. A request on an
 * endpoint that answers takes no lock: an open gate grants a closed-breaker
 * permit, a success or a neutral end with that permit leaves the state as
 * it is, and the latency EWMA and in-flight count are atomics. The mutex is
 * taken only when something happens to the endpoint: a failure, a half-open
 * probe, a 429's cooldown, a health change, or a permit granted before the
 * last state change (tests/engine/test_endpoint.c checks the two paths give
 * the same answers).
 *
 * Why a permit read from a gate that is a moment old is still right: it is
 * the answer the breaker would have given just before the change that closed
 * the gate, and the breaker already ignores a permit from an older
 * generation when it comes back (breaker.h).
 */
#ifndef SY_ENDPOINT_H
#define SY_ENDPOINT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "breaker.h"
#include "cooldown.h"
#include "ewma.h"

typedef struct sy_endpoint_state {
    char *provider, *endpoint; /* the key */
    pthread_mutex_t mu;        /* guards breaker, cool, healthy and checks */
    sy_breaker breaker;
    sy_cooldowns cool;         /* per model: a 429's Retry-After */
    int healthy;               /* 1 unless an active health check marked it down */
    unsigned checks;           /* health probe results so far; 0: health not measured */
    /* Published under mu by sy_endpoint_publish; read without it. */
    _Atomic uint64_t gate;
    _Atomic uint64_t open_until;
    _Atomic uint64_t cool_max;
    /* The latency EWMA (ewma.h) and the attempts in flight, without a lock:
     * two workers observing in the same instant may lose one sample of an
     * estimate that decays over 10 s, never tear a value. */
    _Atomic uint64_t ewma_bits;    /* the double value_ns, as its bits */
    _Atomic uint64_t ewma_last_ns;
    _Atomic uint64_t ewma_samples;
    _Atomic uint32_t in_flight;
} sy_endpoint_state;

/* A new endpoint: closed, healthy, no samples. */
void sy_endpoint_init(sy_endpoint_state *s);

/* Under s->mu, after any other change to breaker, cool or healthy. */
void sy_endpoint_publish(sy_endpoint_state *s);

/* Told of a change of the endpoint's breaker state, with its mutex held. */
typedef void (*sy_endpoint_changed_fn)(void *ctx, const sy_endpoint_state *s);

/* What sy_endpoint_acquire found. */
typedef struct sy_endpoint_look {
    int ok;              /* the attempt may go (with a permit asked for: it is taken) */
    int healthy;         /* 0: a health check has the endpoint down */
    uint64_t cool_until; /* the model cools on it until then (ns), or 0 */
    uint64_t open_until; /* refused by an open breaker: when it may be tried, or 0 */
} sy_endpoint_look;

/* May an attempt for model go to this endpoint now? Healthy, the model not
 * cooling after a 429, the breaker allowing it. With permit, the breaker's
 * permit is taken (hand it back with sy_endpoint_release); without, the
 * breaker is only looked at. Takes the lock only when the lock-free words
 * cannot tell. */
sy_endpoint_look sy_endpoint_acquire(sy_endpoint_state *s, const sy_breaker_conf *c,
                                     const char *model, uint64_t now, sy_breaker_permit *permit,
                                     sy_endpoint_changed_fn changed, void *ctx);

/* The attempt that held permit ended with this outcome. Returns 1 when this
 * opened the breaker. Takes the lock only when the breaker may change. */
int sy_endpoint_release(sy_endpoint_state *s, const sy_breaker_conf *c, uint64_t now,
                        sy_breaker_permit permit, sy_breaker_outcome outcome,
                        sy_endpoint_changed_fn changed, void *ctx);

/* model cools on this endpoint until until_ns (a 429's Retry-After). */
void sy_endpoint_cool(sy_endpoint_state *s, const char *model, uint64_t until_ns, uint64_t now_ns);

/* A health check's verdict. Returns 1 when it changed the endpoint's health
 * (changed was called). */
int sy_endpoint_set_healthy(sy_endpoint_state *s, int up, sy_endpoint_changed_fn changed, void *ctx);

static inline void sy_endpoint_attempt_begins(sy_endpoint_state *s)
{
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
}
void sy_endpoint_attempt_ends(sy_endpoint_state *s);

/* One attempt's time to first byte, into the EWMA. */
void sy_endpoint_observe_latency(sy_endpoint_state *s, uint64_t latency_ns, uint64_t now_ns);

/* A copy of the EWMA with the in-flight count, for sy_ewma_cost and status. */
void sy_endpoint_ewma(const sy_endpoint_state *s, sy_ewma *out);

#endif
