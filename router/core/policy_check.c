/*
 * policy_check.c - checks across sections, once every section is parsed:
 * migration references (stable, canary, canary_endpoints), rollout and
 * rollback consistency, ranges that relate two keys (backoff.base <= max,
 * success_threshold <= half_open_max_calls), the model list and fallback
 * cycles, budget prices, and the final numbering of endpoints.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_keys.h"
#include "units.h"

/* The node at root.k1.k2... (NULL-terminated keys), or NULL. */
static const sy_ynode *at(const sy_ynode *root, ...)
{
    va_list ap;
    va_start(ap, root);
    const sy_ynode *n = root;
    const char *k;
    while (n && (k = va_arg(ap, const char *)))
        n = n->kind == SY_YMAP ? sy_ymap_get(n, k) : NULL;
    va_end(ap);
    return n;
}

/* The key node of root.k1...kn (for pointing at a section), or NULL. */
static const sy_ynode *key_at(const sy_ynode *root, const char *k1, const char *k2)
{
    const sy_ynode *m = root;
    if (k2) m = at(root, k1, NULL), k1 = k2;
    if (!m || m->kind != SY_YMAP) return NULL;
    const sy_ypair *p = sy_ymap_pair(m, k1);
    return p ? p->key : NULL;
}

/* How to show a value in a message: its raw text when it came from the
 * environment (never the value), else the formatted value. */
static const char *shown(const sy_ynode *n, const char *formatted)
{
    return n && n->str && strstr(n->str, "${") ? n->str : formatted;
}

static sy_loc first_loc(const sy_pctx *c, const sy_ynode *a, const sy_ynode *b)
{
    if (a) return a->loc;
    if (b) return b->loc;
    return (sy_loc){c->file, 1, 1};
}

static long find_provider(const sy_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_providers; i++)
        if (!strcmp(p->providers[i].name, name)) return (long)i;
    return -1;
}

static void list_names(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len >= cap) buf[cap - 1] = 0;
}

/* "no provider named `x`; did you mean `y`? Providers: a, b" */
static void unknown_provider(sy_pctx *c, const sy_ynode *v, const char *path)
{
    const sy_policy *p = c->p;
    const char *names[65];
    size_t n = 0;
    for (size_t i = 0; i < p->n_providers && n < 64; i++) names[n++] = p->providers[i].name;
    names[n] = NULL;
    char list[1024];
    list_names(list, sizeof list, names, n);
    if (p->n_providers > n) strncat(list, ", ...", sizeof list - strlen(list) - 1);
    /* v->str is the name as written (names never come from the environment). */
    const char *near = sy_pk_nearest(c, v->str ? v->str : "", names, n);
    if (near)
        sy_error(c->d, v->loc, "`%s`: no provider named `%.60s`; did you mean `%s`? Providers: %s",
                 path, v->str, near, list);
    else
        sy_error(c->d, v->loc, "`%s`: no provider named `%.60s`; providers: %s", path, v->str,
                 n ? list : "none");
}

