/*
 * policy_plugin.c - a provider's plugin: load it, check the keys it declares
 * (provider level and endpoint level) against the policy, parse each value by
 * its declared type, apply declared defaults, create the instance and let the
 * plugin resolve endpoint base URLs (holysheep: `region: cn-north`).
 *
 * Without a registry (sy_policy_load(..., reg = NULL), as the fuzzer and the
 * schema tests do) none of this runs and plugin keys are not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "policy_keys.h"

static const sy_config_key no_keys[] = {{.name = NULL}};

static size_t count_keys(const sy_config_key *keys)
{
    size_t n = 0;
    while (keys && keys[n].name) n++;
    return n;
}

static int core_key(const sy_pkey *table, const char *name)
{
    for (const sy_pkey *k = table; k->name; k++)
        if (!strcmp(k->name, name)) return 1;
    return 0;
}

void sy_pk_env_vals_clear(sy_pctx *c)
{
    for (size_t i = 0; i < c->n_env_vals; i++) {
        memset(c->env_vals[i].value, 0, strlen(c->env_vals[i].value));
        free(c->env_vals[i].value);
    }
    free(c->env_vals);
    c->env_vals = NULL;
    c->n_env_vals = 0;
}

static void remember_env_value(sy_pctx *c, const char *value, const char *raw)
{
    if (strlen(value) < 3) return; /* too short to scrub without mangling the message */
    struct sy_pk_envval *v = realloc(c->env_vals, (c->n_env_vals + 1) * sizeof *v);
    if (!v) abort();
    c->env_vals = v;
    v[c->n_env_vals].value = sy_xstrdup(value);
    v[c->n_env_vals].raw = raw;
    c->n_env_vals++;
}

/* A plugin's message may quote a value it was given; put the raw text
 * ("${HOLYSHEEP_API_KEY}") where a value from the environment appears. */
static void scrub(const sy_pctx *c, char *msg, size_t cap)
{
    for (size_t i = 0; i < c->n_env_vals; i++) {
        const char *val = c->env_vals[i].value, *raw = c->env_vals[i].raw;
        size_t vl = strlen(val), rl = strlen(raw);
        if (!strstr(msg, val)) continue;
        char *out = sy_xcalloc(cap, 1);
        size_t o = 0;
        for (const char *p = msg; *p && o + 1 < cap;) {
            if (!strncmp(p, val, vl)) {
                size_t n = rl < cap - 1 - o ? rl : cap - 1 - o;
                memcpy(out + o, raw, n);
                o += n;
                p += vl;
            } else {
                out[o++] = *p++;
            }
        }
        out[o] = 0;
        memcpy(msg, out, o + 1);
        memset(out, 0, cap);
        free(out);
    }
}

const sy_config_key *sy_pk_provider_load(sy_pctx *c, sy_policy_provider *prov,
                                         const sy_ynode *map, const char *path)
{
    sy_pk_env_vals_clear(c);
    const sy_ynode *pn = sy_ymap_get(map, "plugin");
    if (pn) prov->plugin_loc = pn->loc;
    if (!c->reg || !pn || pn->kind != SY_YSCALAR) return sy_pk_any_extra;

    /* Any problem with `plugin:` itself is reported once, by the walk over
     * the provider's keys; here a bad name only means "plugin unknown". */
    if (pn->is_null || !pn->str || strstr(pn->str, "${") || !sy_pk_name_ok(pn->str))
        return sy_pk_any_extra;
    char *name = sy_xstrdup(pn->str);
    char err[512] = "";
    const sy_plugin *pl = sy_plugin_load(c->reg, name, err, sizeof err);
    if (!pl) {
        sy_error(c->d, pn->loc, "`%s.plugin`: %s", path, err[0] ? err : "cannot load the plugin");
        free(name);
        return sy_pk_any_extra;
    }
    free(name);
    prov->plugin = pl;
    for (const sy_config_key *k = pl->config_keys; k && k->name; k++)
        if (core_key(sy_pk_provider, k->name))
            sy_error(c->d, pn->loc,
                     "`%s.plugin`: plugin `%s` declares the key `%s`, which switchyard itself "
                     "uses; the plugin cannot be used",
                     path, pl->name, k->name);
    return pl->config_keys ? pl->config_keys : no_keys;
}

const sy_config_key *sy_pk_endpoint_extra(sy_pctx *c, const sy_policy_provider *prov)
{
    if (!c->reg || !prov->plugin) return sy_pk_any_extra;
    return prov->plugin->endpoint_keys ? prov->plugin->endpoint_keys : no_keys;
}

