/*
 * fleet_rollout.h - one rollout for every instance (issue 11).
 *
 * The share, state, step and reason of the rollout live in Redis under
 * rollout:ID, a hash {version, state, record}; the record is the rollout's
 * own (controller.h sy_ro_encode) wrapped with the times the windows are read
 * from. The version grows by one at every write; writes are one Lua script,
 * a compare-and-set on it, so of two instances writing on the same version
 * one wins and the other reads the winner's record.
 *
 * Every tick (200 ms) on the main thread:
 * - a change made here (an admin action, the controller's rollback, a
 *   reload) is written, on the version last seen here;
 * - else the record is read, and applied when its version is new here;
 * - this instance's windows are published (window:ID:INSTANCE, expiring in
 *   2 s) and the others' are read back, for the controller and
 *   /admin/status, which so see the whole fleet's traffic.
 * So a change made through any instance reaches every instance within two
 * ticks (a write, then the others' next read).
 *
 * The rules:
 * - Rollback: applied here at once (the safe direction, also with Redis
 *   away), then written in "rollback wins" mode: it replaces any record but
 *   a rolled-back one. The instance whose write took counts it in
 *   switchyard_rollbacks_total; one that finds the fleet already rolled
 *   back applies that record and counts nothing. So one canary failure seen
 *   by every instance is one rollback, counted once for the fleet.
 * - Promotion: never applied locally first. The controller's decision is
 *   proposed as a compare-and-set on the version last seen: applied when it
 *   was written, dropped when another change came first (two instances
 *   cannot promote the same step twice). No promotion while Redis is away.
 * - Admin pause, resume and set: applied here and written on the version
 *   seen; when another change came first, the fleet's record wins (logged).
 *   Refused (503) while Redis is away: only rollback works without it.
 * - Redis away: every instance serves on the state it has; a rollback made
 *   meanwhile is remembered and written when Redis is back (it wins). A
 *   Redis that comes back empty (restarted without persistence) is filled
 *   again from the instances' state.
 */
#ifndef SY_FLEET_ROLLOUT_H
#define SY_FLEET_ROLLOUT_H

#include "rollout_live.h"
#include "shared_impl.h"

struct cJSON;

/* Hooks itself into r (sy_rollout_set_fleet): before sy_rollout_apply_policy. */
sy_fleet_rollout *sy_fleet_rollout_new(sy_shared_core *core, sy_rollout *r,
                                       uint64_t clock_offset_ns);
void sy_fleet_rollout_free(sy_fleet_rollout *f);

/* The record serve found in Redis at start (sy_shared_preload; version -1
 * and record NULL: none): its version is the one the first write is based on. */
void sy_fleet_rollout_preloaded(sy_fleet_rollout *f, const char *id, long long version,
                                const char *record);

/* Main thread, every tick, and when Redis goes down (up = 0). */
void sy_fleet_rollout_tick(sy_fleet_rollout *f);
void sy_fleet_rollout_redis_state(sy_fleet_rollout *f, int up);

/* Instances seen publishing windows in the last 2 s, this one included. */
int sy_fleet_rollout_instances(sy_fleet_rollout *f);

/* "rollout" in /admin/status's shared_state: version, instances, pending. */
void sy_fleet_rollout_status(sy_fleet_rollout *f, struct cJSON *obj);

/* The record's parts (tests): the rollout's own text (malloc'd) and its
 * since times from a fleet record. 0, or -1 when it is not one. */
int sy_fleet_record_parse(const char *record, char **rollout, uint64_t *watch_since,
                          uint64_t *step_since);
/* A fleet record from the rollout's text (malloc'd), or NULL. */
char *sy_fleet_record_make(const char *rollout, uint64_t watch_since, uint64_t step_since,
                           const char *by);

#endif
