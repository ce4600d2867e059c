/* controller.c - rollback, promotion and admin actions (see controller.h). */
#include "controller.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000.0
#define P95_EXCESS 0.05 /* P95 above T <=> more than 5 % of samples above T */

static const char *const state_names[] = {
    [SY_RO_PROGRESSING] = "progressing",
    [SY_RO_PAUSED] = "paused",
    [SY_RO_ROLLED_BACK] = "rolled_back",
    [SY_RO_COMPLETE] = "complete",
};

const char *sy_ro_state_name(sy_ro_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

int sy_ro_state_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof state_names / sizeof *state_names; i++)
        if (!strcmp(name, state_names[i])) return (int)i;
    return -1;
}

void sy_ro_init(sy_rollout_ctl *c)
{
    memset(c, 0, sizeof *c);
    c->window_ns = 300 * NS_PER_S;
    c->min_requests = 200;
}

void sy_ro_free(sy_rollout_ctl *c)
{
    free(c->id);
    free(c->steps);
    c->id = NULL;
    c->steps = NULL;
}

/* ------------------------------------------------------------ helpers */

static void say(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* A reason without window figures. */
static void reason_set(sy_rollout_ctl *c, const char *kind, int64_t wall, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reason_set(sy_rollout_ctl *c, const char *kind, int64_t wall, const char *fmt, ...)
{
    memset(&c->reason, 0, sizeof c->reason);
    snprintf(c->reason.kind, sizeof c->reason.kind, "%s", kind);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason.text, sizeof c->reason.text, fmt, ap);
    va_end(ap);
    c->changed_at = wall;
}

static sy_ro_state state_for_share(const sy_rollout_ctl *c)
{
    return c->n_steps && c->share >= c->steps[c->n_steps - 1] ? SY_RO_COMPLETE : SY_RO_PROGRESSING;
}

/* The index of the highest step at or below the share, or -1. */
static int step_index(const sy_rollout_ctl *c)
{
    int i = -1;
    for (size_t k = 0; k < c->n_steps; k++)
        if (c->steps[k] <= c->share) i = (int)k;
    return i;
}

double sy_ro_next_step(const sy_rollout_ctl *c)
{
    for (size_t k = 0; k < c->n_steps; k++)
        if (c->steps[k] > c->share) return c->steps[k];
    return -1;
}

static void change_begin(const sy_rollout_ctl *c, sy_ro_change *out)
{
    memset(out, 0, sizeof *out);
    out->from = out->to = c->share;
}

static void change_end(const sy_rollout_ctl *c, sy_ro_change *out)
{
    out->to = c->share;
    if (out->changed) {
        out->persist = 1;
        snprintf(out->log, sizeof out->log, "%s", c->reason.text);
    }
}

/* ------------------------------------------------------ the rollback rule */

int sy_ro_should_roll_back(const sy_rollout_ctl *c, const sy_window_sum *w, sy_ro_reason *why)
{
    memset(why, 0, sizeof *why);
    if (c->success_rate_below > 0 && w->attempts >= c->min_requests) {
        uint64_t ok = w->attempts - w->failures;
        double upper = sy_wilson_upper((double)ok, w->attempts, SY_ROLLBACK_Z);
        if (upper < c->success_rate_below) {
            snprintf(why->kind, sizeof why->kind, "success_rate");
            why->figures = 1;
            why->value = 100.0 * (double)ok / (double)w->attempts;
            why->threshold = 100.0 * c->success_rate_below;
            why->requests = w->attempts;
            why->failures = w->failures;
            why->samples = w->latency.total;
            snprintf(why->text, sizeof why->text,
                     "canary success rate %.2f%% (%llu failed of %llu attempts in the window) is "
                     "below success_rate_below %.2f%%: at 99.9%% confidence the true rate is at "
                     "most %.2f%%",
                     why->value, (unsigned long long)w->failures, (unsigned long long)w->attempts,
                     why->threshold, 100.0 * upper);
            return 1;
        }
    }
    if (c->p95_above_ns > 0 && w->latency.total >= c->min_requests) {
        uint64_t n = w->latency.total;
        double above = sy_hist_count_above(&w->latency, c->p95_above_ns);
        double lower = sy_wilson_lower(above, n, SY_ROLLBACK_Z);
        if (lower > P95_EXCESS) {
            snprintf(why->kind, sizeof why->kind, "p95");
            why->figures = 1;
            why->value = sy_window_p95_ns(w) / NS_PER_MS;
            why->threshold = (double)c->p95_above_ns / NS_PER_MS;
            why->requests = w->attempts;
            why->failures = w->failures;
            why->samples = n;
            why->above = above;
            snprintf(why->text, sizeof why->text,
                     "canary P95 latency %.0f ms is above p95_above %.0f ms: %.0f of %llu latency "
                     "samples in the window are above it; at 99.9%% confidence more than 5%% are",
                     why->value, why->threshold, above, (unsigned long long)n);
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the tick */

/* Is the window since the step began good enough to move up? "" when it
 * is, else why not in c->hold. */
static int promotion_ready(sy_rollout_ctl *c, const sy_window_sum *w)
{
    if (w->attempts < c->min_requests) {
        say(c->hold, sizeof c->hold,
            "waiting for data: %llu of min_requests %llu canary attempts in the window at this step",
            (unsigned long long)w->attempts, (unsigned long long)c->min_requests);
        return 0;
    }
    double rate = sy_window_success_rate(w);
    if (c->success_rate_below > 0 && rate < c->success_rate_below) {
        say(c->hold, sizeof c->hold,
            "held: the canary's success rate at this step, %.2f%%, is below %.2f%%", 100 * rate,
            100 * c->success_rate_below);
        return 0;
    }
    if (c->p95_above_ns > 0) {
        if (w->latency.total < c->min_requests) {
            say(c->hold, sizeof c->hold,
                "waiting for data: %llu of min_requests %llu latency samples at this step",
                (unsigned long long)w->latency.total, (unsigned long long)c->min_requests);
            return 0;
        }
        double p95 = sy_window_p95_ns(w);
        if (p95 > (double)c->p95_above_ns) {
            say(c->hold, sizeof c->hold, "held: the canary's P95 at this step, %.0f ms, is above %.0f ms",
                p95 / NS_PER_MS, (double)c->p95_above_ns / NS_PER_MS);
            return 0;
        }
    }
    return 1;
}

void sy_ro_tick(sy_rollout_ctl *c, uint64_t now, int64_t wall, sy_ro_collect collect, void *ctx,
                sy_ro_change *out)
{
    change_begin(c, out);
    if (!c->started) return;
    if (c->state != SY_RO_ROLLED_BACK && c->share > 0) {
        sy_window_sum w;
        sy_window_sum_clear(&w);
        collect(ctx, c->watch_since, &w);
        sy_ro_reason why;
        if (sy_ro_should_roll_back(c, &w, &why)) {
            c->resume_share = c->share;
            c->share = 0;
            c->state = SY_RO_ROLLED_BACK;
            c->reason = why;
            c->changed_at = wall;
            c->hold[0] = '\0';
            out->changed = out->rollback = 1;
            change_end(c, out);
            snprintf(out->log, sizeof out->log, "rollout rolled back (%.4g%% -> 0%%): %s",
                     out->from, c->reason.text);
            return;
        }
    }
    double next = sy_ro_next_step(c);
    if (c->state != SY_RO_PROGRESSING || next < 0) {
        c->hold[0] = '\0';
        return;
    }
    uint64_t due = c->step_after_ns > c->window_ns ? c->step_after_ns : c->window_ns;
    if (now - c->step_since < due) {
        say(c->hold, sizeof c->hold, "next step %.4g%% in %.0f s at the earliest", next,
            (double)(due - (now - c->step_since)) / NS_PER_S);
        return;
    }
    sy_window_sum w;
    sy_window_sum_clear(&w);
    collect(ctx, c->step_since, &w);
    if (!promotion_ready(c, &w)) return;
    c->hold[0] = '\0';
    double from = c->share;
    c->share = next;
    c->state = state_for_share(c);
    c->step_since = now;
    c->step_started_at = wall;
    memset(&c->reason, 0, sizeof c->reason);
    snprintf(c->reason.kind, sizeof c->reason.kind, "promotion");
    c->reason.figures = 1;
    c->reason.requests = w.attempts;
    c->reason.failures = w.failures;
    c->reason.samples = w.latency.total;
    c->reason.value = 100.0 * sy_window_success_rate(&w);
    c->reason.threshold = 100.0 * c->success_rate_below;
    double p95 = sy_window_p95_ns(&w) / NS_PER_MS;
    snprintf(c->reason.text, sizeof c->reason.text,
             "promoted %.4g%% -> %.4g%%%s: the last window at %.4g%% held %llu canary attempts, "
             "success rate %.2f%%, P95 %.0f ms",
             from, next, c->state == SY_RO_COMPLETE ? " (the last step: complete)" : "", from,
             (unsigned long long)w.attempts, c->reason.value, p95);
    c->changed_at = wall;
    out->changed = 1;
    change_end(c, out);
}

/* ------------------------------------------------------ admin actions */

int sy_ro_action(sy_rollout_ctl *c, const char *action, double percent, uint64_t now, int64_t wall,
                 sy_ro_change *out, char *err, size_t errlen)
{
    change_begin(c, out);
    if (!strcmp(action, "rollback")) {
        if (c->state == SY_RO_ROLLED_BACK) return 0; /* already: nothing to count */
        c->resume_share = c->share;
        c->share = 0;
        c->state = SY_RO_ROLLED_BACK;
        reason_set(c, "admin", wall, "rolled back by the admin API (%.4g%% -> 0%%); `resume` "
                   "returns to %.4g%%", c->resume_share, c->resume_share);
        out->rollback = 1;
    } else if (!strcmp(action, "pause")) {
        if (c->state == SY_RO_ROLLED_BACK) {
            snprintf(err, errlen, "the rollout is rolled back (share 0%%): `resume` or `set` "
                                  "re-enables it");
            return -2;
        }
        if (c->state == SY_RO_PAUSED) return 0;
        c->state = SY_RO_PAUSED;
        reason_set(c, "admin", wall, "paused by the admin API at %.4g%%: no promotion until "
                   "`resume` (automatic rollback still watches)", c->share);
    } else if (!strcmp(action, "resume")) {
        if (c->state == SY_RO_PAUSED) {
            c->state = state_for_share(c);
            reason_set(c, "admin", wall, "resumed by the admin API at %.4g%%", c->share);
        } else if (c->state == SY_RO_ROLLED_BACK) {
            c->share = c->resume_share;
            c->state = state_for_share(c);
            c->watch_since = now; /* the window that rolled it back is not held against it */
            reason_set(c, "admin", wall, "resumed by the admin API after a rollback: back to %.4g%%",
                       c->share);
        } else {
            return 0;
        }
        c->step_since = now;
        c->step_started_at = wall;
    } else if (!strcmp(action, "set")) {
        if (!(percent >= 0 && percent <= 100)) {
            snprintf(err, errlen, "percent must be between 0 and 100");
            return -1;
        }
        double was = c->share;
        c->share = percent;
        if (c->state == SY_RO_ROLLED_BACK) c->watch_since = now;
        if (c->state != SY_RO_PAUSED) c->state = state_for_share(c);
        c->step_since = now;
        c->step_started_at = wall;
        reason_set(c, "admin", wall, "set to %.4g%% by the admin API (was %.4g%%)", percent, was);
    } else {
        snprintf(err, errlen, "unknown action '%.32s' (want rollback, pause, resume or set)", action);
        return -1;
    }
    c->hold[0] = '\0';
    out->changed = 1;
    change_end(c, out);
    return 0;
}

/* --------------------------------------------------------- the policy */

static int copy_conf(sy_rollout_ctl *c, const sy_ro_conf *conf)
{
    double *steps = NULL;
    if (conf->n_steps) {
        steps = malloc(conf->n_steps * sizeof *steps);
        if (!steps) return -1;
        memcpy(steps, conf->steps, conf->n_steps * sizeof *steps);
    }
    free(c->steps);
    c->steps = steps;
    c->n_steps = conf->n_steps;
    c->percent = conf->percent;
    c->step_after_ns = conf->step_after_ns;
    c->success_rate_below = conf->success_rate_below;
    c->p95_above_ns = conf->p95_above_ns;
    c->window_ns = conf->window_ns ? conf->window_ns : 300 * NS_PER_S;
    c->min_requests = conf->min_requests ? conf->min_requests : 1;
    return 0;
}

int sy_ro_configure(sy_rollout_ctl *c, const sy_ro_conf *conf, uint64_t now, int64_t wall,
                    sy_ro_change *out)
{
    change_begin(c, out);
    const char *id = conf->id ? conf->id : "";
    int fresh = !c->damaged && (!c->id || strcmp(c->id, id) != 0);
    char *old_id = c->id;
    c->id = strdup(id);
    if (!c->id || copy_conf(c, conf) != 0) {
        free(c->id);
        c->id = old_id;
        return -1;
    }
    int restoring = !c->started;
    c->started = 1;
    c->damaged = 0;
    char restored[240] = "", note[240] = "";

    if (fresh) {
        c->share = c->resume_share = conf->percent;
        c->state = state_for_share(c);
        c->policy_percent = conf->percent;
        c->step_since = c->watch_since = now;
        c->step_started_at = wall;
        if (old_id)
            reason_set(c, "start", wall, "rollout %s starts at %.4g%% (a new rollout id: the state "
                       "of rollout %s is dropped)", id, c->share, old_id);
        else
            reason_set(c, "start", wall, "rollout %s starts at %.4g%%", id, c->share);
        out->changed = 1;
    } else {
        if (restoring) {
            /* After a restart: the windows are empty; the step keeps the
             * time it already spent (by the wall clock). */
            int64_t spent_s = wall > c->step_started_at ? wall - c->step_started_at : 0;
            uint64_t spent = (uint64_t)spent_s * NS_PER_S;
            c->step_since = spent < now ? now - spent : 0;
            c->watch_since = now;
            say(restored, sizeof restored, "rollout %s restored from the state file: %.4g%%, %s "
                "(last change: %.120s)", id, c->share, sy_ro_state_name(c->state), c->reason.text);
        }
        if (conf->percent != c->policy_percent) {
            double was = c->policy_percent;
            c->policy_percent = conf->percent;
            out->persist = 1;
            if (c->state == SY_RO_ROLLED_BACK) {
                say(note, sizeof note, "rollout.percent changed in the policy (%.4g%% -> %.4g%%), "
                    "but the rollout is rolled back: it stays at 0%% until `resume` or `set`",
                    was, conf->percent);
            } else {
                double share = c->share;
                c->share = conf->percent;
                c->step_since = now;
                c->step_started_at = wall;
                if (c->state != SY_RO_PAUSED) c->state = state_for_share(c);
                reason_set(c, "policy", wall, "rollout.percent changed in the policy: %.4g%% "
                           "(the share was %.4g%%)", c->share, share);
                snprintf(note, sizeof note, "%.200s", c->reason.text);
                out->changed = 1;
            }
        }
        /* Steps may have changed: complete or not is the share's to say. */
        if (c->state == SY_RO_PROGRESSING || c->state == SY_RO_COMPLETE) {
            sy_ro_state s = state_for_share(c);
            if (s != c->state) {
                c->state = s;
                out->persist = 1;
            }
        }
    }
    free(old_id);
    c->hold[0] = '\0';
    change_end(c, out);
    if (!fresh)
        snprintf(out->log, sizeof out->log, "%s%s%s", restored, restored[0] && note[0] ? "; " : "",
                 note);
    return 0;
}

/* ------------------------------------------------------ the record */

char *sy_ro_encode(const sy_rollout_ctl *c)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "id", c->id ? c->id : "");
    cJSON_AddNumberToObject(j, "share", c->share);
    cJSON_AddNumberToObject(j, "step", step_index(c));
    cJSON_AddStringToObject(j, "state", sy_ro_state_name(c->state));
    cJSON_AddNumberToObject(j, "resume_share", c->resume_share);
    cJSON_AddNumberToObject(j, "policy_percent", c->policy_percent);
    cJSON_AddNumberToObject(j, "changed_at", (double)c->changed_at);
    cJSON_AddNumberToObject(j, "step_started_at", (double)c->step_started_at);
    cJSON *r = cJSON_AddObjectToObject(j, "reason");
    if (r) {
        cJSON_AddStringToObject(r, "kind", c->reason.kind);
        cJSON_AddStringToObject(r, "text", c->reason.text);
        if (c->reason.figures) {
            cJSON_AddNumberToObject(r, "value", c->reason.value);
            cJSON_AddNumberToObject(r, "threshold", c->reason.threshold);
            cJSON_AddNumberToObject(r, "requests", (double)c->reason.requests);
            cJSON_AddNumberToObject(r, "failures", (double)c->reason.failures);
            cJSON_AddNumberToObject(r, "samples", (double)c->reason.samples);
            cJSON_AddNumberToObject(r, "above", c->reason.above);
        }
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

static int num(const cJSON *o, const char *k, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) return -1;
    *v = x->valuedouble;
    return 0;
}

static void str(const cJSON *o, const char *k, char *buf, size_t cap)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(buf, cap, "%s", cJSON_IsString(x) ? x->valuestring : "");
}

int sy_ro_restore(sy_rollout_ctl *c, const char *json, uint64_t now, int64_t wall)
{
    cJSON *j = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
    int state = cJSON_IsString(st) ? sy_ro_state_parse(st->valuestring) : -1;
    double share, resume, policy_percent, changed_at, step_started_at;
    if (!cJSON_IsString(id) || state < 0 || num(j, "share", &share) || !(share >= 0 && share <= 100) ||
        num(j, "resume_share", &resume) || !(resume >= 0 && resume <= 100) ||
        num(j, "policy_percent", &policy_percent) || num(j, "changed_at", &changed_at) ||
        num(j, "step_started_at", &step_started_at)) {
        cJSON_Delete(j);
        /* Never guess a canary back on: hold it at 0 for an operator. */
        free(c->id);
        c->id = NULL;
        c->damaged = 1;
        c->share = 0;
        c->state = SY_RO_ROLLED_BACK;
        c->resume_share = 0;
        c->watch_since = c->step_since = now;
        reason_set(c, "restart", wall, "the rollout record in the state file is unreadable: held "
                   "at 0%% to be safe; `set` re-enables the canary");
        return -1;
    }
    free(c->id);
    c->id = strdup(id->valuestring);
    c->damaged = c->id == NULL; /* out of memory: as unreadable */
    c->share = c->damaged ? 0 : share;
    c->state = c->damaged ? SY_RO_ROLLED_BACK : (sy_ro_state)state;
    c->resume_share = resume;
    c->policy_percent = policy_percent;
    c->changed_at = (int64_t)changed_at;
    c->step_started_at = (int64_t)step_started_at;
    memset(&c->reason, 0, sizeof c->reason);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reason");
    str(r, "kind", c->reason.kind, sizeof c->reason.kind);
    str(r, "text", c->reason.text, sizeof c->reason.text);
    double v;
    if (num(r, "value", &v) == 0) {
        c->reason.figures = 1;
        c->reason.value = v;
        if (num(r, "threshold", &v) == 0) c->reason.threshold = v;
        if (num(r, "requests", &v) == 0 && v >= 0) c->reason.requests = (uint64_t)v;
        if (num(r, "failures", &v) == 0 && v >= 0) c->reason.failures = (uint64_t)v;
        if (num(r, "samples", &v) == 0 && v >= 0) c->reason.samples = (uint64_t)v;
        if (num(r, "above", &v) == 0) c->reason.above = v;
    }
    c->watch_since = c->step_since = now;
    cJSON_Delete(j);
    return c->damaged ? -1 : 0;
}