/* Parse one value (from the policy or a declared default) by its type. */
static int parse_cfg_value(sy_pctx *c, const sy_config_key *k, const sy_ynode *v,
                           const char *path, sy_config_value *out, int *unset)
{
    char buf[64];
    int env = 0;
    *unset = 0;
    switch (k->type) {
    case SY_CFG_STRING:
    case SY_CFG_SECRET: {
        char *t = sy_pk_text(c, v, path, 0, &env, unset);
        if (!t) {
            if (*unset) {
                /* Validate mode (serve made it an error): the key was given but
                 * its variable is not set here. The plugin still gets a value,
                 * so its checks and endpoint resolution run: a secret gets its
                 * raw text ("${HOLYSHEEP_API_KEY}", no secret in it), a string
                 * the empty string. Nothing is ever sent in a dry run. */
                out->set = 1;
                out->s = sy_xstrdup(k->type == SY_CFG_SECRET ? v->str : "");
            }
            return -1;
        }
        if (env) remember_env_value(c, t, v->str);
        if (k->type == SY_CFG_SECRET && !env && *t && v->loc.line > 0) {
            sy_diags_redact(c->d, v->loc, v->len, v->quoted);
            sy_warning(c->d, v->loc,
                       "`%s` holds a secret written into the policy; prefer ${VAR} from the "
                       "environment",
                       path);
        }
        out->s = t;
        out->set = 1;
        return 0;
    }
    case SY_CFG_URL: {
        char *t = sy_pk_url(c, v, path, unset);
        if (!t) return -1;
        if (strstr(v->str ? v->str : "", "${")) remember_env_value(c, t, v->str);
        out->s = t;
        out->set = 1;
        return 0;
    }
    case SY_CFG_INT:
        if (sy_pk_int(c, v, path, &out->i, unset) != 0) return -1;
        snprintf(buf, sizeof buf, "%lld", (long long)out->i);
        break;
    case SY_CFG_NUMBER:
        if (sy_pk_number(c, v, path, &out->d, unset) != 0) return -1;
        snprintf(buf, sizeof buf, "%.17g", out->d);
        break;
    case SY_CFG_BOOL: {
        int b;
        if (sy_pk_bool(c, v, path, &b, unset) != 0) return -1;
        out->i = b;
        snprintf(buf, sizeof buf, "%s", b ? "true" : "false");
        break;
    }
    case SY_CFG_DURATION:
        if (sy_pk_duration(c, v, path, &out->i, unset) != 0) return -1;
        snprintf(buf, sizeof buf, "%lldms", (long long)out->i);
        break;
    case SY_CFG_PERCENT:
        if (sy_pk_percent(c, v, path, &out->d, unset) != 0) return -1;
        snprintf(buf, sizeof buf, "%.17g", out->d);
        break;
    default:
        sy_error(c->d, v->loc, "`%s`: the plugin declares an unknown type (%d)", path,
                 (int)k->type);
        return -1;
    }
    out->s = sy_xstrdup(buf);
    out->set = 1;
    return 0;
}

static void apply_default(sy_pctx *c, const sy_config_key *k, const char *owner, sy_loc loc,
                          sy_config_value *out)
{
    sy_ynode n;
    memset(&n, 0, sizeof n);
    n.kind = SY_YSCALAR;
    n.str = (char *)k->default_value;
    n.len = strlen(k->default_value);
    n.loc = loc;
    n.loc.line = 0; /* not the user's text: no "literal secret" warning */
    sy_diags scratch;
    sy_diags_init(&scratch);
    sy_pctx q = *c;
    q.d = &scratch;
    int unset = 0;
    if (parse_cfg_value(&q, k, &n, k->name, out, &unset) != 0)
        sy_error(c->d, loc, "plugin `%s` declares a bad default `%.60s` for `%s`", owner,
                 k->default_value, k->name);
    sy_diags_free(&scratch);
}

static sy_config_value *parse_values(sy_pctx *c, const sy_config_key *keys, const sy_ynode *map,
                                     const char *path, const char *owner, sy_loc missing_loc)
{
    size_t n = count_keys(keys);
    if (n == 0) return NULL;
    sy_config_value *vals = sy_xcalloc(n, sizeof *vals);
    char sub[512];
    for (size_t i = 0; i < n; i++) {
        const sy_config_key *k = &keys[i];
        if (core_key(sy_pk_provider, k->name) || core_key(sy_pk_endpoint, k->name)) continue;
        const sy_ynode *v = sy_ymap_get(map, k->name);
        int unset = 0;
        if (v) {
            if (parse_cfg_value(c, k, v, sy_pk_join(sub, sizeof sub, path, k->name), &vals[i],
                                &unset) == 0 || !unset || vals[i].set)
                continue;
        }
        if (k->default_value) {
            apply_default(c, k, owner, missing_loc, &vals[i]);
        } else if (k->required && !v) {
            sy_error(c->d, missing_loc, "`%s`: plugin `%s` needs `%s` (%s, %s)", path, owner,
                     k->name, sy_config_type_name(k->type), k->help ? k->help : "no help given");
        }
    }
    return vals;
}

