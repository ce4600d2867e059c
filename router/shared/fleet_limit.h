/*
 * fleet_limit.h - one rate limit for the fleet (policy rate_limit with
 * shared_state): rps and burst are the whole fleet's, not each instance's.
 *
 * The fleet's token bucket lives in Redis (key "ratelimit", a Lua script
 * refills and takes from it on Redis's clock). Requests never wait on it:
 * the main thread takes tokens from it in small batches (10 % of rps, at
 * least 1) every 50 ms while this instance's pool is low, and a request
 * only takes one from the local pool, an atomic counter (no lock). So the
 * fleet admits rps per second, plus the burst, plus at most one batch per
 * instance held in the pools.
 *
 * Redis away (or its script not answering: a Redis that refuses EVAL must
 * not refuse every request): each instance falls back to its own lock-free
 * bucket (ratelimit.h) at rps and burst divided by the number of instances
 * last seen, so the fleet stays near the limit; the tokens already in the
 * pool are used first. What the fallback admits while Redis is up (before
 * the first take is answered) is charged to the fleet's bucket afterwards.
 */
#ifndef SY_FLEET_LIMIT_H
#define SY_FLEET_LIMIT_H

#include "policy.h"
#include "shared_impl.h"

struct event_base;
struct sy_router;

sy_fleet_limit *sy_fleet_limit_new(sy_shared_core *core, struct sy_router *router);
void sy_fleet_limit_free(sy_fleet_limit *l);

/* The policy's rate_limit (at start and every reload). Main thread. */
void sy_fleet_limit_configure(sy_fleet_limit *l, const sy_rate_limit_conf *rl);
/* How many instances share the limit when Redis is away (>= 1). */
void sy_fleet_limit_set_instances(sy_fleet_limit *l, int n);

/* The refill timer on the main loop (start) and its end (stop). */
void sy_fleet_limit_start(sy_fleet_limit *l, struct event_base *base);
void sy_fleet_limit_stop(sy_fleet_limit *l);

/* Tokens in this instance's pool (tests, status). */
long long sy_fleet_limit_pool(sy_fleet_limit *l);

#endif
