/*
 * policy_load.c - sy_policy_load(): YAML tree -> typed policy.
 *
 * The walk is driven by the key tables (policy_keys.c); this file holds the
 * entry points and the readers for keys whose shape the generic walker cannot
 * fill: lists, mappings keyed by user-chosen names (providers, models), and
 * scalars with their own syntax (listen, client_keys, ...). Checks across
 * sections (references, cycles) run afterwards in policy_check.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader.h"
#include "policy_keys.h"
#include "redact.h"
#include "redis_url.h"
#include "units.h"

#define PATH_CAP 512

static const char *idx_path(char *buf, size_t cap, const char *path, size_t i)
{
    int w = snprintf(buf, cap, "%s[%zu]", path, i);
    if (w < 0 || (size_t)w >= cap) buf[cap - 1] = 0; /* a cut path is still a fine message */
    return buf;
}

static int is_null(const sy_ynode *v)
{
    return v && v->kind == SY_YSCALAR && v->is_null && !v->quoted;
}

/* A list node (null = empty list); reports and returns -1 for other shapes. */
static int want_list(sy_pctx *c, const sy_ynode *v, const char *path, const char *what)
{
    if (!v || is_null(v)) return 0;
    if (v->kind != SY_YSEQ) {
        sy_pk_expect(c, v, path, what);
        return -1;
    }
    return 0;
}

static size_t list_len(const sy_ynode *v)
{
    return v && v->kind == SY_YSEQ ? v->n_items : 0;
}

static void free_strv(char **v, size_t n, int wipe)
{
    for (size_t i = 0; v && i < n; i++) {
        if (wipe && v[i]) memset(v[i], 0, strlen(v[i]));
        free(v[i]);
    }
    free(v);
}

/* Model names come from clients and upstreams: anything printable without
 * spaces, quotes, backslashes or commas ("meta-llama/Llama-3:8b" is fine). */
static int model_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '\\' || ch == ',') return 0;
    }
    return 1;
}

static void bad_model(sy_pctx *c, const sy_ynode *n, const char *path)
{
    sy_error(c->d, n->loc,
             "`%s`: `%.60s` is not a valid model name (no spaces, quotes, commas or control "
             "characters)",
             path, n->str ? n->str : "");
}

/* -------------------------------------------------------------- version */

void sy_pk_parse_version(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                         const sy_pkey *k, const char *path)
{
    int64_t ver;
    int unset = 0;
    if (sy_pk_int(c, v, path, &ver, &unset) != 0) return;
    if (ver != 1) {
        sy_error(c->d, v->loc,
                 "`version`: unsupported policy version %.60s: this switchyard reads version 1",
                 v->str);
        return;
    }
    ((sy_policy *)base)->version = (int)ver;
}

/* --------------------------------------------------------------- server */

/* host:port, [v6]:port; port 0..65535 (0: any free port, for tests). */
static int listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return 0;
    if (s[0] == '[') {
        if (colon[-1] != ']' || colon - s < 3) return 0;
    } else {
        for (const char *p = s; p < colon; p++)
            if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_')) return 0;
    }
    const char *port = colon + 1;
    if (!*port || strlen(port) > 5) return 0;
    long n = 0;
    for (const char *p = port; *p; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
        n = n * 10 + (*p - '0');
    }
    return n <= 65535;
}

void sy_pk_parse_listen(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                        const sy_pkey *k, const char *path)
{
    int env = 0, unset = 0;
    char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
    if (!t) return;
    if (!listen_ok(t)) {
        sy_error(c->d, v->loc, "`%s`: `%.60s`%s is not host:port, e.g. 127.0.0.1:8080", path,
                 v->str, env ? " (from the environment)" : "");
        free(t);
        return;
    }
    char **dst = (char **)((char *)base + k->offset);
    free(*dst);
    *dst = t;
}

static int token_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f) return 0;
    }
    return 1;
}

/* Split "a, b,c" into trimmed tokens appended to keys. Reports (without the
 * value) a token with a space inside. */
