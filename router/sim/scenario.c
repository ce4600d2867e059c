/* scenario.c - reading and checking a simulate scenario (see scenario.h). */
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "units.h"
#include "yaml_tree.h"

#define PATH_MAX_LEN 256

typedef struct ctx {
    sy_diags *d;
    sy_scenario *s;
} ctx;

static char *xstrdup(const char *s)
{
    char *r = strdup(s ? s : "");
    if (!r) abort(); /* out of memory while reading a small file: nothing sensible to do */
    return r;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}

/* A value as the user wrote it, short enough for a message. */
static const char *shown(const sy_ynode *v)
{
    if (v->kind != SY_YSCALAR) return sy_ynode_kind_name(v->kind);
    return v->str ? v->str : "";
}

/* ------------------------------------------------------------ scalars */

static int want_scalar(ctx *c, const sy_ynode *v, const char *path, const char *what)
{
    if (v->kind == SY_YSCALAR && !(v->is_null && !v->quoted)) return 1;
    if (v->kind == SY_YSCALAR)
        sy_error(c->d, v->loc, "`%s`: expected %s, got nothing", path, what);
    else
        sy_error(c->d, v->loc, "`%s`: expected %s, got %s", path, what,
                 sy_ynode_kind_name(v->kind));
    return 0;
}

static int get_duration(ctx *c, const sy_ynode *v, const char *path, int64_t *out)
{
    if (!want_scalar(c, v, path, "a duration, e.g. 10m")) return -1;
    const char *why = NULL;
    if (sy_parse_duration_ms(v->str, out, &why) != 0) {
        sy_error(c->d, v->loc, "`%s`: `%.60s` is not a duration (%s); write e.g. 500ms, 30s, 10m, 1h",
                 path, v->str, why ? why : "bad value");
        return -1;
    }
    return 0;
}

/* A share: a number in 0..1 or a percentage "5%". */
static int get_share(ctx *c, const sy_ynode *v, const char *path, double *out)
{
    if (!want_scalar(c, v, path, "a share between 0 and 1, e.g. 0.05, or a percentage, e.g. 5%"))
        return -1;
    const char *why = NULL;
    size_t n = strlen(v->str);
    double x;
    if (n && v->str[n - 1] == '%') {
        if (sy_parse_percent(v->str, &x, &why) == 0) {
            *out = x / 100.0;
            return 0;
        }
    } else if (sy_parse_number(v->str, &x, &why) == 0 && x >= 0 && x <= 1) {
        *out = x;
        return 0;
    }
    sy_error(c->d, v->loc,
             "`%s`: `%.60s` is not a share: write a number between 0 and 1 (0.05) or a "
             "percentage (5%%)",
             path, v->str);
    return -1;
}

static int get_number(ctx *c, const sy_ynode *v, const char *path, double lo, double *out)
{
    if (!want_scalar(c, v, path, "a number")) return -1;
    const char *why = NULL;
    double x;
    if (sy_parse_number(v->str, &x, &why) != 0 || !isfinite(x) || x <= lo) {
        sy_error(c->d, v->loc, "`%s`: `%.60s` must be a number above %g", path, v->str, lo);
        return -1;
    }
    *out = x;
    return 0;
}

