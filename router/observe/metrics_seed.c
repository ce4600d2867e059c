/* metrics_seed.c - declare a policy's series at 0 (see metrics_seed.h). */
#include "metrics_seed.h"

#include <string.h>

#include "metrics.h"

/* The label the router uses for a model the policy does not name. */
#define OTHER_MODEL "other"

/* Same rule as the planner: rollout.canary_endpoints, when given, limits the
 * canary arm to those endpoints. */
static int on_canary(const sy_migration_conf *m, const sy_policy_endpoint *ep)
{
    if (!m->canary_endpoints || m->n_canary_endpoints == 0) return 1;
    for (size_t i = 0; i < m->n_canary_endpoints; i++)
        if (m->canary_endpoints[i] && ep->name && !strcmp(m->canary_endpoints[i], ep->name))
            return 1;
    return 0;
}

/* requests_total{code="200"} and request_duration_seconds for one arm. */
static void seed_arm(const sy_policy *p, const char *arm, const sy_policy_provider *pr,
                     const sy_migration_conf *canary_filter)
{
    for (size_t j = 0; j < pr->n_endpoints; j++) {
        const sy_policy_endpoint *ep = &pr->endpoints[j];
        if (canary_filter && !on_canary(canary_filter, ep)) continue;
        for (size_t k = 0; k < p->n_models; k++)
            sy_metrics_declare_request(arm, pr->name, ep->name, p->models[k], 200);
        sy_metrics_declare_request(arm, pr->name, ep->name, OTHER_MODEL, 200);
    }
}

static int has_price(const sy_policy *p, const char *model)
{
    if (sy_policy_price(p, model)) return 1;
    for (size_t i = 0; i < p->n_providers; i++)
        if (sy_policy_price_at(p, &p->providers[i], model)) return 1;
    return 0;
}

/* Sweep callback: keep an endpoint's health gauge while the policy still has
 * the endpoint, and a by-rule 1 only while it still has no health_check. */
static int keep_health(void *ctx, const char *provider, const char *endpoint, int assumed)
{
    const sy_policy *p = ctx;
    const sy_policy_provider *pr = sy_policy_provider_by_name(p, provider);
    if (!pr) return 0;
    for (size_t j = 0; j < pr->n_endpoints; j++)
        if (!strcmp(pr->endpoints[j].name, endpoint)) return !assumed || !sy_policy_health_probed(pr);
    return 0;
}

void sy_metrics_seed_policy(const sy_policy *p)
{
    if (!p) return;
    const sy_migration_conf *m = &p->migration;
    if (m->stable < p->n_providers) seed_arm(p, "stable", &p->providers[m->stable], NULL);
    if (m->enabled && m->canary < p->n_providers)
        seed_arm(p, "canary", &p->providers[m->canary], m);

    sy_metrics_sweep_endpoint_health(keep_health, (void *)p);
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *pr = &p->providers[i];
        sy_metrics_declare_provider(pr->name);
        for (size_t k = 0; k < p->n_models; k++)
            sy_metrics_declare_without_usage(pr->name, p->models[k]);
        sy_metrics_declare_without_usage(pr->name, OTHER_MODEL);
        for (size_t j = 0; j < pr->n_endpoints; j++) {
            sy_metrics_declare_attempt(pr->name, pr->endpoints[j].name, 200);
            sy_metrics_declare_breaker(pr->name, pr->endpoints[j].name);
            if (!sy_policy_health_probed(pr))
                sy_metrics_assume_endpoint_healthy(pr->name, pr->endpoints[j].name);
        }
    }

    for (size_t i = 0; i < p->n_fallbacks; i++) {
        const sy_fallback_chain *c = &p->fallbacks[i];
        for (size_t k = 0; k < c->n_to; k++)
            if (strcmp(c->to[k], c->model) != 0) sy_metrics_declare_fallback(c->model, c->to[k]);
    }
    for (size_t k = 0; k < p->n_models; k++)
        sy_metrics_declare_model(p->models[k], has_price(p, p->models[k]));
    sy_metrics_declare_model(OTHER_MODEL, 0);

    /* Every reason a rollback can have (spec.md): all at 0 from the start. */
    sy_metrics_declare_rollbacks("success_rate");
    sy_metrics_declare_rollbacks("p95");
    sy_metrics_declare_rollbacks("admin");
}