static void add_tokens(sy_pctx *c, const sy_ynode *v, const char *path, const char *text,
                       char ***keys, size_t *n)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        size_t len = (size_t)(e - p);
        if (!token_ok(p, len)) {
            sy_error(c->d, v->loc, "`%s`: client key %zu contains a space or control character",
                     path, *n + 1);
        } else {
            char **nk = realloc(*keys, (*n + 1) * sizeof **keys);
            if (!nk) abort();
            *keys = nk;
            nk[*n] = strndup(p, len);
            if (!nk[*n]) abort();
            (*n)++;
        }
        p = end;
    }
}

void sy_pk_parse_client_keys(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                             const sy_pkey *k, const char *path)
{
    sy_server_conf *s = base;
    char **keys = NULL;
    size_t n = 0;
    int literal = 0;
    unsigned fl = k->flags | SY_PKF_QUIET_UNSET;
    if (v->kind == SY_YSEQ) {
        for (size_t i = 0; i < v->n_items; i++) {
            int env = 0, unset = 0;
            char ip[PATH_CAP];
            /* each unset item is its own warning ("treated as not given") */
            char *t = sy_pk_text(c, v->items[i], idx_path(ip, sizeof ip, path, i), k->flags,
                                 &env, &unset);
            if (!t) continue;
            if (!env && *t) {
                literal = 1;
                sy_diags_redact(c->d, v->items[i]->loc, v->items[i]->len, v->items[i]->quoted);
            }
            add_tokens(c, v->items[i], path, t, &keys, &n);
            memset(t, 0, strlen(t));
            free(t);
        }
    } else {
        int env = 0, unset = 0;
        char *t = sy_pk_text(c, v, path, fl, &env, &unset);
        if (unset) c->client_keys_unset = v;
        if (!t) return;
        if (!env && *t) {
            literal = 1;
            sy_diags_redact(c->d, v->loc, v->len, v->quoted);
        }
        add_tokens(c, v, path, t, &keys, &n);
        memset(t, 0, strlen(t));
        free(t);
    }
    if (literal)
        sy_warning(c->d, v->loc,
                   "`%s` holds secrets written into the policy; prefer ${VAR} from the "
                   "environment",
                   path);
    free_strv(s->client_keys, s->n_client_keys, 1);
    s->client_keys = keys;
    s->n_client_keys = n;
}

void sy_pk_parse_access_log(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                            const sy_pkey *k, const char *path)
{
    int env = 0, unset = 0;
    char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
    if (!t) return;
    if (!*t) {
        sy_error(c->d, v->loc, "`%s`: give stdout, off or a file path", path);
        free(t);
        return;
    }
    char **dst = (char **)((char *)base + k->offset);
    free(*dst);
    if (!strcmp(t, "stdout") || !strcmp(t, "off")) {
        *dst = t;
    } else {
        *dst = sy_pk_resolve_path(c, t);
        free(t);
    }
}

/* -------------------------------------------------------------- plugins */

static void add_plugin_dir(sy_pctx *c, const sy_ynode *v, const char *path, char ***dirs,
                           size_t *n)
{
    int env = 0, unset = 0;
    char *t = sy_pk_text(c, v, path, 0, &env, &unset);
    if (!t) return;
    if (!*t) {
        sy_error(c->d, v->loc, "`%s`: the folder name is empty", path);
        free(t);
        return;
    }
    char *r = sy_pk_resolve_path(c, t);
    free(t);
    struct stat st;
    if (c->reg && !getenv("SWITCHYARD_PLUGIN_PATH") && (stat(r, &st) != 0 || !S_ISDIR(st.st_mode)))
        sy_warning(c->d, v->loc, "`%s`: `%.60s` is not a folder (resolved to %s)", path, v->str,
                   env ? "a folder from the environment" : r);
    char **nd = realloc(*dirs, (*n + 1) * sizeof **dirs);
    if (!nd) abort();
    *dirs = nd;
    nd[(*n)++] = r;
}

void sy_pk_parse_plugin_path(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                             const sy_pkey *k, const char *path)
{
    sy_policy *p = base;
    char **dirs = NULL;
    size_t n = 0;
    char ip[PATH_CAP];
    if (v->kind == SY_YSEQ) {
        for (size_t i = 0; i < v->n_items; i++)
            add_plugin_dir(c, v->items[i], idx_path(ip, sizeof ip, path, i), &dirs, &n);
    } else {
        add_plugin_dir(c, v, path, &dirs, &n);
    }
    free_strv(p->plugin_paths, p->n_plugin_paths, 0);
    p->plugin_paths = dirs;
    p->n_plugin_paths = n;
}