void sy_pk_endpoint_plugin(sy_pctx *c, sy_policy_provider *prov, sy_policy_endpoint *ep,
                           const sy_ynode *map, const char *path)
{
    if (!c->reg || !prov->plugin) return;
    ep->plugin_cfg =
        parse_values(c, prov->plugin->endpoint_keys, map, path, prov->plugin->name, ep->loc);
}

void sy_pk_provider_finish(sy_pctx *c, sy_policy_provider *prov, const sy_ynode *key,
                           const sy_ynode *map, const char *path)
{
    if (!c->reg || !prov->plugin) return;
    const sy_plugin *pl = prov->plugin;
    prov->plugin_cfg = parse_values(c, pl->config_keys, map, path, pl->name, key->loc);
    /* A provider with errors of its own is not handed to its plugin. */
    if (c->d->n_errors > c->prov_errors) return;

    char err[512] = "";
    void *inst = NULL;
    if (pl->create(sy_host_api_get(), prov->plugin_cfg, &inst, err, sizeof err) != 0) {
        err[sizeof err - 1] = 0;
        scrub(c, err, sizeof err);
        sy_error(c->d, prov->plugin_loc.line ? prov->plugin_loc : key->loc,
                 "`%s`: plugin `%s` refused this provider's settings: %s", path, pl->name,
                 err[0] ? err : "no reason given");
        return;
    }
    prov->instance = inst;

    for (size_t i = 0; i < prov->n_endpoints; i++) {
        sy_policy_endpoint *ep = &prov->endpoints[i];
        char ep_path[600];
        snprintf(ep_path, sizeof ep_path, "%s.endpoints[%zu]", path, ep->global_index);
        char url[SY_URL_MAX];
        snprintf(url, sizeof url, "%s", ep->base_url ? ep->base_url : "");
        if (pl->resolve_endpoint) {
            char e2[512] = "";
            if (pl->resolve_endpoint(inst, ep->name, ep->plugin_cfg, url, sizeof url, e2,
                                     sizeof e2) != 0) {
                e2[sizeof e2 - 1] = 0;
                scrub(c, e2, sizeof e2);
                sy_error(c->d, ep->loc, "`%s`: %s", ep_path,
                         e2[0] ? e2 : "the plugin refused this endpoint");
                continue;
            }
            url[sizeof url - 1] = 0;
        }
        if (!url[0]) {
            sy_error(c->d, ep->loc,
                     "`%s`: endpoint `%s` needs base_url (plugin `%s` cannot derive one)",
                     ep_path, ep->name, pl->name);
            continue;
        }
        /* The plugin has the last word on its URLs (mock:// for the mock);
         * the user's own base_url was checked as an http(s) URL already. */
        int bad = 0;
        for (const char *q = url; *q; q++) bad |= (unsigned char)*q <= 0x20 || *q == 0x7f;
        if (bad) {
            sy_error(c->d, ep->loc,
                     "`%s`: plugin `%s` gave endpoint `%s` a URL with a space or control "
                     "character",
                     ep_path, pl->name, ep->name);
            continue;
        }
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/') url[--n] = 0;
        if (!ep->base_url || strcmp(ep->base_url, url)) {
            free(ep->base_url);
            ep->base_url = sy_xstrdup(url);
        }
        /* A URL the plugin built from values from the environment (a region
         * from ${VAR}) is printed with their raw text in their place. */
        if (!ep->base_url_raw) {
            char shown[SY_URL_MAX];
            snprintf(shown, sizeof shown, "%s", url);
            scrub(c, shown, sizeof shown);
            if (strcmp(shown, url)) ep->base_url_raw = sy_xstrdup(shown);
        }
    }
}

void sy_pk_free_config(const sy_config_key *keys, sy_config_value *vals)
{
    if (!vals) return;
    size_t n = count_keys(keys);
    for (size_t i = 0; i < n; i++) {
        char *s = (char *)vals[i].s;
        if (!s) continue;
        /* Every value may be a secret (or carry one): wipe it. */
        memset(s, 0, strlen(s));
        free(s);
    }
    free(vals);
}