static void check_migration(sy_pctx *c)
{
    sy_policy *p = c->p;
    sy_migration_conf *m = &p->migration;
    const sy_ynode *root = c->root;
    const sy_ynode *mig_key = key_at(root, "migration", NULL);
    if (p->n_providers == 0) return;

    long stable = -1;
    if (c->have_stable && c->stable_name) {
        stable = find_provider(p, c->stable_name);
        if (stable < 0) unknown_provider(c, c->stable_node, "migration.stable");
    } else if (c->have_stable) {
        stable = -2; /* an unset ${VAR} (reported) or a bad value (reported) */
    } else if (p->n_providers == 1) {
        stable = 0;
    } else {
        const char *names[65];
        size_t n = 0;
        for (size_t i = 0; i < p->n_providers && n < 64; i++) names[n++] = p->providers[i].name;
        char list[1024];
        list_names(list, sizeof list, names, n);
        sy_error(c->d, mig_key ? mig_key->loc : c->providers_loc,
                 "`migration.stable` is not set: with more than one provider (%s) the policy "
                 "must say which one is stable",
                 list);
    }
    m->stable = stable >= 0 ? (size_t)stable : 0;

    long canary = -1;
    if (c->have_canary && c->canary_name) {
        canary = find_provider(p, c->canary_name);
        if (canary < 0) {
            unknown_provider(c, c->canary_node, "migration.canary");
        } else if (stable >= 0 && canary == stable) {
            sy_error(c->d, c->canary_node->loc,
                     "`migration.canary`: `%.60s` is also the stable provider; the canary must "
                     "be another one",
                     c->canary_node->str);
            canary = -1;
        }
    }

    const sy_ynode *rollout = at(root, "migration", "rollout", NULL);
    const sy_ynode *rollback_key = key_at(root, "migration", "rollback");
    if (canary < 0) {
        if (!c->have_canary) {
            if (rollout)
                sy_warning(c->d, key_at(root, "migration", "rollout")->loc,
                           "`migration.rollout` has no effect without `migration.canary`");
            if (rollback_key)
                sy_warning(c->d, rollback_key->loc,
                           "`migration.rollback` has no effect without `migration.canary`");
        }
        return;
    }
    m->enabled = 1;
    m->canary = (size_t)canary;
    const sy_policy_provider *cp = &p->providers[canary];

    if (!m->rollout_id) {
        size_t n = strlen(p->providers[m->stable].name) + strlen(cp->name) + 3;
        m->rollout_id = malloc(n);
        if (!m->rollout_id) abort();
        snprintf(m->rollout_id, n, "%s->%s", p->providers[m->stable].name, cp->name);
    }
    if (!at(rollout, "percent", NULL) && m->n_steps > 0) m->percent = m->steps[0];

    if (m->n_canary_endpoints > 0) {
        /* In the order written (for the list and suggestions) and sorted (to look up). */
        const char **names = sy_xcalloc(cp->n_endpoints + 1, sizeof *names);
        const char **sorted = sy_xcalloc(cp->n_endpoints + 1, sizeof *sorted);
        size_t n = 0;
        for (size_t j = 0; j < cp->n_endpoints; j++)
            if (cp->endpoints[j].name) names[n++] = cp->endpoints[j].name;
        memcpy(sorted, names, n * sizeof *names);
        sy_pk_sort_names(sorted, n);
        char list[1024];
        list_names(list, sizeof list, names, n < 64 ? n : 64);
        if (n > 64) strncat(list, ", ...", sizeof list - strlen(list) - 1);
        for (size_t i = 0; i < m->n_canary_endpoints; i++) {
            if (sy_pk_sorted_has(sorted, n, m->canary_endpoints[i])) continue;
            const char *near = sy_pk_nearest(c, m->canary_endpoints[i], names, n);
            char sug[200] = ";";
            if (near) snprintf(sug, sizeof sug, "; did you mean `%s`?", near);
            sy_error(c->d, c->canary_ep_loc[i],
                     "`migration.rollout.canary_endpoints[%zu]`: the canary `%s` has no endpoint "
                     "named `%.60s`%s Its endpoints: %s",
                     i, cp->name, m->canary_endpoints[i], sug, list);
        }
        free(names);
        free(sorted);
    }

    const sy_ynode *steps = at(rollout, "steps", NULL);
    if (m->n_steps > 0 && !at(rollout, "step_after", NULL))
        sy_error(c->d, steps->loc,
                 "`migration.rollout.steps` needs `step_after` (how long each step lasts)");
    if (!steps && at(rollout, "step_after", NULL))
        sy_warning(c->d, key_at(rollout, "step_after", NULL)->loc,
                   "`migration.rollout.step_after` has no effect without `steps`");
    if (m->percent == 0 && m->n_steps == 0 && !at(rollout, "percent", NULL))
        sy_warning(c->d, c->canary_node->loc,
                   "`migration.rollout.percent` is not set: the canary gets no traffic until "
                   "it is raised (POST /admin/rollout)");

    if (m->rollback.enabled) {
        const sy_ynode *rb = at(root, "migration", "rollback", NULL);
        if (!at(rb, "success_rate_below", NULL) && !at(rb, "p95_above", NULL))
            sy_error(c->d, rollback_key->loc,
                     "`migration.rollback`: give success_rate_below, p95_above or both; "
                     "without one nothing triggers a rollback");
        if (!m->rollback.state_file)
            sy_warning(c->d, rollback_key->loc,
                       "`migration.rollback` has no `state_file`: after a restart a rolled-back "
                       "canary gets traffic again");
    }
}