/* ------------------------------------------------------------ providers */

void sy_pk_parse_name(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                      const sy_pkey *k, const char *path)
{
    char *t = sy_pk_literal(c, v, path);
    if (!t) return;
    if (!sy_pk_name_ok(t)) {
        sy_error(c->d, v->loc,
                 "`%s`: `%.60s` is not a valid name: use letters, digits, '.', '_' and '-'",
                 path, v->str);
        free(t);
        return;
    }
    char **dst = (char **)((char *)base + k->offset);
    free(*dst);
    *dst = t;
}

/* An endpoint's base URL, and its raw text when it used the environment
 * (what explain and logs print instead of the value). */
void sy_pk_parse_base_url(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                          const sy_pkey *k, const char *path)
{
    sy_policy_endpoint *ep = base;
    int unset = 0;
    char *t = sy_pk_url(c, v, path, &unset);
    if (!t) return;
    free(ep->base_url);
    free(ep->base_url_raw);
    ep->base_url = t;
    ep->base_url_raw = NULL;
    if (strstr(v->str, "${")) {
        ep->base_url_raw = sy_xstrdup(v->str);
        size_t n = strlen(ep->base_url_raw);
        while (n > 0 && ep->base_url_raw[n - 1] == '/') ep->base_url_raw[--n] = 0;
    }
}

void sy_pk_parse_health_path(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                             const sy_pkey *k, const char *path)
{
    int env = 0, unset = 0;
    char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
    if (!t) return;
    if (t[0] != '/' || !token_ok(t, strlen(t))) {
        sy_error(c->d, v->loc, "`%s`: `%.60s` must be a path starting with /, e.g. /models",
                 path, v->str);
        free(t);
        return;
    }
    char **dst = (char **)((char *)base + k->offset);
    free(*dst);
    *dst = t;
}

static int cmp_endpoint(const void *a, const void *b)
{
    const sy_policy_endpoint *x = a, *y = b;
    if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    /* global_index holds the order written until policy_check numbers them */
    return x->global_index < y->global_index ? -1 : x->global_index > y->global_index;
}

void sy_pk_parse_endpoints(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                           const sy_pkey *k, const char *path)
{
    sy_policy_provider *prov = base;
    if (want_list(c, v, path, "a list of endpoints") != 0) return;
    size_t n = list_len(v);
    if (n == 0) {
        sy_error(c->d, (key ? key : v)->loc, "`%s`: a provider needs at least one endpoint",
                 path);
        return;
    }
    prov->endpoints = sy_xcalloc(n, sizeof *prov->endpoints);
    const sy_ynode **items = sy_xcalloc(n, sizeof *items);
    const sy_config_key *extra = sy_pk_endpoint_extra(c, prov);
    const char *owner = prov->plugin ? prov->plugin->name : NULL;
    for (size_t i = 0; i < n; i++) {
        const sy_ynode *item = v->items[i];
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, i);
        if (item->kind != SY_YMAP) {
            sy_pk_expect(c, item, ip, "an endpoint mapping, e.g. {name: global, base_url: ...}");
            continue;
        }
        items[prov->n_endpoints] = item;
        sy_policy_endpoint *ep = &prov->endpoints[prov->n_endpoints++];
        ep->loc = item->loc;
        ep->global_index = i;
        sy_pk_defaults(c, sy_pk_endpoint, ep);
        sy_pk_parse_map(c, NULL, item, sy_pk_endpoint, ep, ip, extra, owner);
        sy_pk_endpoint_plugin(c, prov, ep, item, ip);
    }

    /* Duplicate names, each reported where it repeats. */
    const char **names = sy_xcalloc(prov->n_endpoints + 1, sizeof *names);
    for (size_t i = 0; i < prov->n_endpoints; i++) names[i] = prov->endpoints[i].name;
    size_t *first = sy_pk_first_of(names, prov->n_endpoints);
    for (size_t i = 0; i < prov->n_endpoints; i++) {
        if (first[i] == i) continue;
        const sy_policy_endpoint *ep = &prov->endpoints[i];
        const sy_ynode *nn = sy_ymap_get(items[i], "name");
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, ep->global_index);
        sy_error(c->d, nn ? nn->loc : ep->loc,
                 "`%s.name`: duplicate endpoint name `%s` in provider `%s` (first at line %u)",
                 ip, ep->name, prov->name, prov->endpoints[first[i]].loc.line);
    }
    free(first);
    free(names);
    free(items);
}

