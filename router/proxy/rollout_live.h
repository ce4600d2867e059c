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
 * possible now: no canary, or a pause while rolled back) or -3 (several
 * instances and Redis away: only rollback is possible) with a message. */
int sy_rollout_action(sy_rollout *r, const char *action, double percent, char *err, size_t errlen);

/* The live state into /admin/status's "rollout" object (any thread). */
void sy_rollout_status(sy_rollout *r, struct cJSON *ro);

/* The state's name ("progressing", "paused", "rolled_back", "complete"). */
const char *sy_rollout_state(sy_rollout *r);

/* ------------------------------------------------------------------------
 * Several instances (router/shared/fleet_rollout.h): the fleet sees every
 * change, adds the other instances' windows, and decides promotions.
 */
#include "controller.h"

typedef struct sy_rollout_fleet {
    void *ctx;
    /* Add what the other instances' windows hold for arm (0 stable, 1
     * canary) in the window ending at now, from since (sy_window_collect's
     * meaning). Called under the rollout's lock. */
    void (*collect)(void *ctx, int arm, uint64_t now, uint64_t since, sy_window_sum *out);
    /* The rollout changed here (a rollback, an admin action, the policy):
     * c is the new state, ch what happened. The fleet is told instead of
     * counting the rollback here: it is counted once, by the instance whose
     * write to Redis decided it. Under the rollout's lock. */
    void (*changed)(void *ctx, const sy_rollout_ctl *c, const sy_ro_change *ch);
    /* The controller would promote (c: the promoted state). Nothing changes
     * here: the fleet proposes it to Redis, and it is applied when written
     * (sy_rollout_adopt). Writes why the step waits into hold. */
    void (*promote)(void *ctx, const sy_rollout_ctl *c, const sy_ro_change *ch, char *hold,
                    size_t cap);
    /* 1 when Redis is reachable: admin actions other than rollback need it. */
    int (*online)(void *ctx);
    /* 1 when a change here is still to be written: a record read from Redis
     * must not undo it. Called under the rollout's lock. */
    int (*busy)(void *ctx);
} sy_rollout_fleet;

/* Before sy_rollout_apply_policy and any worker. clock_offset_ns is added
 * to the monotonic clock for every window and controller time, so slots of
 * different instances line up (wall-clock aligned). f is copied. */
void sy_rollout_set_fleet(sy_rollout *r, const sy_rollout_fleet *f, uint64_t clock_offset_ns);
/* The rollout's clock (monotonic + offset), ns. */
uint64_t sy_rollout_now(sy_rollout *r);
/* This instance's windows, slot by slot, both arms, as of now (for the
 * fleet to publish). Main thread. */
void sy_rollout_export(sy_rollout *r, uint64_t now, sy_window out[2]);
/* The state as the fleet records it: sy_ro_encode's text (malloc'd) and
 * the since times. 0, or -1 (no rollout, or out of memory). Any thread. */
int sy_rollout_snapshot(sy_rollout *r, char **json, uint64_t *watch_since,
                        uint64_t *step_since);
/* Apply a record the fleet holds (another instance's change, or this one's
 * promotion once Redis took it): the share, the state and the reason, from
 * sy_ro_encode's text; since times in the rollout's clock (0: now). Skipped
 * (1) when the rollout is not this id, or the fleet's busy() says a change
 * here waits to be written. 0 when applied; -1 out of memory. Main thread. */
int sy_rollout_adopt(sy_rollout *r, const char *json, uint64_t watch_since, uint64_t step_since);

#endif
