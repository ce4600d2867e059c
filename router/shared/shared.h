/*
 * shared.h - several instances sharing state through Redis (issue 11;
 * docs/several-instances.md). What `serve` calls; the parts are in
 * fleet_rollout.h (the rollout and its windows), fleet_limit.h (the rate
 * limit), fleet_budget.h (the month's spend) and fleet_responses.h (the
 * Responses API's id map).
 *
 * Only the main thread talks to Redis, asynchronously on its event loop
 * (redis_client.h). Workers read local state only (atomics, the rollout's
 * share), so no request ever waits on Redis, and a Redis that is away or
 * slow changes nothing on the request path: every instance serves on the
 * last state it knew.
 *
 * Breakers, health checks, latency EWMAs, cooldowns and retry budgets stay
 * per instance: each instance's own view of an endpoint is what its own
 * requests meet.
 *
 * /admin/status gets its "shared_state" object through the router's status
 * hook (router.h), set by attach: the front never includes this header.
 *
 * Lifecycle (cmd_serve.c): new (the policy has shared_state) -> preload
 * (blocking, at start: the fleet's rollout record and month's spend, before
 * the first request) -> attach (hooks into the rollout, the budget, the
 * router's rate limit and the response map; before any worker) -> start
 * (the main loop's base: connect) -> tick every 200 ms -> stop -> free.
 */
#ifndef SY_SHARED_H
#define SY_SHARED_H

#include <stddef.h>

#include "policy.h"

struct event_base;
struct cJSON;
struct sy_store;
struct sy_rollout;
struct sy_budget;
struct sy_router;
struct sy_response_map;
typedef struct sy_shared sy_shared;

/* From p->shared_state (enabled, with a URL). NULL with err set when the URL
 * cannot be used or out of memory. */
sy_shared *sy_shared_new(const sy_policy *p, char *err, size_t errlen);
void sy_shared_free(sy_shared *s);

/* At start, before any worker: read the fleet's rollout record (for p's
 * rollout id) and this month's spend, within shared_state.timeout, into
 * store under "rollout" and "budget", so the rollout and the budget start
 * from the fleet's state. A Redis that does not answer is logged; the state
 * file's (or nothing) is used, and the fleet is joined once Redis answers. */
void sy_shared_preload(sy_shared *s, const sy_policy *p, struct sy_store *store);

/* Before any worker and before sy_rollout_apply_policy. Any of the parts may
 * be NULL. 0, or -1 when out of memory. */
int sy_shared_attach(sy_shared *s, const sy_policy *p, struct sy_router *router,
                     struct sy_rollout *rollout, struct sy_budget *budget,
                     struct sy_response_map *responses);

/* The main thread's loop: connect (start), disconnect (stop). */
void sy_shared_start(sy_shared *s, struct event_base *base);
void sy_shared_stop(sy_shared *s);

/* Main thread, every tick (after the rollout's and the budget's ticks). */
void sy_shared_tick(sy_shared *s);

/* A reload: the rate limit follows the new policy; a changed shared_state
 * needs a restart (logged). */
void sy_shared_apply_policy(sy_shared *s, const sy_policy *p);

#endif