void sy_pk_parse_providers(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                           const sy_pkey *k, const char *path)
{
    sy_policy *p = base;
    c->providers_loc = key ? key->loc : v->loc;
    if (is_null(v)) return; /* "no providers" is reported by policy_check */
    if (v->kind != SY_YMAP) {
        sy_pk_expect(c, v, path, "a mapping of provider names to providers");
        return;
    }
    p->providers = sy_xcalloc(v->n_pairs ? v->n_pairs : 1, sizeof *p->providers);
    for (size_t i = 0; i < v->n_pairs; i++) {
        const sy_ynode *kn = v->pairs[i].key, *pv = v->pairs[i].value;
        char pp[PATH_CAP];
        sy_pk_join(pp, sizeof pp, path, kn->str ? kn->str : "");
        if (!kn->str || !sy_pk_name_ok(kn->str)) {
            sy_error(c->d, kn->loc,
                     "`%s`: `%.60s` is not a valid provider name: use letters, digits, '.', '_' "
                     "and '-'",
                     path, kn->str ? kn->str : "");
            continue;
        }
        /* Duplicate provider names are duplicate keys: the YAML reader refuses them. */
        sy_policy_provider *prov = &p->providers[p->n_providers++];
        prov->name = sy_xstrdup(kn->str);
        prov->loc = kn->loc;
        sy_pk_defaults(c, sy_pk_provider, prov);
        if (pv->kind != SY_YMAP) {
            sy_pk_expect(c, pv, pp, "a provider mapping (plugin, endpoints, ...)");
            continue;
        }
        c->prov_errors = c->d->n_errors;
        const sy_config_key *extra = sy_pk_provider_load(c, prov, pv, pp);
        sy_pk_parse_map(c, kn, pv, sy_pk_provider, prov, pp, extra,
                        prov->plugin ? prov->plugin->name : NULL);
        sy_pk_provider_finish(c, prov, kn, pv, pp);
        if (prov->n_endpoints > 1)
            qsort(prov->endpoints, prov->n_endpoints, sizeof *prov->endpoints, cmp_endpoint);
    }
}

/* ---------------------------------------------------------------- retry */

void sy_pk_parse_retry_on(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                          const sy_pkey *k, const char *path)
{
    sy_retry_conf *r = base;
    if (want_list(c, v, path, "a list such as [connect_error, timeout, 429, 503]") != 0) return;
    unsigned flags = 0;
    size_t n = 0;
    int status[32];
    static const char *const words[] = {"connect_error", "timeout", NULL};
    for (size_t i = 0; i < list_len(v); i++) {
        const sy_ynode *it = v->items[i];
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, i);
        int env = 0, unset = 0;
        char *t = sy_pk_text(c, it, ip, 0, &env, &unset);
        if (!t) continue;
        int64_t code;
        const char *why;
        if (!strcmp(t, "connect_error")) {
            flags |= SY_RETRY_ON_CONNECT_ERROR;
        } else if (!strcmp(t, "timeout")) {
            flags |= SY_RETRY_ON_TIMEOUT;
        } else if (sy_parse_int(t, &code, &why) == 0 && !(it->quoted && !env)) {
            int seen = 0;
            for (size_t j = 0; j < n; j++) seen |= status[j] == code;
            if (code < 400 || code > 599)
                sy_error(c->d, it->loc, "`%s`: %.60s is not an error status: use 400..599", ip,
                         it->str);
            else if (seen)
                sy_warning(c->d, it->loc, "`%s`: status %.60s is listed twice", ip, it->str);
            else if (n == sizeof status / sizeof status[0])
                sy_error(c->d, it->loc, "`%s`: at most %zu statuses", ip,
                         sizeof status / sizeof status[0]);
            else
                status[n++] = (int)code;
        } else {
            const char *near = env ? NULL : sy_nearest(t, words);
            if (near)
                sy_error(c->d, it->loc,
                         "`%s`: `%.60s` is not connect_error, timeout or an HTTP status; did you "
                         "mean `%s`?",
                         ip, it->str, near);
            else
                sy_error(c->d, it->loc,
                         "`%s`: `%.60s` is not connect_error, timeout or an HTTP status 400..599",
                         ip, it->str);
        }
        free(t);
    }
    r->on_flags = flags;
    memcpy(r->on_status, status, n * sizeof status[0]);
    r->n_on_status = n;
}

