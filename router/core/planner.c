/*
 * planner.c - the arm and the ordered attempt plan for one request.
 *
 * Pure functions of (policy, request): no I/O, no clock, no randomness, no
 * allocation. `serve` and `explain` call exactly this code.
 *
 * The sticky hash is part of the user contract: changing it would move users
 * between arms on upgrade. tests/planner pins its output; never change it.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "planner.h"

const char *sy_arm_name(sy_arm a)
{
    return a == SY_ARM_CANARY ? "canary" : "stable";
}

/* ------------------------------------------------------------ sticky hash */

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t fnv1a_bytes(uint64_t h, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV64_PRIME;
    }
    return h;
}

/* MurmurHash3's fmix64: FNV-1a's low bits are weak on short, similar keys
 * ("user-1", "user-2"), and the bucket is hash % 10000. */
static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

uint64_t sy_sticky_hash(const char *salt, const char *key, size_t key_len)
{
    /* Byte-wise over unsigned chars: the same answer on every machine,
     * whatever its endianness or the signedness of char. */
    uint64_t h = FNV64_OFFSET;
    if (salt) h = fnv1a_bytes(h, (const unsigned char *)salt, strlen(salt));
    static const unsigned char sep = 0;
    h = fnv1a_bytes(h, &sep, 1);
    if (key) h = fnv1a_bytes(h, (const unsigned char *)key, key_len);
    return fmix64(h);
}

uint32_t sy_sticky_bucket(const char *salt, const char *key, size_t key_len)
{
    return (uint32_t)(sy_sticky_hash(salt, key, key_len) % SY_BUCKETS);
}

const char *sy_rollout_id(const sy_policy *p)
{
    /* The loader fills the default "<stable>-><canary>"; a policy built by
     * hand without one hashes with the empty salt. */
    if (!p || !p->migration.rollout_id) return "";
    return p->migration.rollout_id;
}

/* ------------------------------------------------------------- sticky key */

/* The default sources, used when a policy (built by hand) has none. The
 * loader always fills migration.sticky, with these as its default. */
static const sy_sticky_source default_sticky[] = {
    {SY_STICKY_HEADER, (char *)"x-user-id", (char *)"header:x-user-id"},
    {SY_STICKY_BODY, (char *)"user", (char *)"body:user"},
};

static const char *source_label(const sy_sticky_source *s)
{
    if (s->label) return s->label;
    /* No label (hand-built policy): the name alone, still meaningful. */
    return s->name;
}

