/*
 * controller.h - the rollout controller: automatic rollback, progressive
 * promotion and the admin actions, as one state machine.
 *
 * Pure: no clock, no I/O, no globals, no locks. Every call is given "now"
 * (monotonic ns, the engine's clock) and "wall" (Unix seconds, for the
 * record), and reads the arms' windows through a callback, so `serve`
 * (router/proxy/rollout.c: shards merged on the main thread's tick) and a
 * simulation on its own clock drive the very same decisions. The caller
 * serialises calls, publishes the share, logs, counts and persists what a
 * call reports (sy_ro_change).
 *
 * The rules (docs/rollout.md has the reasoning and the measured figures):
 * - Rollback (every state but rolled_back, share > 0): over the canary's
 *   window since it was last re-enabled, with at least min_requests
 *   attempts, the Wilson upper bound of the success rate at 99.9 %
 *   (one-sided) is below success_rate_below; or, with at least min_requests
 *   latency samples, the Wilson lower bound of the share of samples above
 *   p95_above is over 5 % (the true P95 is above the threshold). Then the
 *   share drops to 0 at once.
 * - Promotion (state progressing, steps given): once the current step has
 *   lasted step_after and a whole window, and the window since the step
 *   began holds at least min_requests attempts whose observed success rate
 *   is at least success_rate_below and (with at least min_requests samples)
 *   whose P95 is at most p95_above, the share moves to the next step. The
 *   last step reached: complete.
 * - Admin: rollback, pause (no promotion; rollback still watches), resume
 *   (from a rollback: the share it had before), set N.
 */
#ifndef SY_CONTROLLER_H
#define SY_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

typedef enum sy_ro_state {
    SY_RO_PROGRESSING = 0, /* watching; promoting on schedule when there are steps */
    SY_RO_PAUSED,          /* holding the share: no promotion (rollback still watches) */
    SY_RO_ROLLED_BACK,     /* share 0 until an operator resumes or sets */
    SY_RO_COMPLETE,        /* the last step reached */
} sy_ro_state;
const char *sy_ro_state_name(sy_ro_state s);
/* -1 for an unknown name. */
int sy_ro_state_parse(const char *name);

/* What the policy asks (migration.rollout and migration.rollback). */
typedef struct sy_ro_conf {
    const char *id;             /* migration.rollout.id */
    double percent;             /* rollout.percent, 0..100 */
    const double *steps;        /* ascending, 0 < step <= 100; copied */
    size_t n_steps;
    uint64_t step_after_ns;
    double success_rate_below;  /* 0..1; 0: not checked */
    uint64_t p95_above_ns;      /* 0: not checked */
    uint64_t window_ns;         /* > 0 */
    uint64_t min_requests;      /* >= 1 */
} sy_ro_conf;

/* Why the share or state last changed. */
typedef struct sy_ro_reason {
    char kind[16];   /* success_rate | p95 | admin | promotion | policy | start | restart */
    int figures;     /* 1: the fields below are the canary's window */
    double value;    /* success_rate: percent; p95: ms */
    double threshold;
    uint64_t requests, failures, samples;
    double above;    /* p95: latency samples above the threshold */
    char text[400];  /* one line for the log and /admin/status */
} sy_ro_reason;

typedef struct sy_rollout_ctl {
    /* the policy, copied */
    char *id;               /* the rollout the state belongs to */
    double percent;
    double *steps;
    size_t n_steps;
    uint64_t step_after_ns, p95_above_ns, window_ns, min_requests;
    double success_rate_below;
    /* the state (persisted: sy_ro_encode) */
    int started;            /* 0 until the first configure */
    int damaged;            /* restore found an unreadable record: held rolled back */
    double share;           /* percent of users on the canary now */
    double resume_share;    /* what resume after a rollback returns to */
    sy_ro_state state;
    sy_ro_reason reason;
    int64_t changed_at;     /* wall seconds of the last change */
    int64_t step_started_at;/* wall seconds: the current step began */
    double policy_percent;  /* the rollout.percent the share was last reconciled with */
    /* in memory only */
    uint64_t step_since;    /* monotonic: promotion reads the window from here */
    uint64_t watch_since;   /* monotonic: the rollback rule reads the window from here */
    char hold[200];         /* why the next step waits ("" when none is due or it moved) */
} sy_rollout_ctl;

/* What a call did, for the caller to act on. */
typedef struct sy_ro_change {
    int changed;            /* share or state moved: publish and persist */
    int persist;            /* the record changed (always when changed) */
    int rollback;           /* it is a rollback: count it by reason.kind */
    double from, to;        /* the share before and after */
    char log[480];          /* a line to log, or "" */
} sy_ro_change;

/* The canary's window from `since` to now (sy_window_collect's meaning),
 * added into *out. */
typedef void (*sy_ro_collect)(void *ctx, uint64_t since, sy_window_sum *out);

void sy_ro_init(sy_rollout_ctl *c);
void sy_ro_free(sy_rollout_ctl *c);

/* Load a persisted state (sy_ro_encode's text) before the first configure,
 * which keeps it when its rollout id is the policy's. Returns 0, or -1
 * (text unreadable: the state is then rolled back, share 0, with a reason
 * saying so, so a damaged record never re-enables a canary). */
int sy_ro_restore(sy_rollout_ctl *c, const char *json, uint64_t now, int64_t wall);
/* The state as a JSON text (malloc'd), or NULL when out of memory. */
char *sy_ro_encode(const sy_rollout_ctl *c);

/* Take a policy: at start and at every reload. A new rollout id starts
 * fresh at rollout.percent; the same id keeps the share and the state,
 * except that a changed rollout.percent is applied (not over a rollback).
 * Returns -1 when out of memory. */
int sy_ro_configure(sy_rollout_ctl *c, const sy_ro_conf *conf, uint64_t now, int64_t wall,
                    sy_ro_change *out);

/* The tick: rollback or promotion, from the canary's window. */
void sy_ro_tick(sy_rollout_ctl *c, uint64_t now, int64_t wall, sy_ro_collect collect,
                void *ctx, sy_ro_change *out);

/* An admin action: "rollback", "pause", "resume" or "set" (percent used
 * only by set). Returns 0; -1 with a message in err for an unknown action
 * or a percent out of 0..100; -2 for a pause while rolled back. */
int sy_ro_action(sy_rollout_ctl *c, const char *action, double percent, uint64_t now,
                 int64_t wall, sy_ro_change *out, char *err, size_t errlen);

/* The next step above the share, or -1 (no steps, or the last reached). */
double sy_ro_next_step(const sy_rollout_ctl *c);

/* The rollback rule alone, on one window (for tests and `simulate`): 1 and
 * the reason filled when it fires. */
int sy_ro_should_roll_back(const sy_rollout_ctl *c, const sy_window_sum *w, sy_ro_reason *why);

#endif