/* --------------------------------------------------------------- models */

void sy_pk_parse_fallbacks(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                           const sy_pkey *k, const char *path)
{
    sy_policy *p = base;
    if (is_null(v)) return;
    if (v->kind != SY_YMAP) {
        sy_pk_expect(c, v, path, "a mapping of models to lists of fallback models");
        return;
    }
    p->fallbacks = sy_xcalloc(v->n_pairs ? v->n_pairs : 1, sizeof *p->fallbacks);
    c->fallback_to_loc = sy_xcalloc(v->n_pairs ? v->n_pairs : 1, sizeof *c->fallback_to_loc);
    for (size_t i = 0; i < v->n_pairs; i++) {
        const sy_ynode *kn = v->pairs[i].key, *lv = v->pairs[i].value;
        char cp[PATH_CAP];
        sy_pk_join(cp, sizeof cp, path, kn->str ? kn->str : "");
        if (!kn->str || !model_name_ok(kn->str)) {
            bad_model(c, kn, path);
            continue;
        }
        if (lv->kind != SY_YSEQ) {
            sy_pk_expect(c, lv, cp, "a list of fallback models, e.g. [gpt-4o, gpt-4o-mini]");
            continue;
        }
        if (lv->n_items == 0) {
            sy_error(c->d, lv->loc, "`%s`: the fallback list is empty", cp);
            continue;
        }
        size_t ci = p->n_fallbacks++;
        sy_fallback_chain *ch = &p->fallbacks[ci];
        ch->model = sy_xstrdup(kn->str);
        ch->loc = kn->loc;
        ch->to = sy_xcalloc(lv->n_items, sizeof *ch->to);
        c->fallback_to_loc[ci] = sy_xcalloc(lv->n_items, sizeof **c->fallback_to_loc);
        for (size_t j = 0; j < lv->n_items; j++) {
            const sy_ynode *it = lv->items[j];
            char ip[PATH_CAP];
            idx_path(ip, sizeof ip, cp, j);
            char *t = sy_pk_literal(c, it, ip);
            if (!t) continue;
            if (!model_name_ok(t)) {
                bad_model(c, it, ip);
                free(t);
                continue;
            }
            c->fallback_to_loc[ci][ch->n_to] = it->loc;
            ch->to[ch->n_to++] = t;
        }
        /* A model twice in one chain: reported, and dropped from it. */
        size_t *first = sy_pk_first_of((const char *const *)ch->to, ch->n_to);
        size_t kept = 0;
        for (size_t j = 0; j < ch->n_to; j++) {
            if (first[j] != j) {
                sy_error(c->d, c->fallback_to_loc[ci][j],
                         "`%s`: `%s` is listed twice in this chain", cp, ch->to[j]);
                free(ch->to[j]);
                continue;
            }
            c->fallback_to_loc[ci][kept] = c->fallback_to_loc[ci][j];
            ch->to[kept++] = ch->to[j];
        }
        ch->n_to = kept;
        free(first);
    }
}