static void check_pairs(sy_pctx *c)
{
    sy_policy *p = c->p;
    const sy_ynode *root = c->root;
    char a[32], b[32];
    sy_retry_conf *r = &p->retry;
    if (r->backoff_base_ms > r->backoff_max_ms) {
        const sy_ynode *base = at(root, "retry", "backoff", "base", NULL);
        const sy_ynode *max = at(root, "retry", "backoff", "max", NULL);
        sy_error(c->d, first_loc(c, base, max),
                 "`retry.backoff.base` (%.60s) is longer than `retry.backoff.max` (%.60s)",
                 shown(base, sy_format_duration(r->backoff_base_ms, a, sizeof a)),
                 shown(max, sy_format_duration(r->backoff_max_ms, b, sizeof b)));
    }
    sy_breaker_conf *br = &p->breaker;
    if (br->success_threshold > br->half_open_max_calls) {
        const sy_ynode *s = at(root, "breaker", "success_threshold", NULL);
        const sy_ynode *h = at(root, "breaker", "half_open_max_calls", NULL);
        snprintf(a, sizeof a, "%d", br->success_threshold);
        snprintf(b, sizeof b, "%d", br->half_open_max_calls);
        sy_error(c->d, first_loc(c, s, h),
                 "`breaker.success_threshold` (%.60s) is larger than "
                 "`breaker.half_open_max_calls` (%.60s): the breaker could never close",
                 shown(s, a), shown(h, b));
    }
    if (p->rate_limit.enabled && p->rate_limit.burst == 0) {
        double b0 = ceil(p->rate_limit.rps);
        p->rate_limit.burst = b0 < 1 ? 1 : b0;
    }
    for (size_t i = 0; i < p->n_providers; i++) {
        sy_health_check *h = &p->providers[i].health;
        if (!h->enabled || h->timeout_ms < h->interval_ms) continue;
        const sy_ynode *t =
            at(root, "providers", p->providers[i].name, "health_check", "timeout", NULL);
        const sy_ynode *hc = at(root, "providers", p->providers[i].name, "health_check", NULL);
        const sy_ynode *iv =
            at(root, "providers", p->providers[i].name, "health_check", "interval", NULL);
        sy_warning(c->d, first_loc(c, t, hc),
                   "`providers.%s.health_check.timeout` (%.60s) is not shorter than its "
                   "interval (%.60s)",
                   p->providers[i].name, shown(t, sy_format_duration(h->timeout_ms, a, sizeof a)),
                   shown(iv, sy_format_duration(h->interval_ms, b, sizeof b)));
    }
}

/* ---------------------------------------------------------------- models */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void build_models(sy_policy *p)
{
    size_t cap = 0;
    for (size_t i = 0; i < p->n_fallbacks; i++) cap += 1 + p->fallbacks[i].n_to;
    cap += p->n_prices;
    for (size_t i = 0; i < p->n_providers; i++) cap += p->providers[i].n_prices;
    if (cap == 0) return;
    char **all = sy_xcalloc(cap, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < p->n_fallbacks; i++) {
        all[n++] = p->fallbacks[i].model;
        for (size_t j = 0; j < p->fallbacks[i].n_to; j++) all[n++] = p->fallbacks[i].to[j];
    }
    for (size_t i = 0; i < p->n_prices; i++) all[n++] = p->prices[i].model;
    for (size_t i = 0; i < p->n_providers; i++)
        for (size_t j = 0; j < p->providers[i].n_prices; j++)
            all[n++] = p->providers[i].prices[j].model;
    qsort(all, n, sizeof *all, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(all[u - 1], all[i])) all[u++] = all[i];
    p->models = sy_xcalloc(u, sizeof *p->models);
    for (size_t i = 0; i < u; i++) p->models[i] = sy_xstrdup(all[i]);
    p->n_models = u;
    free(all);
}

