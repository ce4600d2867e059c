/*
 * breaker.h - one circuit breaker: the state machine of one upstream endpoint.
 *
 * Pure: no clock, no lock, no allocation. The caller passes "now" (monotonic
 * ns, from the engine's loop) and serialises calls on one breaker; the
 * registry that holds breakers for the running router does the locking.
 *
 *   CLOSED --failure_threshold consecutive failures--> OPEN
 *   OPEN --open_for elapsed (checked on the next acquire)--> HALF_OPEN
 *   HALF_OPEN --success_threshold successes--> CLOSED
 *   HALF_OPEN --one failure--> OPEN (for open_for again)
 *
 * In HALF_OPEN at most half_open_max_calls attempts are in flight at once.
 * Every acquire that returned a permit must be matched by exactly one
 * release, whatever way the attempt ended (answered, failed, client gone,
 * deadline, cancelled): a permit that is never handed back would keep the
 * endpoint half-open for ever.
 *
 * A failure is a connect error, an attempt timeout, a 5xx or a cut stream;
 * the client's own 4xx is neutral, and so is a 429: it cools that model on
 * the endpoint for its Retry-After instead (cooldown.h).
 */
#ifndef SY_BREAKER_H
#define SY_BREAKER_H

#include <stdint.h>

#include "policy.h"

typedef enum sy_breaker_state {
    SY_BREAKER_CLOSED = 0, /* values as in the switchyard_breaker_state metric */
    SY_BREAKER_HALF_OPEN = 1,
    SY_BREAKER_OPEN = 2,
} sy_breaker_state;

typedef enum sy_breaker_outcome {
    SY_OUTCOME_SUCCESS,
    SY_OUTCOME_FAILURE,
    SY_OUTCOME_NEUTRAL, /* ended without a verdict on the endpoint (client gone, 4xx, cancel, 429) */
} sy_breaker_outcome;

typedef struct sy_breaker {
    sy_breaker_state state;
    int failures;          /* consecutive, in CLOSED */
    int probe_successes;   /* in HALF_OPEN */
    int probes_in_flight;  /* in HALF_OPEN */
    uint64_t open_until;   /* ns; meaningful in OPEN */
    uint64_t opens;        /* times it went to OPEN */
    uint64_t generation;   /* bumps on every state change: a permit from an older
                            * generation does not count in the current one */
} sy_breaker;

/* What an acquire handed out: pass it back to sy_breaker_release. */
typedef struct sy_breaker_permit {
    int probe;             /* 1: a half-open probe slot */
    uint64_t generation;
} sy_breaker_permit;

/* Why an acquire said no. */
typedef enum sy_breaker_refusal {
    SY_BREAKER_ALLOWED = 0,
    SY_BREAKER_REFUSED_OPEN,      /* open; *retry_at_ns says until when */
    SY_BREAKER_REFUSED_PROBES,    /* half-open and every probe slot is taken */
} sy_breaker_refusal;

void sy_breaker_init(sy_breaker *b);

/* May an attempt go to this endpoint now? On SY_BREAKER_ALLOWED fills *permit.
 * retry_at_ns (may be NULL) gets the time the endpoint may be tried again
 * when refused (0 when unknown). An OPEN breaker whose time is up moves to
 * HALF_OPEN here. */
sy_breaker_refusal sy_breaker_acquire(sy_breaker *b, const sy_breaker_conf *c, uint64_t now,
                                      sy_breaker_permit *permit, uint64_t *retry_at_ns);

/* The attempt that held permit ended with this outcome. Returns 1 when the
 * state changed (read b->state), 0 otherwise. */
int sy_breaker_release(sy_breaker *b, const sy_breaker_conf *c, uint64_t now,
                       sy_breaker_permit permit, sy_breaker_outcome outcome);


/* Would an acquire now be refused? (No state change: for the planner's view,
 * /admin/status and /readyz.) */
int sy_breaker_usable(const sy_breaker *b, const sy_breaker_conf *c, uint64_t now);

const char *sy_breaker_state_name(sy_breaker_state s);

#endif