static void parse_price_map(sy_pctx *c, const sy_ynode *v, const char *path, sy_price **out,
                            size_t *n_out)
{
    if (is_null(v)) return;
    if (v->kind != SY_YMAP) {
        sy_pk_expect(c, v, path, "a mapping of models to {input, output} prices");
        return;
    }
    sy_price *prices = sy_xcalloc(v->n_pairs ? v->n_pairs : 1, sizeof *prices);
    size_t n = 0;
    for (size_t i = 0; i < v->n_pairs; i++) {
        const sy_ynode *kn = v->pairs[i].key, *pv = v->pairs[i].value;
        char cp[PATH_CAP];
        sy_pk_join(cp, sizeof cp, path, kn->str ? kn->str : "");
        if (!kn->str || !model_name_ok(kn->str)) {
            bad_model(c, kn, path);
            continue;
        }
        if (pv->kind != SY_YMAP) {
            sy_pk_expect(c, pv, cp, "a price mapping, e.g. {input: 2.00, output: 8.00}");
            continue;
        }
        sy_price *pr = &prices[n++];
        pr->model = sy_xstrdup(kn->str);
        pr->loc = kn->loc;
        sy_pk_parse_map(c, kn, pv, sy_pk_price, pr, cp, NULL, NULL);
        if (!sy_ymap_get(pv, "input") && !sy_ymap_get(pv, "output"))
            sy_error(c->d, kn->loc,
                     "`%s`: give input, output or both (USD per million tokens)", cp);
    }
    *out = prices;
    *n_out = n;
}

void sy_pk_parse_prices(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                        const sy_pkey *k, const char *path)
{
    sy_policy *p = base;
    parse_price_map(c, v, path, &p->prices, &p->n_prices);
}

void sy_pk_parse_provider_prices(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                                 const sy_pkey *k, const char *path)
{
    sy_policy_provider *prov = base;
    parse_price_map(c, v, path, &prov->prices, &prov->n_prices);
}

/* ------------------------------------------------------------ migration */

void sy_pk_parse_provider_ref(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                              const sy_pkey *k, const char *path)
{
    char *t = sy_pk_literal(c, v, path);
    int is_stable = !strcmp(k->name, "stable");
    if (is_stable) {
        c->have_stable = 1;
        c->stable_node = v;
        free(c->stable_name);
        c->stable_name = t;
    } else {
        c->have_canary = 1;
        c->canary_node = v;
        free(c->canary_name);
        c->canary_name = t;
    }
}

void sy_pk_parse_sticky(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                        const sy_pkey *k, const char *path)
{
    sy_migration_conf *m = base;
    if (want_list(c, v, path, "a list such as [header:x-user-id, body:user]") != 0) return;
    size_t cap = list_len(v);
    if (cap == 0) {
        sy_error(c->d, v->loc,
                 "`%s`: needs at least one source (header:NAME or body:KEY); with none every "
                 "request is stable",
                 path);
        return;
    }
    sy_sticky_source *src = sy_xcalloc(cap, sizeof *src);
    size_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        const sy_ynode *it = v->items[i];
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, i);
        char *t = sy_pk_literal(c, it, ip);
        if (!t) continue;
        sy_sticky_kind kind;
        const char *name;
        if (!strncmp(t, "header:", 7)) {
            kind = SY_STICKY_HEADER;
            name = t + 7;
        } else if (!strncmp(t, "body:", 5)) {
            kind = SY_STICKY_BODY;
            name = t + 5;
        } else {
            sy_error(c->d, it->loc, "`%s`: `%.60s` is not header:NAME or body:KEY", ip, it->str);
            free(t);
            continue;
        }
        int ok = *name != 0;
        for (const char *q = name; *q; q++) {
            unsigned char ch = (unsigned char)*q;
            if (kind == SY_STICKY_HEADER ? !(isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch))
                                         : (ch <= 0x20 || ch == 0x7f || ch == '"'))
                ok = 0;
        }
        if (!ok) {
            sy_error(c->d, it->loc, "`%s`: `%.60s` does not name a valid %s", ip, it->str,
                     kind == SY_STICKY_HEADER ? "header" : "top-level body field");
            free(t);
            continue;
        }
        src[n].kind = kind;
        src[n].name = sy_xstrdup(name);
        if (kind == SY_STICKY_HEADER)
            for (char *q = src[n].name; *q; q++) *q = (char)tolower((unsigned char)*q);
        size_t ln = strlen(src[n].name) + 8;
        src[n].label = malloc(ln);
        if (!src[n].label) abort();
        snprintf(src[n].label, ln, "%s:%s", kind == SY_STICKY_HEADER ? "header" : "body",
                 src[n].name);
        n++;
        free(t);
    }
    for (size_t i = 0; i < m->n_sticky; i++) {
        free(m->sticky[i].name);
        free(m->sticky[i].label);
    }
    free(m->sticky);
    m->sticky = src;
    m->n_sticky = n;
}