const char *sy_sticky_pick(const sy_policy *p,
                           const char *(*get_header)(void *ctx, const char *name),
                           const char *(*body_value)(void *ctx, const char *key), void *ctx,
                           const char **source)
{
    if (source) *source = NULL;
    if (!p) return NULL;
    const sy_sticky_source *src = p->migration.sticky;
    size_t n = p->migration.n_sticky;
    if (!src || n == 0) {
        src = default_sticky;
        n = sizeof default_sticky / sizeof default_sticky[0];
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = NULL;
        if (!src[i].name) continue;
        if (src[i].kind == SY_STICKY_HEADER && get_header)
            v = get_header(ctx, src[i].name);
        else if (src[i].kind == SY_STICKY_BODY && body_value)
            v = body_value(ctx, src[i].name);
        /* An empty value is no key: hashing "" would put every anonymous
         * caller in one bucket, all on the same arm. */
        if (v && *v) {
            if (source) *source = source_label(&src[i]);
            return v;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------- plan */

/* Basis points: 10% -> 1000 of 10000 buckets. Out of range or NaN clamps. */
uint32_t sy_canary_threshold(double percent)
{
    if (!(percent > 0)) return 0; /* also NaN */
    if (percent >= 100) return SY_BUCKETS;
    long long t = llround(percent * (SY_BUCKETS / 100));
    if (t < 0) return 0;
    if (t > (long long)SY_BUCKETS) return SY_BUCKETS;
    return (uint32_t)t;
}

static int endpoint_allowed(const sy_migration_conf *m, const sy_policy_endpoint *ep)
{
    if (!m->canary_endpoints || m->n_canary_endpoints == 0) return 1;
    for (size_t i = 0; i < m->n_canary_endpoints; i++)
        if (m->canary_endpoints[i] && ep->name && !strcmp(m->canary_endpoints[i], ep->name))
            return 1;
    return 0;
}

static int step_seen(const sy_plan *out, const sy_policy_endpoint *ep, const char *model)
{
    for (size_t i = 0; i < out->n_steps; i++)
        if (out->steps[i].endpoint == ep && !strcmp(out->steps[i].model, model)) return 1;
    return 0;
}

/* balance: latency: within each run of equal priority, lowest latency first
 * (insertion sort: a route has a handful of endpoints; stable, so ties keep
 * the order written). */
static void order_by_latency(sy_plan_step *steps, size_t n, const sy_route_input *in)
{
    for (size_t i = 0; i < n; i++)
        steps[i].latency_ms = in->latency_ms(in->latency_ctx, steps[i].provider, steps[i].endpoint);
    for (size_t i = 1; i < n; i++) {
        sy_plan_step s = steps[i];
        double key = s.latency_ms < 0 ? 0 : s.latency_ms;
        size_t j = i;
        while (j > 0 && steps[j - 1].endpoint->priority == s.endpoint->priority &&
               (steps[j - 1].latency_ms < 0 ? 0 : steps[j - 1].latency_ms) > key) {
            steps[j] = steps[j - 1];
            j--;
        }
        steps[j] = s;
    }
}

/* Does prov's plugin serve op? Noted in the plan when not. */
static int serves(const sy_route_input *in, sy_plan *out, const sy_policy_provider *prov)
{
    if (!in->op || sy_policy_provider_serves(prov, in->op)) return 1;
    for (size_t i = 0; i < out->n_unserved; i++)
        if (out->unserved[i] == prov) return 0;
    if (out->n_unserved < sizeof out->unserved / sizeof out->unserved[0])
        out->unserved[out->n_unserved++] = prov;
    return 0;
}

/* Append one route: every endpoint of prov (filtered on the canary) for model.
 * Returns 0 when the plan is full. */
static int add_route(const sy_policy *p, const sy_route_input *in, sy_plan *out,
                     const sy_policy_provider *prov, const char *model, sy_arm arm, int filter)
{
    int added = 0;
    if (!serves(in, out, prov)) return 1;
    size_t first = out->n_steps;
    for (size_t i = 0; i < prov->n_endpoints; i++) {
        const sy_policy_endpoint *ep = &prov->endpoints[i];
        if (filter && !endpoint_allowed(&p->migration, ep)) continue;
        /* The same endpoint and model twice (stable == canary) adds nothing. */
        if (step_seen(out, ep, model)) continue;
        if (out->n_steps == SY_PLAN_MAX) {
            out->truncated = 1;
            if (added) out->n_routes++;
            return 0;
        }
        sy_plan_step *s = &out->steps[out->n_steps++];
        s->provider = prov;
        s->endpoint = ep;
        s->model = model;
        s->route = out->n_routes;
        s->arm = arm;
        s->latency_ms = -1;
        added = 1;
    }
    if (added) out->n_routes++;
    if (prov->balance == SY_BALANCE_LATENCY && in->latency_ms)
        order_by_latency(out->steps + first, out->n_steps - first, in);
    return 1;
}

static int model_listed(char const *const *models, size_t n, const char *m)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(models[i], m)) return 1;
    return 0;
}

/* Same as sy_policy_fallbacks(); kept here so the planner needs nothing
 * from the loader but the struct. */
static const sy_fallback_chain *find_chain(const sy_policy *p, const char *model)
{
    for (size_t i = 0; p->fallbacks && i < p->n_fallbacks; i++)
        if (p->fallbacks[i].model && !strcmp(p->fallbacks[i].model, model))
            return &p->fallbacks[i];
    return NULL;
}

void sy_plan_reset(sy_plan *out)
{
    memset(out, 0, offsetof(sy_plan, steps));
    memset(&out->n_steps, 0, sizeof *out - offsetof(sy_plan, n_steps));
    out->arm = SY_ARM_STABLE;
}

void sy_plan_build(const sy_policy *p, const sy_route_input *in, sy_plan *out)
{
    sy_plan_reset(out);
    if (!p || !in) return;

    const sy_migration_conf *m = &p->migration;
    /* An empty key is no key, as in sy_sticky_pick. */
    int has_key = in->sticky_key && in->sticky_key_len > 0;
    out->sticky_source = has_key ? in->sticky_source : NULL;
    if (has_key) {
        out->has_key = 1;
        out->bucket = sy_sticky_bucket(sy_rollout_id(p), in->sticky_key, in->sticky_key_len);
    }
    int canary_ok = m->enabled && m->canary < p->n_providers;
    if (canary_ok && out->has_key && out->bucket < sy_canary_threshold(in->percent))
        out->arm = SY_ARM_CANARY;

    if (!in->model || !*in->model || m->stable >= p->n_providers) return;
    const sy_policy_provider *stable = &p->providers[m->stable];
    const sy_policy_provider *arm_prov =
        out->arm == SY_ARM_CANARY ? &p->providers[m->canary] : stable;

    /* Models to try: the requested one, then its own fallback chain in order.
     * Only the requested model's chain is followed (not the chains of the
     * fallback models): the chain a user writes for a model is the complete
     * list of what may answer for it. Duplicates are tried once. */
    const char *models[SY_PLAN_MAX + 1];
    size_t n_models = 0;
    models[n_models++] = in->model;
    const sy_fallback_chain *chain = find_chain(p, in->model);
    for (size_t i = 0; chain && i < chain->n_to && n_models < SY_PLAN_MAX + 1; i++) {
        const char *fm = chain->to[i];
        if (fm && *fm && !model_listed(models, n_models, fm)) models[n_models++] = fm;
    }

    for (size_t i = 0; i < n_models; i++) {
        if (!add_route(p, in, out, arm_prov, models[i], out->arm, out->arm == SY_ARM_CANARY))
            return;
        if (out->arm == SY_ARM_CANARY && m->fallback_to_stable &&
            !add_route(p, in, out, stable, models[i], SY_ARM_STABLE, 0))
            return;
    }
}

void sy_plan_build_pinned(const sy_policy *p, const sy_route_input *in, const char *provider,
                          const char *endpoint, sy_plan *out)
{
    sy_plan_reset(out);
    if (!p || !in || !provider) return;
    const sy_policy_provider *prov = NULL;
    for (size_t i = 0; i < p->n_providers && !prov; i++)
        if (!strcmp(p->providers[i].name, provider)) prov = &p->providers[i];
    if (!prov || !serves(in, out, prov)) return;
    const sy_migration_conf *m = &p->migration;
    if (m->enabled && m->canary < p->n_providers && prov == &p->providers[m->canary])
        out->arm = SY_ARM_CANARY;

    const char *models[SY_PLAN_MAX];
    size_t n_models = 0;
    models[n_models++] = in->model ? in->model : "";
    const sy_fallback_chain *chain = in->model && *in->model ? find_chain(p, in->model) : NULL;
    for (size_t i = 0; chain && i < chain->n_to && n_models < SY_PLAN_MAX; i++) {
        const char *fm = chain->to[i];
        if (fm && *fm && !model_listed(models, n_models, fm)) models[n_models++] = fm;
    }
    for (size_t i = 0; i < n_models; i++) {
        int added = 0;
        for (size_t e = 0; e < prov->n_endpoints; e++) {
            const sy_policy_endpoint *ep = &prov->endpoints[e];
            if (endpoint && strcmp(ep->name, endpoint)) continue;
            if (out->n_steps == SY_PLAN_MAX) {
                out->truncated = 1;
                if (added) out->n_routes++;
                return;
            }
            sy_plan_step *s = &out->steps[out->n_steps++];
            s->provider = prov;
            s->endpoint = ep;
            s->model = models[i];
            s->route = out->n_routes;
            s->arm = out->arm;
            s->latency_ms = -1;
            added = 1;
        }
        if (!added) return; /* the endpoint is gone */
        out->n_routes++;
    }
}
