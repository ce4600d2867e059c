/*
 * rollout_live.h - the rollout as `serve` runs it: the controller
 * (router/rollout/controller.h) fed by the arms' windows, published to the
 * request path, persisted in the store, and shown and steered through the
 * admin API.
 *
 * - Observer: every finished attempt goes to its arm's window in the
 *   calling worker's shard (shards.h), counted as counting.h says.
 * - Tick (main thread, every 200 ms): merge the canary's window, let the
 *   controller decide, then act: publish the share (sy_runtime_set_percent,
 *   an atomic the request path reads), log the reason, count
 *   switchyard_rollbacks_total{reason}, and put the record under the store
 *   key "rollout" (serve's tick flushes it to state_file right after).
 * - Admin actions run on a worker, under the same mutex as the tick.
 */
#ifndef SY_ROLLOUT_LIVE_H
#define SY_ROLLOUT_LIVE_H

#include <stddef.h>

#include "policy.h"
#include "router.h"

struct sy_store;
struct cJSON;
typedef struct sy_rollout sy_rollout;

/* store: where the record lives (may be NULL: nothing persisted); it must
 * outlive the rollout. NULL when out of memory. */
sy_rollout *sy_rollout_new(struct sy_store *store);
void sy_rollout_free(sy_rollout *r);

/* Add r as an observer of r's attempt events, and make it reachable from
 * the router context (sy_router_rollout) for the admin API. Before any
 * worker runs. */
int sy_rollout_observe(sy_rollout *r, sy_router *router);

/* The policy: at start (before the first request; the first call reads the
 * stored record) and at every reload, on the main thread. Publishes the
 * share. Returns 0, or -1 when out of memory. */
int sy_rollout_apply_policy(sy_rollout *r, const sy_policy *p);

/* Main thread, on a timer. */
void sy_rollout_tick(sy_rollout *r);

/* POST /admin/rollout (any thread). Returns 0; -1 (bad request) or -2 (not
 * possible now: no canary, or a pause while rolled back) with a message. */
int sy_rollout_action(sy_rollout *r, const char *action, double percent, char *err, size_t errlen);

/* The live state into /admin/status's "rollout" object (any thread). */
void sy_rollout_status(sy_rollout *r, struct cJSON *ro);

/* The state's name ("progressing", "paused", "rolled_back", "complete"). */
const char *sy_rollout_state(sy_rollout *r);

#endif
