/*
 * policy.c - the policy's lifetime (reference counting, freeing) and lookups.
 * Loading is in policy_load.c, the key tables in policy_keys.c.
 *
 * Out of memory while loading a policy aborts (sy_xcalloc/sy_xstrdup): the
 * input is bounded (1 MiB of YAML, 100000 nodes) so an allocation failure
 * here means the machine is out of memory, with nothing sensible to return.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_keys.h"
#include "redact.h"

void *sy_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *sy_xstrdup(const char *s)
{
    char *r = strdup(s ? s : "");
    if (!r) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    return r;
}

static void wipe(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

static void free_strv(char **v, size_t n, int secret)
{
    for (size_t i = 0; v && i < n; i++) {
        if (secret)
            wipe(v[i]);
        else
            free(v[i]);
    }
    free(v);
}

static void free_prices(sy_price *pr, size_t n)
{
    for (size_t i = 0; pr && i < n; i++) free(pr[i].model);
    free(pr);
}

void sy_policy_free(sy_policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_providers; i++) {
        sy_policy_provider *prov = &p->providers[i];
        /* The instance goes first: it may point into its config values. */
        if (prov->plugin && prov->instance) prov->plugin->destroy(prov->instance);
        for (size_t j = 0; j < prov->n_endpoints; j++) {
            sy_policy_endpoint *ep = &prov->endpoints[j];
            free(ep->name);
            free(ep->base_url);
            free(ep->base_url_raw);
            if (prov->plugin) sy_pk_free_config(prov->plugin->endpoint_keys, ep->plugin_cfg);
        }
        free(prov->endpoints);
        if (prov->plugin) sy_pk_free_config(prov->plugin->config_keys, prov->plugin_cfg);
        free(prov->name);
        free(prov->plugin_name);
        free(prov->health.path);
        free_prices(prov->prices, prov->n_prices);
    }
    free(p->providers);

    sy_server_conf *s = &p->server;
    free(s->listen);
    free_strv(s->client_keys, s->n_client_keys, 1);
    wipe(s->admin_key);
    free(s->access_log);

    free_strv(p->plugin_paths, p->n_plugin_paths, 0);
    for (size_t i = 0; i < p->n_fallbacks; i++) {
        free(p->fallbacks[i].model);
        free_strv(p->fallbacks[i].to, p->fallbacks[i].n_to, 0);
    }
    free(p->fallbacks);
    free_prices(p->prices, p->n_prices);
    free_strv(p->models, p->n_models, 0);

    sy_migration_conf *m = &p->migration;
    free(m->rollout_id);
    for (size_t i = 0; i < m->n_sticky; i++) {
        free(m->sticky[i].name);
        free(m->sticky[i].label);
    }
    free(m->sticky);
    free_strv(m->canary_endpoints, m->n_canary_endpoints, 0);
    free(m->steps);
    free(m->rollback.state_file);
    sy_shared_state_conf *ss = &p->shared_state;
    wipe(ss->url);
    wipe(ss->password);
    free(ss->url_shown);
    free(ss->prefix);
    sy_redactor_free(p->redactor);
    free(p->file);
    free(p);
}

sy_policy *sy_policy_ref(sy_policy *p)
{
    if (p) __atomic_add_fetch(&p->refcount, 1, __ATOMIC_RELAXED);
    return p;
}

void sy_policy_unref(sy_policy *p)
{
    if (!p) return;
    if (__atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL) == 0) sy_policy_free(p);
}

const sy_policy_provider *sy_policy_provider_by_name(const sy_policy *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->n_providers; i++)
        if (!strcmp(p->providers[i].name, name)) return &p->providers[i];
    return NULL;
}

const sy_fallback_chain *sy_policy_fallbacks(const sy_policy *p, const char *model)
{
    if (!p || !model) return NULL;
    for (size_t i = 0; i < p->n_fallbacks; i++)
        if (!strcmp(p->fallbacks[i].model, model)) return &p->fallbacks[i];
    return NULL;
}

static const sy_price *find_price(const sy_price *pr, size_t n, const char *model)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(pr[i].model, model)) return &pr[i];
    return NULL;
}

const sy_price *sy_policy_price(const sy_policy *p, const char *model)
{
    if (!p || !model) return NULL;
    return find_price(p->prices, p->n_prices, model);
}

const sy_price *sy_policy_price_at(const sy_policy *p, const sy_policy_provider *prov,
                                   const char *model)
{
    if (!p || !model) return NULL;
    const sy_price *own = prov ? find_price(prov->prices, prov->n_prices, model) : NULL;
    return own ? own : sy_policy_price(p, model);
}

int sy_policy_retry_on_status(const sy_policy *p, int status)
{
    if (!p) return 0;
    for (size_t i = 0; i < p->retry.n_on_status; i++)
        if (p->retry.on_status[i] == status) return 1;
    return 0;
}

const char *sy_op_path(int op)
{
    switch (op) {
    case SY_OP_CHAT: return "/v1/chat/completions";
    case SY_OP_COMPLETIONS: return "/v1/completions";
    case SY_OP_EMBEDDINGS: return "/v1/embeddings";
    case SY_OP_RESPONSES: return "/v1/responses";
    default: return NULL;
    }
}

int sy_policy_provider_serves(const sy_policy_provider *prov, int op)
{
    const sy_plugin *pl = prov ? prov->plugin : NULL;
    if (!pl || op <= 0 || op >= 32) return 0;
    /* A plugin built before ABI 1.3 ends before .ops; 0 means the classic three. */
    uint32_t ops = pl->size >= offsetof(sy_plugin, ops) + sizeof pl->ops ? pl->ops : 0;
    if (!ops) ops = SY_OPS_CLASSIC;
    return (ops & SY_OP_BIT(op)) != 0;
}

int sy_policy_health_probed(const sy_policy_provider *prov)
{
    return prov->health.enabled && !(prov->plugin && prov->plugin->local_reply);
}