static long model_index(const sy_policy *p, const char *m)
{
    char *const *hit = bsearch(&m, p->models, p->n_models, sizeof *p->models, cmp_str);
    return hit ? (long)(hit - p->models) : -1;
}

enum { WHITE, GRAY, BLACK };

/* Fallback cycles: iterative DFS over model -> fallback model edges. Each
 * back edge is one cycle, reported at the list item that closes it, with the
 * path "gpt-4.1 -> gpt-4o -> gpt-4.1". */
static void check_cycles(sy_pctx *c)
{
    sy_policy *p = c->p;
    size_t nm = p->n_models;
    if (p->n_fallbacks == 0 || nm == 0) return;
    long *chain_of = sy_xcalloc(nm, sizeof *chain_of);
    unsigned char *color = sy_xcalloc(nm, 1);
    size_t *stack_node = sy_xcalloc(nm, sizeof *stack_node);
    size_t *stack_edge = sy_xcalloc(nm, sizeof *stack_edge);
    for (size_t i = 0; i < nm; i++) chain_of[i] = -1;
    for (size_t i = 0; i < p->n_fallbacks; i++) {
        long m = model_index(p, p->fallbacks[i].model);
        if (m >= 0) chain_of[m] = (long)i;
    }
    size_t reported = 0;
    for (size_t ci = 0; ci < p->n_fallbacks; ci++) {
        long start = model_index(p, p->fallbacks[ci].model);
        if (start < 0 || color[start] != WHITE) continue;
        size_t sp = 0;
        stack_node[sp] = (size_t)start;
        stack_edge[sp] = 0;
        sp++;
        color[start] = GRAY;
        while (sp > 0) {
            size_t u = stack_node[sp - 1];
            long ch = chain_of[u];
            size_t e = stack_edge[sp - 1];
            if (ch < 0 || e >= p->fallbacks[ch].n_to) {
                color[u] = BLACK;
                sp--;
                continue;
            }
            stack_edge[sp - 1]++;
            long v = model_index(p, p->fallbacks[ch].to[e]);
            if (v < 0) continue;
            if (color[v] == WHITE) {
                color[v] = GRAY;
                stack_node[sp] = (size_t)v;
                stack_edge[sp] = 0;
                sp++;
            } else if (color[v] == GRAY && reported < 20) {
                char path[600] = "";
                size_t from = 0;
                while (from < sp && stack_node[from] != (size_t)v) from++;
                for (size_t k = from; k < sp; k++) {
                    strncat(path, p->models[stack_node[k]], sizeof path - strlen(path) - 1);
                    strncat(path, " -> ", sizeof path - strlen(path) - 1);
                }
                strncat(path, p->models[v], sizeof path - strlen(path) - 1);
                sy_error(c->d, c->fallback_to_loc[ch][e],
                         "`models.fallbacks.%s`: fallback cycle: %s", p->fallbacks[ch].model,
                         path);
                reported++;
            }
        }
    }
    free(chain_of);
    free(color);
    free(stack_node);
    free(stack_edge);
}

