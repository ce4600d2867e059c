/*
 * rollout_sim.h - the rollout as `simulate` runs it: the same controller
 * as serve (router/rollout/controller.h) fed by the same windows
 * (window.h), on the simulated clock.
 *
 * serve's side (router/proxy/rollout_live.c) keeps the windows in
 * per-thread shards and publishes the share to the request path; a
 * simulation has one thread, so it keeps one window per arm and the share
 * here. What an attempt counts as and the controller's configuration from
 * the policy are serve's own functions (router/rollout/counting.h), and the
 * tick is serve's 200 ms.
 */
#ifndef SY_ROLLOUT_SIM_H
#define SY_ROLLOUT_SIM_H

#include <stdint.h>

#include "controller.h"
#include "events.h"
#include "policy.h"

#define SY_ROLLOUT_TICK_MS 200 /* serve's tick (cmd_serve.c) */

typedef struct sy_sim_rollout {
    int active;               /* the policy has a canary */
    int latency_total;        /* migration.rollback.latency: total */
    sy_rollout_ctl ctl;
    sy_window arm[2];         /* 0: stable, 1: canary */
    uint64_t now;             /* of the tick in progress (for collect) */
} sy_sim_rollout;

/* Configure from p at now/wall, as serve does at start (with no stored
 * record: a simulation always starts fresh at rollout.percent). Returns 0,
 * or -1 when out of memory. */
int sy_sim_rollout_init(sy_sim_rollout *r, const sy_policy *p, uint64_t now, int64_t wall);
void sy_sim_rollout_fini(sy_sim_rollout *r);

/* The observer of attempt events (router.h on_attempt); ctx is the rollout. */
void sy_sim_rollout_on_attempt(void *ctx, const sy_attempt_event *e);

/* The tick: rollback or promotion. */
void sy_sim_rollout_tick(sy_sim_rollout *r, uint64_t now, int64_t wall, sy_ro_change *out);

/* An admin action (sy_ro_action). */
int sy_sim_rollout_action(sy_sim_rollout *r, const char *action, double percent, uint64_t now,
                          int64_t wall, sy_ro_change *out, char *err, size_t errlen);

/* The share of users on the canary now (0 without a canary). */
double sy_sim_rollout_share(const sy_sim_rollout *r);

#endif
