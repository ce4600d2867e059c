/*
 * gateway.h - what `serve` hands the front (server.h's sy_handler) beside
 * the request handler (routes.h): for each worker, the engine's environment
 * on that worker's loop: a libevent loop, the libcurl transport and the
 * local transport for plugins that answer themselves, all around the one
 * router context.
 *
 * Ownership: serve owns the gateway and the router context; each worker's
 * state is created by the front through worker_init and freed through
 * worker_free once that worker stopped.
 */
#ifndef SY_GATEWAY_H
#define SY_GATEWAY_H

#include "engine.h"
#include "runtime.h"
#include "server.h"

typedef struct sy_gateway {
    sy_router *router;
    struct sy_budget *budget; /* the monthly budget (budget.h); NULL: never refuses */
} sy_gateway;

/* One worker's state (the front's sy_worker_state). */
typedef struct sy_gateway_worker {
    sy_engine_env env;
    struct sy_upstream *up;
    sy_runtime_cache policy; /* this worker's reference to the live policy */
} sy_gateway_worker;

/* sy_handler's worker_init and worker_free (ctx: the sy_gateway). serve
 * puts them in sy_server_opts beside routes.h's sy_route_request. */
void *sy_gateway_worker_init(void *ctx, sy_worker *w, struct event_base *base);
void sy_gateway_worker_free(void *ctx, void *state);

/* The engine environment of the worker that owns c. */
static inline const sy_engine_env *sy_gateway_env(sy_conn *c)
{
    return &((sy_gateway_worker *)sy_worker_state(sy_conn_worker(c)))->env;
}

/* The live policy, a reference (sy_policy_unref when done), without a lock. */
static inline sy_policy *sy_gateway_policy(sy_conn *c)
{
    return sy_runtime_acquire_cached(&((sy_gateway_worker *)sy_worker_state(sy_conn_worker(c)))->policy);
}

#endif
