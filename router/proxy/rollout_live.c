/* rollout_live.c - the rollout as serve runs it (see rollout_live.h). */
#include "rollout_live.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "controller.h"
#include "counting.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "shards.h"
#include "store.h"

#define STORE_KEY "rollout"
#define NS_PER_MS 1000000ull
enum { ARM_STABLE = 0, ARM_CANARY = 1 };

/* One arm's window figures, as /admin/status shows them. */
typedef struct arm_figures {
    uint64_t requests, failures, samples;
    double success_rate; /* 0..1; 1 when no request */
    double p95_ms;       /* 0 when no sample */
} arm_figures;

struct sy_rollout {
    pthread_mutex_t mu;        /* the controller, the figures, the policy copy below */
    sy_rollout_ctl ctl;
    sy_arm_shards *shards;
    struct sy_store *store;
    _Atomic int latency_total; /* migration.rollback.latency: total (1) or ttfb (0) */
    int active;                /* the policy has a canary */
    int restored;              /* the store was read */
    int rollback_enabled;
    arm_figures arms[2];       /* at the last tick */
    uint64_t now;              /* the tick's "now", for the controller's reads */
    int has_fleet;             /* several instances: fleet below (rollout_live.h) */
    sy_rollout_fleet fleet;
    uint64_t offset;           /* added to the monotonic clock (0 without a fleet) */
};

/* The rollout's clock: monotonic, shifted to wall-clock alignment in a fleet. */
static uint64_t ro_now(const sy_rollout *r) { return sy_now_ns() + r->offset; }

sy_rollout *sy_rollout_new(struct sy_store *store)
{
    sy_rollout *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->shards = sy_arm_shards_new((uint64_t)SY_RO_DEFAULT_WINDOW_MS * NS_PER_MS);
    if (!r->shards) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    sy_ro_init(&r->ctl);
    r->store = store;
    for (int a = 0; a < 2; a++) r->arms[a].success_rate = 1;
    return r;
}