void sy_pk_parse_canary_endpoints(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                                  const sy_pkey *k, const char *path)
{
    sy_migration_conf *m = base;
    if (want_list(c, v, path, "a list of endpoint names of the canary provider") != 0) return;
    size_t cap = list_len(v);
    if (cap == 0) return; /* empty = every endpoint */
    char **names = sy_xcalloc(cap, sizeof *names);
    free(c->canary_ep_loc);
    c->canary_ep_loc = sy_xcalloc(cap, sizeof *c->canary_ep_loc);
    size_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        const sy_ynode *it = v->items[i];
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, i);
        char *t = sy_pk_literal(c, it, ip);
        if (!t) continue;
        c->canary_ep_loc[n] = it->loc;
        names[n++] = t;
    }
    size_t *first = sy_pk_first_of((const char *const *)names, n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (first[i] != i) {
            sy_error(c->d, c->canary_ep_loc[i], "`%s`: `%s` is listed twice", path, names[i]);
            free(names[i]);
            continue;
        }
        c->canary_ep_loc[kept] = c->canary_ep_loc[i];
        names[kept++] = names[i];
    }
    n = kept;
    free(first);
    free_strv(m->canary_endpoints, m->n_canary_endpoints, 0);
    m->canary_endpoints = names;
    m->n_canary_endpoints = n;
}

void sy_pk_parse_steps(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                       const sy_pkey *k, const char *path)
{
    sy_migration_conf *m = base;
    if (want_list(c, v, path, "a list of percentages, e.g. [10, 25, 50, 100]") != 0) return;
    size_t cap = list_len(v);
    if (cap == 0) return;
    double *steps = sy_xcalloc(cap, sizeof *steps);
    size_t n = 0;
    const sy_ynode *prev = NULL;
    for (size_t i = 0; i < cap; i++) {
        const sy_ynode *it = v->items[i];
        char ip[PATH_CAP];
        idx_path(ip, sizeof ip, path, i);
        double d;
        int unset = 0;
        if (sy_pk_percent(c, it, ip, &d, &unset) != 0) continue;
        if (d <= 0) {
            sy_error(c->d, it->loc, "`%s`: a step must be above 0%%", ip);
            continue;
        }
        if (n > 0 && d <= steps[n - 1]) {
            sy_error(c->d, it->loc, "`%s`: steps must go up: %.60s is not above %.60s", ip,
                     it->str, prev->str);
            continue;
        }
        prev = it;
        steps[n++] = d;
    }
    free(m->steps);
    m->steps = steps;
    m->n_steps = n;
}

/* shared_state.url: a Redis URL, usually from ${VAR}; it may hold a password,
 * which no message, log or status ever shows (the redactor learns it). */
void sy_pk_parse_shared_url(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                            const sy_pkey *k, const char *path)
{
    sy_shared_state_conf *ss = base;
    int env = 0, unset = 0;
    char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
    if (!t) return;
    if (!env && strchr(t, '@') && v->loc.line > 0) {
        /* A password written into the policy: hide it in quoted excerpts. */
        sy_diags_redact(c->d, v->loc, v->len, v->quoted);
        sy_warning(c->d, v->loc, "`%s` holds a password written into the policy; prefer ${VAR} "
                   "from the environment", path);
    }
    sy_redis_url u;
    char err[300];
    if (sy_redis_url_parse(t, &u, err, sizeof err) != 0) {
        sy_error(c->d, v->loc, "`%s`: %s", path, err);
        memset(t, 0, strlen(t));
        free(t);
        return;
    }
    char shown[512];
    sy_redis_url_shown(&u, shown, sizeof shown);
    if (ss->url) memset(ss->url, 0, strlen(ss->url));
    free(ss->url);
    free(ss->url_shown);
    if (ss->password) memset(ss->password, 0, strlen(ss->password));
    free(ss->password);
    ss->url = t;
    ss->url_shown = sy_xstrdup(shown);
    ss->password = u.has_password ? sy_xstrdup(u.password) : NULL;
    sy_redis_url_wipe(&u);
}

/* ------------------------------------------------------------ entry points */

static char *dir_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (!slash) return sy_xstrdup(".");
    if (slash == name) return sy_xstrdup("/");
    return strndup(name, (size_t)(slash - name));
}