static void check_budget(sy_pctx *c)
{
    sy_policy *p = c->p;
    if (!p->budget.enabled) return;
    const sy_ynode *bk = key_at(c->root, "budget", NULL);
    sy_loc loc = first_loc(c, bk, NULL);
    /* Every model with a price anywhere, sorted, to look up. */
    size_t np = p->n_prices;
    for (size_t i = 0; i < p->n_providers; i++) np += p->providers[i].n_prices;
    const char **priced = sy_xcalloc(np + 1, sizeof *priced);
    size_t k = 0;
    for (size_t i = 0; i < p->n_prices; i++) priced[k++] = p->prices[i].model;
    for (size_t i = 0; i < p->n_providers; i++)
        for (size_t j = 0; j < p->providers[i].n_prices; j++)
            priced[k++] = p->providers[i].prices[j].model;
    sy_pk_sort_names(priced, k);
    char missing[1024] = "";
    size_t n = 0, len = 0;
    for (size_t i = 0; i < p->n_models; i++) {
        if (sy_pk_sorted_has(priced, k, p->models[i])) continue;
        if (n++ == 0 || len + strlen(p->models[i]) + 8 < sizeof missing)
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", n > 1 ? ", " : "",
                                    p->models[i]);
        else if (len + 5 < sizeof missing && missing[len - 1] != '.')
            len += (size_t)snprintf(missing + len, sizeof missing - len, ", ...");
    }
    free(priced);
    if (!p->migration.rollback.state_file && !p->shared_state.enabled)
        sy_warning(c->d, loc,
                   "`budget` without `migration.rollback.state_file`: the month's spend is kept "
                   "in memory only and starts again at 0 after a restart");
    if (p->n_models == 0)
        sy_warning(c->d, loc,
                   "`budget` counts cost from `models.prices`, and the policy gives no prices");
    else if (n)
        sy_warning(c->d, loc, "`budget`: no price for %s: %s cost is not counted", missing,
                   n == 1 ? "its" : "their");
}

/* shared_state: a prefix that makes sane keys, a timeout that still means
 * "answering". The URL itself was checked as it was read. */
static void check_shared_state(sy_pctx *c)
{
    const sy_shared_state_conf *ss = &c->p->shared_state;
    if (!ss->enabled) return;
    const char *pre = ss->prefix ? ss->prefix : "";
    int bad = !*pre || strlen(pre) > 64;
    for (const char *q = pre; *q && !bad; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f) bad = 1;
    if (bad) {
        const sy_ynode *pk = at(c->root, "shared_state", "prefix", NULL);
        sy_error(c->d, first_loc(c, pk, NULL),
                 "`shared_state.prefix` must be 1 to 64 printable bytes without spaces, e.g. "
                 "\"switchyard:\" or \"team-a:switchyard:\"");
    }
    if (ss->timeout_ms > 10000) {
        const sy_ynode *tk = at(c->root, "shared_state", "timeout", NULL);
        sy_error(c->d, first_loc(c, tk, NULL),
                 "`shared_state.timeout` is at most 10s: a Redis slower than that is treated as "
                 "away (it is waited for on the main thread's tick, never by a request)");
    }
}

static void check_server(sy_pctx *c)
{
    sy_policy *p = c->p;
    if (p->server.n_client_keys > 0) return;
    const sy_ynode *ck = at(c->root, "server", "client_keys", NULL);
    if (c->client_keys_unset)
        sy_warning(c->d, c->client_keys_unset->loc,
                   "`server.client_keys`: `%.60s` is not set in the environment: any client can "
                   "call the router",
                   c->client_keys_unset->str);
    else if (ck)
        sy_warning(c->d, ck->loc,
                   "`server.client_keys` is empty: any client can call the router");
    else
        sy_warning(c->d, first_loc(c, key_at(c->root, "server", NULL), NULL),
                   "`server.client_keys` is not set: any client can call the router");
}

void sy_pk_check_policy(sy_pctx *c)
{
    sy_policy *p = c->p;
    if (p->n_providers == 0 && c->providers_loc.line)
        sy_error(c->d, c->providers_loc, "`providers`: the policy needs at least one provider");
    check_migration(c);
    check_pairs(c);
    build_models(p);
    check_cycles(c);
    check_budget(c);
    check_server(c);
    check_shared_state(c);

    size_t g = 0;
    for (size_t i = 0; i < p->n_providers; i++) {
        sy_policy_provider *prov = &p->providers[i];
        for (size_t j = 0; j < prov->n_endpoints; j++) {
            sy_policy_endpoint *ep = &prov->endpoints[j];
            ep->global_index = g++;
            ep->view.provider = prov->name;
            ep->view.name = ep->name;
            ep->view.base_url = ep->base_url;
            ep->view.config = ep->plugin_cfg;
        }
    }
    p->n_endpoints_total = g;
}