void sy_rollout_free(sy_rollout *r)
{
    if (!r) return;
    sy_arm_shards_free(r->shards);
    sy_ro_free(&r->ctl);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ------------------------------------------------------------ observer */

static void on_attempt(void *ctx, const sy_attempt_event *e)
{
    sy_rollout *r = ctx;
    int arm, failed;
    uint64_t latency;
    int total = atomic_load_explicit(&r->latency_total, memory_order_relaxed);
    if (sy_ro_count_attempt(e, total, &arm, &failed, &latency))
        sy_arm_shards_add(r->shards, arm, e->end_ns + r->offset, failed, latency);
}

int sy_rollout_observe(sy_rollout *r, sy_router *router)
{
    sy_router_set_rollout(router, r);
    return sy_router_add_observer(router, (sy_observer){on_attempt, NULL, NULL, r});
}

/* ------------------------------------------------------------ changes */

static void collect_canary(void *ctx, uint64_t since, sy_window_sum *out)
{
    sy_rollout *r = ctx;
    sy_arm_shards_collect(r->shards, ARM_CANARY, r->now, since, out);
    if (r->has_fleet) r->fleet.collect(r->fleet.ctx, ARM_CANARY, r->now, since, out);
}

/* Act on what the controller did. Under r->mu. */
static void apply_change(sy_rollout *r, const sy_ro_change *ch)
{
    if (ch->log[0]) {
        if (ch->rollback) sy_log_warn("%s", ch->log);
        else sy_log_info("%s", ch->log);
    }
    if (ch->changed) sy_runtime_set_percent(r->ctl.share);
    /* In a fleet the rollback is counted by the instance whose write decided it. */
    if (ch->rollback && !r->has_fleet) sy_metrics_inc_rollbacks(r->ctl.reason.kind);
    if (r->has_fleet && (ch->changed || ch->persist)) r->fleet.changed(r->fleet.ctx, &r->ctl, ch);
    if (ch->persist && r->store) {
        char *json = sy_ro_encode(&r->ctl);
        if (!json || sy_store_put(r->store, STORE_KEY, json) != 0)
            sy_log_error("rollout: out of memory recording the state; it is not persisted");
        free(json);
    }
}

static void figures(sy_rollout *r, int arm, uint64_t now, uint64_t since)
{
    sy_window_sum w;
    sy_window_sum_clear(&w);
    sy_arm_shards_collect(r->shards, arm, now, since, &w);
    if (r->has_fleet) r->fleet.collect(r->fleet.ctx, arm, now, since, &w);
    arm_figures *f = &r->arms[arm];
    f->requests = w.attempts;
    f->failures = w.failures;
    f->samples = w.latency.total;
    f->success_rate = sy_window_success_rate(&w);
    f->p95_ms = sy_window_p95_ns(&w) / (double)NS_PER_MS;
}

void sy_rollout_tick(sy_rollout *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t now = r->now = ro_now(r);
    if (r->active) {
        sy_ro_change ch;
        sy_rollout_ctl before = r->ctl; /* shallow: a tick never reallocates id or steps */
        sy_ro_tick(&r->ctl, now, sy_wall_s(), collect_canary, r, &ch);
        if (r->has_fleet && ch.changed && !ch.rollback) {
            /* A promotion: the fleet proposes it to Redis; applied once written. */
            char hold[sizeof r->ctl.hold];
            r->fleet.promote(r->fleet.ctx, &r->ctl, &ch, hold, sizeof hold);
            r->ctl = before;
            memcpy(r->ctl.hold, hold, sizeof hold);
        } else {
            apply_change(r, &ch);
        }
    }
    /* The canary as the rollback rule sees it; stable over the whole window. */
    figures(r, ARM_CANARY, now, r->ctl.watch_since);
    figures(r, ARM_STABLE, now, 0);
    pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------- policy */

int sy_rollout_apply_policy(sy_rollout *r, const sy_policy *p)
{
    pthread_mutex_lock(&r->mu);
    uint64_t now = ro_now(r);
    int64_t wall = sy_wall_s();
    int rc = 0;
    if (!r->restored) {
        r->restored = 1;
        char *json = NULL;
        if (r->store && sy_store_get(r->store, STORE_KEY, &json) == 0) {
            if (sy_ro_restore(&r->ctl, json, now, wall) != 0)
                sy_log_error("rollout: the record in the state file is unreadable; the canary is "
                             "held at 0%% until an operator sets it (POST /admin/rollout)");
            free(json);
        }
    }
    const sy_migration_conf *m = &p->migration;
    r->active = m->enabled;
    r->rollback_enabled = m->rollback.enabled;
    if (!m->enabled) {
        /* No canary: no rollout to run (a stored record waits for one). */
        sy_runtime_set_percent(0);
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    atomic_store(&r->latency_total, m->rollback.latency == SY_LATENCY_TOTAL);
    sy_ro_conf conf;
    sy_ro_conf_from_policy(p, &conf);
    uint64_t was = sy_arm_shards_window(r->shards);
    if (was != conf.window_ns) {
        sy_arm_shards_set_window(r->shards, conf.window_ns);
        if (r->ctl.started)
            sy_log_info("migration.rollback.window changed (%llu ms -> %llu ms): both arms' "
                        "windows start over", (unsigned long long)(was / NS_PER_MS),
                        (unsigned long long)(conf.window_ns / NS_PER_MS));
    }
    sy_ro_change ch;
    if (sy_ro_configure(&r->ctl, &conf, now, wall, &ch) != 0) {
        rc = -1;
    } else {
        apply_change(r, &ch);
        sy_runtime_set_percent(r->ctl.share);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* -------------------------------------------------------------- admin */

int sy_rollout_action(sy_rollout *r, const char *action, double percent, char *err, size_t errlen)
{
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (!r->active) {
        snprintf(err, errlen, "the policy has no migration.canary: there is no rollout to act on");
        rc = -2;
    } else if (r->has_fleet && strcmp(action, "rollback") != 0 && !r->fleet.online(r->fleet.ctx)) {
        /* Only the safe direction without the fleet: it would undo this. */
        snprintf(err, errlen, "the shared state (Redis) is away: only `rollback` is possible until "
                              "it is back (GET /admin/status: shared_state)");
        rc = -3;
    } else {
        sy_ro_change ch;
        rc = sy_ro_action(&r->ctl, action, percent, ro_now(r), sy_wall_s(), &ch, err, errlen);
        if (rc == 0) apply_change(r, &ch);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

const char *sy_rollout_state(sy_rollout *r)
{
    pthread_mutex_lock(&r->mu);
    const char *s = r->active ? sy_ro_state_name(r->ctl.state) : "progressing";
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void add_arm(cJSON *arms, const char *name, const arm_figures *f)
{
    cJSON *a = cJSON_AddObjectToObject(arms, name);
    if (!a) return;
    cJSON_AddNumberToObject(a, "requests", (double)f->requests);
    cJSON_AddNumberToObject(a, "failures", (double)f->failures);
    if (f->requests) cJSON_AddNumberToObject(a, "success_rate", 100.0 * f->success_rate);
    else cJSON_AddNullToObject(a, "success_rate");
    cJSON_AddNumberToObject(a, "latency_samples", (double)f->samples);
    if (f->samples) cJSON_AddNumberToObject(a, "p95_ms", f->p95_ms);
    else cJSON_AddNullToObject(a, "p95_ms");
}

void sy_rollout_status(sy_rollout *r, cJSON *ro)
{
    pthread_mutex_lock(&r->mu);
    const sy_rollout_ctl *c = &r->ctl;
    cJSON_AddStringToObject(ro, "state", r->active ? sy_ro_state_name(c->state) : "progressing");
    if (!r->active) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    cJSON_AddStringToObject(ro, "id", c->id ? c->id : "");
    if (c->state == SY_RO_ROLLED_BACK) cJSON_AddNumberToObject(ro, "resume_percent", c->resume_share);
    cJSON *steps = cJSON_AddArrayToObject(ro, "steps");
    for (size_t i = 0; steps && i < c->n_steps; i++)
        cJSON_AddItemToArray(steps, cJSON_CreateNumber(c->steps[i]));
    double next = c->state == SY_RO_ROLLED_BACK ? -1 : sy_ro_next_step(c);
    if (next >= 0) cJSON_AddNumberToObject(ro, "next_step", next);
    else cJSON_AddNullToObject(ro, "next_step");
    if (c->hold[0]) cJSON_AddStringToObject(ro, "promotion", c->hold);
    else cJSON_AddNullToObject(ro, "promotion");

    cJSON *lc = cJSON_AddObjectToObject(ro, "last_change");
    if (lc) {
        cJSON_AddNumberToObject(lc, "at", (double)c->changed_at);
        cJSON_AddStringToObject(lc, "reason", c->reason.kind);
        cJSON_AddStringToObject(lc, "message", c->reason.text);
        if (c->reason.figures && strcmp(c->reason.kind, "promotion") != 0) {
            cJSON_AddNumberToObject(lc, "value", c->reason.value);
            cJSON_AddNumberToObject(lc, "threshold", c->reason.threshold);
        }
        if (c->reason.figures) {
            cJSON_AddNumberToObject(lc, "requests", (double)c->reason.requests);
            cJSON_AddNumberToObject(lc, "failures", (double)c->reason.failures);
            cJSON_AddNumberToObject(lc, "latency_samples", (double)c->reason.samples);
        }
    }
    cJSON *rb = cJSON_AddObjectToObject(ro, "rollback");
    if (rb) {
        cJSON_AddBoolToObject(rb, "automatic", r->rollback_enabled);
        if (c->success_rate_below > 0)
            cJSON_AddNumberToObject(rb, "success_rate_below", 100.0 * c->success_rate_below);
        if (c->p95_above_ns > 0)
            cJSON_AddNumberToObject(rb, "p95_above_ms", (double)c->p95_above_ns / NS_PER_MS);
        cJSON_AddStringToObject(rb, "latency", atomic_load(&r->latency_total) ? "total" : "ttfb");
        cJSON_AddNumberToObject(rb, "window_ms", (double)(c->window_ns / NS_PER_MS));
        cJSON_AddNumberToObject(rb, "min_requests", (double)c->min_requests);
    }
    cJSON *arms = cJSON_AddObjectToObject(ro, "arms");
    if (arms) {
        add_arm(arms, "stable", &r->arms[ARM_STABLE]);
        add_arm(arms, "canary", &r->arms[ARM_CANARY]);
    }
    pthread_mutex_unlock(&r->mu);
}

/* -------------------------------------------------------------- fleet */

void sy_rollout_set_fleet(sy_rollout *r, const sy_rollout_fleet *f, uint64_t clock_offset_ns)
{
    pthread_mutex_lock(&r->mu);
    r->fleet = *f;
    r->has_fleet = 1;
    r->offset = clock_offset_ns;
    pthread_mutex_unlock(&r->mu);
}

uint64_t sy_rollout_now(sy_rollout *r) { return ro_now(r); }

void sy_rollout_export(sy_rollout *r, uint64_t now, sy_window out[2])
{
    uint64_t len = sy_arm_shards_window(r->shards);
    for (int arm = 0; arm < 2; arm++) {
        sy_window *w = &out[arm];
        sy_window_init(w, len);
        int64_t cur = (int64_t)(now / w->width_ns);
        for (int64_t k = cur - SY_WINDOW_SLOTS; k <= cur; k++) {
            if (k < 0) continue;
            /* "now" at slot k and "since" its start: exactly slot k of every shard. */
            uint64_t at = (uint64_t)k * w->width_ns;
            sy_window_sum sum;
            sy_window_sum_clear(&sum);
            sy_arm_shards_collect(r->shards, arm, at, at, &sum);
            if (!sum.attempts) continue;
            sy_window_slot *sl = &w->slot[k % SY_WINDOW_RING];
            sl->idx = k;
            sl->attempts = (uint32_t)sum.attempts;
            sl->failures = (uint32_t)sum.failures;
            sl->latency = sum.latency;
        }
    }
}

int sy_rollout_snapshot(sy_rollout *r, char **json, uint64_t *watch_since, uint64_t *step_since)
{
    pthread_mutex_lock(&r->mu);
    int ok = r->active && r->ctl.started;
    *json = ok ? sy_ro_encode(&r->ctl) : NULL;
    *watch_since = r->ctl.watch_since;
    *step_since = r->ctl.step_since;
    pthread_mutex_unlock(&r->mu);
    return *json ? 0 : -1;
}

int sy_rollout_adopt(sy_rollout *r, const char *json, uint64_t watch_since, uint64_t step_since)
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    pthread_mutex_lock(&r->mu);
    int rc = 1;
    if (r->active && r->ctl.started && cJSON_IsString(id) && r->ctl.id &&
        !strcmp(id->valuestring, r->ctl.id) && !(r->has_fleet && r->fleet.busy(r->fleet.ctx))) {
        uint64_t now = ro_now(r);
        double share = r->ctl.share;
        sy_ro_state state = r->ctl.state;
        int64_t changed_at = r->ctl.changed_at;
        char *keep_id = strdup(r->ctl.id);
        if (sy_ro_restore(&r->ctl, json, now, sy_wall_s()) != 0 && keep_id && !r->ctl.id) {
            /* A damaged record holds the canary at 0 (restore says so); the
             * rollout stays this policy's. */
            r->ctl.id = keep_id;
            keep_id = NULL;
        }
        free(keep_id);
        r->ctl.damaged = 0;
        if (watch_since && watch_since <= now) r->ctl.watch_since = watch_since;
        if (step_since && step_since <= now) r->ctl.step_since = step_since;
        r->ctl.hold[0] = '\0';
        sy_runtime_set_percent(r->ctl.share);
        if (share != r->ctl.share || state != r->ctl.state || changed_at != r->ctl.changed_at)
            sy_log_info("rollout (fleet): %.4g%%, %s: %s", r->ctl.share,
                        sy_ro_state_name(r->ctl.state), r->ctl.reason.text);
        if (r->store) {
            char *text = sy_ro_encode(&r->ctl);
            if (!text || sy_store_put(r->store, STORE_KEY, text) != 0)
                sy_log_error("rollout: out of memory recording the state; it is not persisted");
            free(text);
        }
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    cJSON_Delete(j);
    return rc;
}
