/*
 * router.h - the router context: everything that lives across requests.
 *
 * One sy_router per process, passed down the request path instead of being
 * held in file-scope variables: the per-endpoint state (breaker, latency
 * EWMA, health), the per-provider retry budget, and the observers that every
 * finished attempt and request fans out to (metrics, access log, cost, ...).
 *
 * Endpoint and provider state is keyed by names, so a reload keeps it: the
 * breaker of holysheep/cn-north is the same object before and after a SIGHUP
 * that changed an unrelated key. sy_router_bind (main thread, at every load)
 * creates the state of every endpoint of a policy; lookups from workers are
 * lock-free reads of an index published with it. A request on endpoints that
 * answer takes no lock (endpoint.h); an endpoint's small mutex serialises its
 * breaker's changes (a failure, a probe, a cooldown), never across I/O. The
 * retry budget and the rate limit are lock-free.
 */
#ifndef SY_ROUTER_H
#define SY_ROUTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "breaker.h"
#include "cooldown.h"
#include "endpoint.h"
#include "events.h"
#include "ewma.h"
#include "policy.h"
#include "ratelimit.h"
#include "retry_budget.h"

/* A provider's state: its retry budget and when its refused key was last
 * logged. Both lock-free. */
typedef struct sy_provider_state {
    char *provider;
    sy_retry_budget budget;
    _Atomic int64_t key_refused_logged_s; /* last "key refused" log, wall seconds */
} sy_provider_state;

/* An observer of finished attempts and requests. Either callback may be NULL.
 * Called on the worker thread that ran the request; strings are borrowed. */
typedef struct sy_observer {
    void (*on_attempt)(void *ctx, const sy_attempt_event *e);
    void (*on_request)(void *ctx, const sy_request_event *e);
    /* An endpoint's breaker or health changed (or it was just created, at
     * bind). Called with the state's mutex held: read, don't call back. */
    void (*on_endpoint)(void *ctx, const sy_endpoint_state *s);
    void *ctx;
} sy_observer;

#define SY_ROUTER_MAX_OBSERVERS 8

typedef struct sy_router sy_router;
struct sy_store;

sy_router *sy_router_new(void);
/* The durable state (store.h): the rollout and the month's spend. Set once
 * by serve before any worker runs; the router does not own it. */
void sy_router_set_store(sy_router *r, struct sy_store *s);
struct sy_store *sy_router_store(const sy_router *r);
/* The live rollout (router/proxy/rollout_live.h), for the admin API. Set once
 * by serve before any worker runs; the router does not own it. */
struct sy_rollout;
void sy_router_set_rollout(sy_router *r, struct sy_rollout *ro);
struct sy_rollout *sy_router_rollout(const sy_router *r);
/* Something that adds its own part to /admin/status (the fleet's shared
 * state, router/shared/), so the admin API needs no header of it. Set once
 * before any worker runs (NULL clears it); called on a worker thread. */
struct cJSON;
typedef void (*sy_router_status_fn)(void *ctx, struct cJSON *root);
void sy_router_set_status_hook(sy_router *r, sy_router_status_fn fn, void *ctx);
/* Calls the hook; 0 when there is none. */
int sy_router_status_hook(const sy_router *r, struct cJSON *root);

/* Where each stored response of the Responses API lives (state/response_map.h).
 * Set once by serve before any worker runs; the router does not own it.
 * NULL: nothing is remembered (the engine then routes by arm). */
struct sy_response_map;
void sy_router_set_responses(sy_router *r, struct sy_response_map *m);
struct sy_response_map *sy_router_responses(const sy_router *r);
void sy_router_free(sy_router *r);

/* Observers: add them before any worker runs. */
int sy_router_add_observer(sy_router *r, sy_observer o);
void sy_router_emit_attempt(const sy_router *r, const sy_attempt_event *e);
void sy_router_emit_request(const sy_router *r, const sy_request_event *e);
void sy_router_emit_endpoint(const sy_router *r, const sy_endpoint_state *s);
/* The same in the shape of sy_endpoint_changed_fn (endpoint.h), router as ctx. */
void sy_router_endpoint_changed(void *router, const sy_endpoint_state *s);

/* Make sure every endpoint and provider of p has its state (main thread).
 * Returns 0, or -1 when out of memory. New endpoints start closed and healthy,
 * and are reported to the observers at once (on_endpoint). */
int sy_router_bind(sy_router *r, const sy_policy *p);

/* The state of an endpoint / provider of a bound policy (any thread). */
sy_endpoint_state *sy_router_endpoint(sy_router *r, const sy_policy_provider *prov,
                                      const sy_policy_endpoint *ep);
sy_provider_state *sy_router_provider(sy_router *r, const sy_policy_provider *prov);

/* The rate limit: one bucket for the whole process, taken from by every
 * worker without a lock (ratelimit.h). Returns 0 when the request may go,
 * else the ms until a token is there. */
int64_t sy_router_rate_limit(sy_router *r, const sy_rate_limit_conf *rl, uint64_t now_ns);
/* Several instances (router/shared/fleet_limit.h): the fleet's bucket
 * decides instead; local is the process's own bucket (for when the fleet's
 * cannot be reached). Set once before any worker runs. */
typedef int64_t (*sy_rate_limiter_fn)(void *ctx, sy_ratelimit *local, const sy_rate_limit_conf *rl,
                                      uint64_t now_ns);
void sy_router_set_rate_limiter(sy_router *r, sy_rate_limiter_fn fn, void *ctx);

/* The bytes every non-streamed answer being received holds (answer_buf.h),
 * bounded by server.max_response_memory. */
_Atomic uint64_t *sy_router_answer_pool(sy_router *r);

/* Visit every endpoint state (for /admin/status and /metrics). */
void sy_router_each_endpoint(sy_router *r, void (*fn)(void *ctx, sy_endpoint_state *s),
                             void *ctx);

#endif
