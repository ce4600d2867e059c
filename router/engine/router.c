/* router.c - the router context (see router.h). */
#include "router.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


/* Open-addressing tables, written only by sy_router_bind (main thread) and
 * read by every worker: a slot is published once, with release order, and
 * never changes or moves afterwards. Sized for far more endpoints than any
 * policy has; bind fails cleanly when full. */
#define EP_SLOTS 8192u
#define PROV_SLOTS 1024u

struct sy_router {
    _Atomic(sy_endpoint_state *) eps[EP_SLOTS];
    _Atomic(sy_provider_state *) provs[PROV_SLOTS];
    sy_observer observers[SY_ROUTER_MAX_OBSERVERS];
    int n_observers;
    struct sy_store *store;
    struct sy_rollout *rollout;
    struct sy_response_map *responses;
    sy_router_status_fn status_fn;
    void *status_ctx;
    sy_ratelimit rl;           /* lock-free (ratelimit.h) */
    sy_rate_limiter_fn limiter; /* the fleet's bucket (shared_state), or NULL */
    void *limiter_ctx;
    _Atomic uint64_t answer_pool;
};

_Atomic uint64_t *sy_router_answer_pool(sy_router *r) { return &r->answer_pool; }

int64_t sy_router_rate_limit(sy_router *r, const sy_rate_limit_conf *rl, uint64_t now_ns)
{
    if (!rl->enabled) return 0;
    if (r->limiter) return r->limiter(r->limiter_ctx, &r->rl, rl, now_ns);
    return sy_ratelimit_take(&r->rl, rl, now_ns);
}

void sy_router_set_rate_limiter(sy_router *r, sy_rate_limiter_fn fn, void *ctx)
{
    r->limiter = fn;
    r->limiter_ctx = ctx;
}

void sy_router_set_store(sy_router *r, struct sy_store *s) { r->store = s; }
struct sy_store *sy_router_store(const sy_router *r) { return r->store; }
void sy_router_set_rollout(sy_router *r, struct sy_rollout *ro) { r->rollout = ro; }
void sy_router_set_responses(sy_router *r, struct sy_response_map *m) { r->responses = m; }

void sy_router_set_status_hook(sy_router *r, sy_router_status_fn fn, void *ctx)
{
    r->status_fn = fn;
    r->status_ctx = ctx;
}

int sy_router_status_hook(const sy_router *r, struct cJSON *root)
{
    if (!r->status_fn) return 0;
    r->status_fn(r->status_ctx, root);
    return 1;
}
struct sy_response_map *sy_router_responses(const sy_router *r) { return r->responses; }
struct sy_rollout *sy_router_rollout(const sy_router *r) { return r->rollout; }

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t ep_hash(const char *prov, const char *ep)
{
    return fnv(fnv(0xcbf29ce484222325ull, prov) * 0x100000001b3ull, ep);
}

sy_router *sy_router_new(void)
{
    sy_router *r = calloc(1, sizeof(sy_router));
    return r;
}

void sy_router_free(sy_router *r)
{
    if (!r) return;
    for (unsigned i = 0; i < EP_SLOTS; i++) {
        sy_endpoint_state *s = atomic_load(&r->eps[i]);
        if (!s) continue;
        pthread_mutex_destroy(&s->mu);
        free(s->provider);
        free(s->endpoint);
        free(s);
    }
    for (unsigned i = 0; i < PROV_SLOTS; i++) {
        sy_provider_state *s = atomic_load(&r->provs[i]);
        if (!s) continue;
        free(s->provider);
        free(s);
    }
    free(r);
}

int sy_router_add_observer(sy_router *r, sy_observer o)
{
    if (r->n_observers >= SY_ROUTER_MAX_OBSERVERS) return -1;
    r->observers[r->n_observers++] = o;
    return 0;
}

void sy_router_emit_attempt(const sy_router *r, const sy_attempt_event *e)
{
    for (int i = 0; i < r->n_observers; i++)
        if (r->observers[i].on_attempt) r->observers[i].on_attempt(r->observers[i].ctx, e);
}

