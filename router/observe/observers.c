/* observers.c - metrics and access log as observers of the engine (see observers.h). */
#include "observers.h"

#include <stdlib.h>
#include <string.h>

#include "access_log.h"
#include "metrics.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Metrics label only the models the policy names: a client sending random
 * model names must not grow the registry (the access log keeps them). */
static const char *metric_model(const sy_policy *p, const char *model)
{
    if (!model || !model[0]) return "";
    if (!p || !p->n_models) return "other";
    char *const *hit = bsearch(&model, p->models, p->n_models, sizeof *p->models, cmp_str);
    return hit ? *hit : "other";
}

static void metrics_attempt(void *ctx, const sy_attempt_event *e)
{
    (void)ctx;
    if (e->budget_exhausted) {
        sy_metrics_inc_retry_budget_exhausted(e->provider);
        return;
    }
    if (e->no_route) return; /* not an attempt: for the rollout windows only */
    sy_metrics_observe_attempt(e);
}

static void metrics_request(void *ctx, const sy_request_event *e)
{
    (void)ctx;
    sy_request_event m = *e;
    m.model_asked = metric_model(e->policy, e->model_asked);
    m.model_served = metric_model(e->policy, e->model_served);
    sy_metrics_observe_request(&m);
    if (e->cost_usd >= 0 && m.model_served[0]) sy_metrics_add_cost(m.model_served, e->cost_usd);
    /* Billed by the provider, but we cannot say how much: counted, never as free. */
    if (e->upstream_ok && (e->input_tokens < 0 || e->output_tokens < 0))
        sy_metrics_inc_without_usage(e->provider, m.model_served);
}

static void metrics_endpoint(void *ctx, const sy_endpoint_state *s)
{
    (void)ctx;
    sy_metrics_declare_breaker(s->provider, s->endpoint);
    sy_metrics_set_breaker_state(s->provider, s->endpoint, (int)s->breaker.state);
    /* Measured health only; an endpoint without probes keeps the value the
     * seeding gives it (1 by rule without health_check, none until probed). */
    if (s->checks) sy_metrics_set_endpoint_healthy(s->provider, s->endpoint, s->healthy);
}

static void access_request(void *ctx, const sy_request_event *e) { sy_access_log_write(ctx, e); }

int sy_observers_install(sy_router *r, sy_access_log *log)
{
    if (sy_router_add_observer(r, (sy_observer){metrics_attempt, metrics_request,
                                                metrics_endpoint, NULL}) != 0)
        return -1;
    if (log && sy_router_add_observer(r, (sy_observer){NULL, access_request, NULL, log}) != 0)
        return -1;
    return 0;
}