/* Locations kept in the policy must name the policy's own copy of the file
 * name: the document (and its name) is freed once the policy is built. */
static void own_locations(sy_policy *p)
{
    for (size_t i = 0; i < p->n_providers; i++) {
        sy_policy_provider *prov = &p->providers[i];
        prov->loc.file = prov->plugin_loc.file = p->file;
        for (size_t j = 0; j < prov->n_endpoints; j++) prov->endpoints[j].loc.file = p->file;
        for (size_t j = 0; j < prov->n_prices; j++) prov->prices[j].loc.file = p->file;
    }
    for (size_t i = 0; i < p->n_fallbacks; i++) p->fallbacks[i].loc.file = p->file;
    for (size_t i = 0; i < p->n_prices; i++) p->prices[i].loc.file = p->file;
}

static sy_policy *build(sy_ydoc *doc, sy_load_mode mode, struct sy_plugin_registry *reg,
                        sy_diags *d)
{
    size_t errors_before = d->n_errors;
    sy_pctx c = {.d = d, .mode = mode, .reg = reg, .file = doc->file};
    const sy_ynode *root = doc->root;
    if (!root || (root->kind == SY_YSCALAR && root->is_null && !root->quoted)) {
        sy_error(d, ((sy_loc){doc->file, 1, 1}),
                 "the policy is empty: it needs at least `version: 1` and `providers`");
        return NULL;
    }
    if (root->kind != SY_YMAP) {
        sy_error(d, root->loc,
                 "the policy must be a mapping of keys (version, server, providers, ...), not %s",
                 sy_ynode_kind_name(root->kind));
        return NULL;
    }
    sy_policy *p = sy_xcalloc(1, sizeof *p);
    p->file = sy_xstrdup(doc->file);
    p->refcount = 1;
    c.p = p;
    c.root = root;
    c.dir = dir_of(doc->file);

    sy_pk_defaults(&c, sy_pk_root, p);

    /* plugins.path first: providers load their plugins from it, wherever in
     * the file it is written. */
    for (const sy_pkey *k = sy_pk_root; k->name; k++) {
        if (!(k->flags & SY_PKF_EARLY)) continue;
        const sy_ypair *pr = sy_ymap_pair(root, k->name);
        if (pr) sy_pk_parse_value(&c, pr->key, pr->value, p, k, k->name);
    }
    c.early_done = 1;
    /* Only a policy that names folders changes the registry's: a caller that
     * set its own (tests, `plugins --path`) keeps them otherwise. */
    if (reg && p->n_plugin_paths)
        sy_plugin_registry_set_dirs(reg, p->plugin_paths, p->n_plugin_paths);

    sy_pk_parse_map(&c, NULL, root, sy_pk_root, p, "", NULL, NULL);
    sy_pk_check_policy(&c);

    if (c.fallback_to_loc) {
        for (size_t i = 0; i < p->n_fallbacks; i++) free(c.fallback_to_loc[i]);
        free(c.fallback_to_loc);
    }
    free(c.canary_ep_loc);
    sy_pk_env_vals_clear(&c);
    free(c.stable_name);
    free(c.canary_name);
    free(c.dir);
    if (d->n_errors > errors_before) {
        sy_policy_free(p);
        return NULL;
    }
    own_locations(p);
    p->redactor = sy_redactor_for_policy(p);
    return p;
}

sy_policy *sy_policy_load_buffer(const char *name, const char *text, size_t len,
                                 sy_load_mode mode, struct sy_plugin_registry *reg, sy_diags *d)
{
    sy_ydoc doc = {0};
    if (sy_ydoc_load_buffer(&doc, name, text, len, d) != 0) {
        sy_ydoc_free(&doc);
        return NULL;
    }
    sy_policy *p = build(&doc, mode, reg, d);
    sy_ydoc_free(&doc);
    return p;
}

sy_policy *sy_policy_load(const char *path, sy_load_mode mode, struct sy_plugin_registry *reg,
                          sy_diags *d)
{
    sy_ydoc doc = {0};
    if (sy_ydoc_load_file(&doc, path, d) != 0) {
        sy_ydoc_free(&doc);
        return NULL;
    }
    sy_policy *p = build(&doc, mode, reg, d);
    sy_ydoc_free(&doc);
    return p;
}