static int get_int(ctx *c, const sy_ynode *v, const char *path, int64_t lo, int64_t hi,
                   int64_t *out)
{
    if (!want_scalar(c, v, path, "a whole number")) return -1;
    const char *why = NULL;
    int64_t x;
    if (sy_parse_int(v->str, &x, &why) != 0 || x < lo || x > hi) {
        sy_error(c->d, v->loc, "`%s`: `%.60s` must be a whole number from %lld to %lld", path,
                 v->str, (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* -------------------------------------------------------------- maps */

/* Report every key of map not in valid (NULL-terminated); 1 when the map is
 * a mapping (or an empty value), else an error and 0. */
static int check_keys(ctx *c, const sy_ynode *map, const char *path, const char *const *valid)
{
    if (map->kind != SY_YMAP) {
        sy_error(c->d, map->loc, "`%s`: expected a mapping, got %s", path,
                 map->kind == SY_YSCALAR ? "a scalar" : sy_ynode_kind_name(map->kind));
        return 0;
    }
    char list[300] = "";
    for (size_t i = 0; valid[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, valid[i], sizeof list - strlen(list) - 1);
    }
    for (size_t i = 0; i < map->n_pairs; i++) {
        const sy_ynode *k = map->pairs[i].key;
        const char *name = k->str ? k->str : "";
        int known = 0;
        for (size_t j = 0; valid[j] && !known; j++) known = !strcmp(name, valid[j]);
        if (known) continue;
        const char *near = sy_nearest(name, valid);
        if (near)
            sy_error(c->d, k->loc, "`%s`: unknown key `%.60s`; did you mean `%s`? Valid keys here: %s",
                     path, name, near, list);
        else
            sy_error(c->d, k->loc, "`%s`: unknown key `%.60s`; valid keys here: %s", path, name,
                     list);
    }
    return 1;
}

/* ------------------------------------------------------------ traffic */

static void read_models(ctx *c, const sy_ynode *v)
{
    sy_scenario *s = c->s;
    if (v->kind != SY_YMAP || v->n_pairs == 0) {
        sy_error(c->d, v->loc,
                 "`traffic.models`: expected a mapping of models to weights, e.g. "
                 "{gpt-4.1: 0.8, gpt-4o-mini: 0.2}");
        return;
    }
    s->models = xcalloc(v->n_pairs, sizeof *s->models);
    for (size_t i = 0; i < v->n_pairs; i++) {
        const sy_ynode *k = v->pairs[i].key, *w = v->pairs[i].value;
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "traffic.models.%.100s", k->str ? k->str : "");
        if (!k->str || !*k->str) {
            sy_error(c->d, k->loc, "`traffic.models`: a model needs a name");
            continue;
        }
        double weight;
        if (get_number(c, w, path, 0, &weight) != 0) continue;
        sy_scn_model *m = &s->models[s->n_models++];
        m->name = xstrdup(k->str);
        m->weight = weight;
        m->loc = k->loc;
    }
}

static void read_traffic(ctx *c, const sy_ynode *v)
{
    static const char *const keys[] = {"rate", "users", "models", "stream_share", NULL};
    sy_scenario *s = c->s;
    s->traffic_loc = v->loc;
    if (!check_keys(c, v, "traffic", keys)) return;
    s->has_traffic = 1;
    s->users = SY_SCN_DEFAULT_USERS;
    const sy_ynode *rate = sy_ymap_get(v, "rate"), *users = sy_ymap_get(v, "users");
    const sy_ynode *models = sy_ymap_get(v, "models"), *share = sy_ymap_get(v, "stream_share");
    /* rate and models may be left out with --replay: sy_scenario_check. */
    s->rate_given = rate != NULL;
    s->models_given = models != NULL;
    if (rate) get_number(c, rate, "traffic.rate", 0, &s->rate);
    if (users) get_int(c, users, "traffic.users", 1, 1000000000, &s->users);
    if (models) read_models(c, models);
    if (share) get_share(c, share, "traffic.stream_share", &s->stream_share);
}

/* ----------------------------------------------------------- outcomes */

static void read_latency(ctx *c, const sy_ynode *v, const char *path, sy_scn_piece *p)
{
    static const char *const keys[] = {"p50", "p95", NULL};
    if (!check_keys(c, v, path, keys)) return;
    char sub[PATH_MAX_LEN + 32];
    const sy_ynode *p50 = sy_ymap_get(v, "p50"), *p95 = sy_ymap_get(v, "p95");
    if (!p50 && !p95) sy_error(c->d, v->loc, "`%s` needs `p50`, `p95` or both", path);
    snprintf(sub, sizeof sub, "%s.p50", path);
    if (p50 && get_duration(c, p50, sub, &p->p50_ms) == 0) p->set |= SY_SCN_P50;
    snprintf(sub, sizeof sub, "%s.p95", path);
    if (p95 && get_duration(c, p95, sub, &p->p95_ms) == 0) p->set |= SY_SCN_P95;
}

static void read_piece(ctx *c, const sy_ynode *v, const char *path, sy_scn_piece *p)
{
    static const char *const keys[] = {"from",    "error_rate",   "status",   "retry_after",
                                       "latency", "timeout_rate", "cut_rate", "outage",
                                       NULL};
    p->loc = v->loc;
    p->from_ms = -1;
    if (!check_keys(c, v, path, keys)) return;
    char sub[PATH_MAX_LEN + 16];
    const sy_ynode *n;
#define SUB(key) (snprintf(sub, sizeof sub, "%s.%s", path, key), sub)
    if (!(n = sy_ymap_get(v, "from")))
        sy_error(c->d, v->loc, "`%s` needs `from` (when the piece starts, e.g. 10m)", path);
    else if (get_duration(c, n, SUB("from"), &p->from_ms) != 0)
        p->from_ms = -1;
    if ((n = sy_ymap_get(v, "error_rate")) && get_share(c, n, SUB("error_rate"), &p->error_rate) == 0)
        p->set |= SY_SCN_ERROR_RATE;
    if ((n = sy_ymap_get(v, "status"))) {
        int64_t st;
        if (get_int(c, n, SUB("status"), 400, 599, &st) == 0) {
            p->status = (int)st;
            p->set |= SY_SCN_STATUS;
        }
    }
    if ((n = sy_ymap_get(v, "retry_after")) &&
        get_duration(c, n, SUB("retry_after"), &p->retry_after_ms) == 0)
        p->set |= SY_SCN_RETRY_AFTER;
    if ((n = sy_ymap_get(v, "latency"))) read_latency(c, n, SUB("latency"), p);
    if ((n = sy_ymap_get(v, "timeout_rate")) &&
        get_share(c, n, SUB("timeout_rate"), &p->timeout_rate) == 0)
        p->set |= SY_SCN_TIMEOUT_RATE;
    if ((n = sy_ymap_get(v, "cut_rate")) && get_share(c, n, SUB("cut_rate"), &p->cut_rate) == 0)
        p->set |= SY_SCN_CUT_RATE;
    if ((n = sy_ymap_get(v, "outage")) && get_duration(c, n, SUB("outage"), &p->outage_ms) == 0 &&
        p->outage_ms <= 0) {
        sy_error(c->d, n->loc, "`%s`: an outage lasts longer than 0", SUB("outage"));
        p->outage_ms = 0;
    }
#undef SUB
    if (p->set == 0 && p->outage_ms == 0 && v->n_pairs == 1 && p->from_ms >= 0)
        sy_warning(c->d, v->loc, "`%s` sets nothing but `from`", path);
}

/* The pieces of one list, in order, each checked against the one before:
 * `from` ascending, and the latency they add up to has p50 <= p95. */
static void check_pieces(ctx *c, const sy_scn_target *t, const char *name)
{
    int64_t p50 = -1, p95 = -1, last_from = -1;
    for (size_t i = 0; i < t->n_pieces; i++) {
        const sy_scn_piece *p = &t->pieces[i];
        if (p->from_ms >= 0 && p->from_ms <= last_from)
            sy_error(c->d, p->loc,
                     "`outcomes.%s[%zu]`: pieces go by `from`, ascending: this one starts at or "
                     "before the one above it",
                     name, i);
        if (p->from_ms > last_from) last_from = p->from_ms;
        if (p->set & SY_SCN_P50) p50 = p->p50_ms;
        if (p->set & SY_SCN_P95) p95 = p->p95_ms;
        int64_t e50 = p50 >= 0 ? p50 : SY_SCN_DEFAULT_P50_MS;
        int64_t e95 = p95 >= 0 ? p95 : SY_SCN_DEFAULT_P95_MS;
        if ((p->set & (SY_SCN_P50 | SY_SCN_P95)) && e95 < e50) {
            char a[32], b[32];
            sy_error(c->d, p->loc,
                     "`outcomes.%s[%zu].latency`: p95 (%s) is below p50 (%s)%s", name, i,
                     sy_format_duration(e95, a, sizeof a), sy_format_duration(e50, b, sizeof b),
                     (p->set & (SY_SCN_P50 | SY_SCN_P95)) == (SY_SCN_P50 | SY_SCN_P95)
                         ? ""
                         : " (a piece keeps the value the pieces before it set, or the default "
                           "100ms / 250ms)");
        }
    }
}

static void read_target(ctx *c, const sy_ynode *k, const sy_ynode *v)
{
    sy_scenario *s = c->s;
    const char *name = k->str ? k->str : "";
    const char *slash = strchr(name, '/');
    if (!*name || slash == name || (slash && (!slash[1] || strchr(slash + 1, '/')))) {
        sy_error(c->d, k->loc,
                 "`outcomes`: `%.60s` is not a provider or provider/endpoint name", name);
        return;
    }
    sy_scn_target *t = &s->targets[s->n_targets++];
    t->loc = k->loc;
    if (slash) {
        t->provider = xstrdup(name);
        t->provider[slash - name] = '\0';
        t->endpoint = xstrdup(slash + 1);
    } else {
        t->provider = xstrdup(name);
    }
    for (size_t i = 0; i + 1 < s->n_targets; i++)
        if (!strcmp(s->targets[i].provider, t->provider) &&
            ((!s->targets[i].endpoint && !t->endpoint) ||
             (s->targets[i].endpoint && t->endpoint && !strcmp(s->targets[i].endpoint, t->endpoint))))
            sy_error(c->d, k->loc, "`outcomes`: `%.60s` is given twice", name);
    if (v->kind != SY_YSEQ || v->n_items == 0) {
        sy_error(c->d, v->loc,
                 "`outcomes.%.60s`: expected a list of pieces, e.g. [{from: 0m, error_rate: 0.01}], "
                 "got %s",
                 name, v->kind == SY_YSEQ ? "an empty list" : shown(v));
        return;
    }
    t->pieces = xcalloc(v->n_items, sizeof *t->pieces);
    t->n_pieces = v->n_items;
    for (size_t i = 0; i < v->n_items; i++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "outcomes.%.100s[%zu]", name, i);
        read_piece(c, v->items[i], path, &t->pieces[i]);
    }
    check_pieces(c, t, name);
}

static void read_outcomes(ctx *c, const sy_ynode *v)
{
    if (v->kind == SY_YSCALAR && v->is_null && !v->quoted) return; /* "outcomes:" alone */
    if (v->kind != SY_YMAP) {
        sy_error(c->d, v->loc,
                 "`outcomes`: expected a mapping of providers (or provider/endpoint) to lists of "
                 "pieces, got %s",
                 shown(v));
        return;
    }
    c->s->targets = xcalloc(v->n_pairs, sizeof *c->s->targets);
    for (size_t i = 0; i < v->n_pairs; i++) read_target(c, v->pairs[i].key, v->pairs[i].value);
}

/* ------------------------------------------------------------ actions */

static const char *const action_names[] = {[SY_SCN_ROLLBACK] = "rollback", [SY_SCN_PAUSE] = "pause",
                                           [SY_SCN_RESUME] = "resume", [SY_SCN_SET] = "set", NULL};

const char *sy_scn_action_name(sy_scn_action_kind k) { return action_names[k]; }

static void read_action(ctx *c, const sy_ynode *v, const char *path, int64_t *last_at)
{
    static const char *const keys[] = {"at", "action", "percent", NULL};
    if (!check_keys(c, v, path, keys)) return;
    char sub[PATH_MAX_LEN + 16];
    sy_scn_action a = {.at_ms = -1, .loc = v->loc};
    const sy_ynode *at = sy_ymap_get(v, "at"), *act = sy_ymap_get(v, "action");
    const sy_ynode *pct = sy_ymap_get(v, "percent");
    int ok = 1;
    snprintf(sub, sizeof sub, "%s.at", path);
    if (!at) sy_error(c->d, v->loc, "`%s` needs `at` (when, e.g. 12m)", path);
    if (!at || get_duration(c, at, sub, &a.at_ms) != 0) ok = 0;
    snprintf(sub, sizeof sub, "%s.action", path);
    if (!act) {
        sy_error(c->d, v->loc, "`%s` needs `action`: rollback, pause, resume or set", path);
        ok = 0;
    } else if (want_scalar(c, act, sub, "rollback, pause, resume or set")) {
        int k = -1;
        for (int i = 0; action_names[i]; i++)
            if (!strcmp(act->str, action_names[i])) k = i;
        if (k < 0) {
            const char *near = sy_nearest(act->str, action_names);
            sy_error(c->d, act->loc, "`%s`: `%.60s` is not one of rollback, pause, resume, set%s%s%s",
                     sub, act->str, near ? "; did you mean `" : "", near ? near : "",
                     near ? "`?" : "");
            ok = 0;
        } else {
            a.kind = (sy_scn_action_kind)k;
        }
    } else {
        ok = 0;
    }
    snprintf(sub, sizeof sub, "%s.percent", path);
    if (ok && a.kind == SY_SCN_SET && !pct) {
        sy_error(c->d, v->loc, "`%s`: `set` needs `percent` (0 to 100)", path);
        ok = 0;
    } else if (pct && ok && a.kind != SY_SCN_SET) {
        sy_error(c->d, pct->loc, "`%s`: only `set` takes a percent", sub);
        ok = 0;
    } else if (pct && want_scalar(c, pct, sub, "a percentage from 0 to 100")) {
        const char *why = NULL;
        if (sy_parse_percent(pct->str, &a.percent, &why) != 0) {
            sy_error(c->d, pct->loc, "`%s`: `%.60s` is not a percentage from 0 to 100", sub, pct->str);
            ok = 0;
        }
    }
    if (a.at_ms >= 0 && a.at_ms < *last_at) {
        sy_error(c->d, v->loc, "`%s`: actions go by `at`, ascending: this one is before the one "
                               "above it", path);
        ok = 0;
    }
    if (a.at_ms > *last_at) *last_at = a.at_ms;
    if (!ok) return;
    c->s->actions[c->s->n_actions++] = a;
}

static void read_actions(ctx *c, const sy_ynode *v)
{
    if (v->kind != SY_YSEQ) {
        sy_error(c->d, v->loc,
                 "`actions`: expected a list, e.g. [{at: 12m, action: rollback}], got %s", shown(v));
        return;
    }
    c->s->actions = xcalloc(v->n_items, sizeof *c->s->actions);
    int64_t last_at = 0;
    for (size_t i = 0; i < v->n_items; i++) {
        char path[64];
        snprintf(path, sizeof path, "actions[%zu]", i);
        read_action(c, v->items[i], path, &last_at);
    }
}

/* ------------------------------------------------------------- top */

static sy_scenario *build(sy_ydoc *doc, sy_diags *d)
{
    static const char *const keys[] = {"duration", "traffic", "outcomes", "timeline", "actions",
                                       NULL};
    sy_scenario *s = xcalloc(1, sizeof *s);
    ctx c = {d, s};
    size_t errors = d->n_errors;
    s->file = xstrdup(doc->file);
    const sy_ynode *root = doc->root;
    if (!root) {
        sy_loc at = {doc->file, 0, 0};
        sy_error(d, at, "the scenario is empty: it needs `duration`, `traffic` and `outcomes`");
    } else if (check_keys(&c, root, "the scenario", keys)) {
        const sy_ynode *n;
        if ((n = sy_ymap_get(root, "duration"))) {
            s->duration_loc = n->loc;
            if (get_duration(&c, n, "duration", &s->duration_ms) == 0 && s->duration_ms <= 0)
                sy_error(d, n->loc, "`duration` must be longer than 0");
        }
        if ((n = sy_ymap_get(root, "traffic"))) read_traffic(&c, n);
        if ((n = sy_ymap_get(root, "outcomes"))) read_outcomes(&c, n);
        if ((n = sy_ymap_get(root, "timeline")) &&
            get_duration(&c, n, "timeline", &s->timeline_ms) == 0 && s->timeline_ms < 1000)
            sy_error(d, n->loc, "`timeline`: rows at least 1s apart, e.g. 1m");
        if ((n = sy_ymap_get(root, "actions"))) read_actions(&c, n);
    }
    s->errors = d->n_errors - errors;
    /* The places point at the document's name, which goes with it. */
    s->duration_loc.file = s->traffic_loc.file = s->file;
    for (size_t i = 0; i < s->n_models; i++) s->models[i].loc.file = s->file;
    for (size_t i = 0; i < s->n_actions; i++) s->actions[i].loc.file = s->file;
    for (size_t i = 0; i < s->n_targets; i++) {
        s->targets[i].loc.file = s->file;
        for (size_t j = 0; j < s->targets[i].n_pieces; j++) s->targets[i].pieces[j].loc.file = s->file;
    }
    return s;
}

sy_scenario *sy_scenario_load(const char *path, sy_diags *d)
{
    sy_ydoc doc;
    if (sy_ydoc_load_file(&doc, path, d) != 0) return NULL;
    sy_scenario *s = build(&doc, d);
    sy_ydoc_free(&doc);
    return s;
}

sy_scenario *sy_scenario_load_buffer(const char *name, const char *text, size_t len, sy_diags *d)
{
    sy_ydoc doc;
    if (sy_ydoc_load_buffer(&doc, name, text, len, d) != 0) return NULL;
    sy_scenario *s = build(&doc, d);
    sy_ydoc_free(&doc);
    return s;
}

void sy_scenario_free(sy_scenario *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_models; i++) free(s->models[i].name);
    for (size_t i = 0; i < s->n_targets; i++) {
        free(s->targets[i].provider);
        free(s->targets[i].endpoint);
        free(s->targets[i].pieces);
    }
    free(s->models);
    free(s->targets);
    free(s->actions);
    free(s->file);
    free(s);
}

/* ----------------------------------------------------- against a policy */

size_t sy_scenario_check(const sy_scenario *s, const sy_policy *p, int replay, sy_diags *d)
{
    size_t before = d->n_errors;
    sy_loc top = {s->file, 0, 0};
    /* (given but wrong: already reported) */
    if (!replay && !s->duration_ms && !s->duration_loc.line)
        sy_error(d, top, "the scenario needs `duration` (or run it with --replay ACCESS_LOG)");
    if (!replay && !s->has_traffic && !s->traffic_loc.line)
        sy_error(d, top, "the scenario needs `traffic` (or run it with --replay ACCESS_LOG)");
    if (!replay && s->has_traffic && !s->rate_given)
        sy_error(d, s->traffic_loc,
                 "`traffic` needs `rate` (requests per second; or run it with --replay ACCESS_LOG)");
    if (!replay && s->has_traffic && !s->models_given)
        sy_error(d, s->traffic_loc,
                 "`traffic` needs `models` (a mapping of models to weights; or run it with "
                 "--replay ACCESS_LOG)");
    for (size_t i = 0; i < s->n_actions; i++)
        if (s->duration_ms > 0 && s->actions[i].at_ms >= s->duration_ms)
            sy_warning(d, s->actions[i].loc,
                       "`actions[%zu]` is at or after the end of the traffic (`duration`): it never "
                       "happens",
                       i);
    if (s->n_actions && !p->migration.enabled)
        sy_error(d, s->actions[0].loc,
                 "`actions`: the policy has no migration.canary, so there is no rollout to act on");
    for (size_t i = 0; i < s->n_targets; i++) {
        const sy_scn_target *t = &s->targets[i];
        const sy_policy_provider *prov = sy_policy_provider_by_name(p, t->provider);
        char names[400] = "";
        if (!prov) {
            const char *cands[65];
            size_t n = 0;
            for (size_t j = 0; j < p->n_providers && n < 64; j++) {
                cands[n++] = p->providers[j].name;
                if (j) strncat(names, ", ", sizeof names - strlen(names) - 1);
                strncat(names, p->providers[j].name, sizeof names - strlen(names) - 1);
            }
            cands[n] = NULL;
            const char *near = sy_nearest(t->provider, cands);
            char hint[200] = "";
            if (near) snprintf(hint, sizeof hint, "; did you mean `%s`?", near);
            sy_error(d, t->loc, "`outcomes`: the policy has no provider `%.60s`%s Providers: %s",
                     t->provider, hint[0] ? hint : ";", names);
            continue;
        }
        if (!t->endpoint) continue;
        int found = 0;
        const char *cands[65];
        size_t n = 0;
        for (size_t j = 0; j < prov->n_endpoints; j++) {
            found |= !strcmp(prov->endpoints[j].name, t->endpoint);
            if (n < 64) cands[n++] = prov->endpoints[j].name;
            if (j) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, prov->endpoints[j].name, sizeof names - strlen(names) - 1);
        }
        cands[n] = NULL;
        if (found) continue;
        const char *near = sy_nearest(t->endpoint, cands);
        char hint[200] = "";
        if (near) snprintf(hint, sizeof hint, "; did you mean `%s/%s`?", t->provider, near);
        sy_error(d, t->loc, "`outcomes`: provider `%s` has no endpoint `%.60s`%s Endpoints: %s",
                 t->provider, t->endpoint, hint[0] ? hint : ";", names);
    }
    return d->n_errors - before;
}