void sy_router_emit_request(const sy_router *r, const sy_request_event *e)
{
    for (int i = 0; i < r->n_observers; i++)
        if (r->observers[i].on_request) r->observers[i].on_request(r->observers[i].ctx, e);
}

void sy_router_emit_endpoint(const sy_router *r, const sy_endpoint_state *s)
{
    for (int i = 0; i < r->n_observers; i++)
        if (r->observers[i].on_endpoint) r->observers[i].on_endpoint(r->observers[i].ctx, s);
}

void sy_router_endpoint_changed(void *router, const sy_endpoint_state *s)
{
    sy_router_emit_endpoint(router, s);
}

static sy_endpoint_state *ep_find(sy_router *r, const char *prov, const char *ep, unsigned *free_slot)
{
    unsigned i = (unsigned)(ep_hash(prov, ep) % EP_SLOTS);
    for (unsigned n = 0; n < EP_SLOTS; n++, i = (i + 1) % EP_SLOTS) {
        sy_endpoint_state *s = atomic_load_explicit(&r->eps[i], memory_order_acquire);
        if (!s) {
            if (free_slot) *free_slot = i;
            return NULL;
        }
        if (!strcmp(s->provider, prov) && !strcmp(s->endpoint, ep)) return s;
    }
    if (free_slot) *free_slot = EP_SLOTS;
    return NULL;
}

static sy_provider_state *prov_find(sy_router *r, const char *prov, unsigned *free_slot)
{
    unsigned i = (unsigned)(fnv(0xcbf29ce484222325ull, prov) % PROV_SLOTS);
    for (unsigned n = 0; n < PROV_SLOTS; n++, i = (i + 1) % PROV_SLOTS) {
        sy_provider_state *s = atomic_load_explicit(&r->provs[i], memory_order_acquire);
        if (!s) {
            if (free_slot) *free_slot = i;
            return NULL;
        }
        if (!strcmp(s->provider, prov)) return s;
    }
    if (free_slot) *free_slot = PROV_SLOTS;
    return NULL;
}

int sy_router_bind(sy_router *r, const sy_policy *p)
{
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *prov = &p->providers[i];
        unsigned slot;
        if (!prov_find(r, prov->name, &slot)) {
            if (slot >= PROV_SLOTS) return -1;
            sy_provider_state *s = calloc(1, sizeof *s);
            if (!s || !(s->provider = strdup(prov->name))) {
                free(s);
                return -1;
            }
            sy_retry_budget_init(&s->budget);
            atomic_store_explicit(&r->provs[slot], s, memory_order_release);
        }
        for (size_t j = 0; j < prov->n_endpoints; j++) {
            const sy_policy_endpoint *ep = &prov->endpoints[j];
            if (ep_find(r, prov->name, ep->name, &slot)) continue;
            if (slot >= EP_SLOTS) return -1;
            sy_endpoint_state *s = calloc(1, sizeof *s);
            if (!s || !(s->provider = strdup(prov->name)) || !(s->endpoint = strdup(ep->name))) {
                if (s) free(s->provider);
                free(s);
                return -1;
            }
            sy_endpoint_init(s);
            atomic_store_explicit(&r->eps[slot], s, memory_order_release);
            sy_router_emit_endpoint(r, s);
        }
    }
    return 0;
}

sy_endpoint_state *sy_router_endpoint(sy_router *r, const sy_policy_provider *prov,
                                      const sy_policy_endpoint *ep)
{
    return ep_find(r, prov->name, ep->name, NULL);
}

sy_provider_state *sy_router_provider(sy_router *r, const sy_policy_provider *prov)
{
    return prov_find(r, prov->name, NULL);
}

void sy_router_each_endpoint(sy_router *r, void (*fn)(void *ctx, sy_endpoint_state *s), void *ctx)
{
    for (unsigned i = 0; i < EP_SLOTS; i++) {
        sy_endpoint_state *s = atomic_load_explicit(&r->eps[i], memory_order_acquire);
        if (s) fn(ctx, s);
    }
}
