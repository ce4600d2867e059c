/* outcomes.c - the scenario's outcomes as the scripted transport's picker
 * (see outcomes.h). */
#include "outcomes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define NS_PER_MS 1000000ull
#define Z95 1.6448536269514722 /* the standard normal's 0.95 quantile */
#define MAX_LATENCY_MS (3600 * 1000)

/* Which targets speak for one endpoint, found once per endpoint. */
typedef struct ep_cache {
    const sy_endpoint *ep;       /* the ABI view: one per endpoint of the policy */
    const sy_scn_target *prov, *own;
} ep_cache;

struct sy_outcomes {
    const sy_scenario *s;
    uint64_t start_ns;
    ep_cache *cache;
    size_t n_cache, cap_cache;
    char headers[64];            /* Retry-After of the last draw */
};

static const char OK_BODY[] =
    "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"sim\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},"
    "\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":200,\"completion_tokens\":100,\"total_tokens\":300}}";
static const char CHUNK_TEXT[] =
    "data: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\",\"created\":0,"
    "\"model\":\"sim\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},"
    "\"finish_reason\":null}]}\n\n";
static const char CHUNK_USAGE[] =
    "data: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\",\"created\":0,"
    "\"model\":\"sim\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":200,\"completion_tokens\":100,\"total_tokens\":300}}\n\n";
static const char CHUNK_DONE[] = "data: [DONE]\n\n";
static const char PROBE_BODY[] = "{\"object\":\"list\",\"data\":[]}";
static const char ERR_BODY[] =
    "{\"error\":{\"message\":\"simulated upstream error\",\"type\":\"server_error\","
    "\"param\":null,\"code\":null}}";
static const char RATE_BODY[] =
    "{\"error\":{\"message\":\"simulated rate limit\",\"type\":\"rate_limit_error\","
    "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";

sy_outcomes *sy_outcomes_new(const sy_scenario *s, uint64_t start_ns)
{
    sy_outcomes *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->s = s;
    o->start_ns = start_ns;
    return o;
}

void sy_outcomes_free(sy_outcomes *o)
{
    if (!o) return;
    free(o->cache);
    free(o);
}

static const sy_scn_target *target_of(const sy_scenario *s, const char *provider,
                                      const char *endpoint)
{
    for (size_t i = 0; i < s->n_targets; i++) {
        const sy_scn_target *t = &s->targets[i];
        if (strcmp(t->provider, provider) != 0) continue;
        if (!endpoint ? !t->endpoint : t->endpoint && !strcmp(t->endpoint, endpoint)) return t;
    }
    return NULL;
}

/* Apply the pieces of t that started by t_ms, in order. */
static void apply(const sy_scn_target *t, int64_t t_ms, sy_conditions *c)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_pieces; i++) {
        const sy_scn_piece *p = &t->pieces[i];
        if (p->from_ms > t_ms) break;
        if (p->set & SY_SCN_ERROR_RATE) c->error_rate = p->error_rate;
        if (p->set & SY_SCN_STATUS) c->status = p->status;
        if (p->set & SY_SCN_RETRY_AFTER) c->retry_after_ms = p->retry_after_ms;
        if (p->set & SY_SCN_P50) c->p50_ms = p->p50_ms;
        if (p->set & SY_SCN_P95) c->p95_ms = p->p95_ms;
        if (p->set & SY_SCN_TIMEOUT_RATE) c->timeout_rate = p->timeout_rate;
        if (p->set & SY_SCN_CUT_RATE) c->cut_rate = p->cut_rate;
        if (p->outage_ms > 0 && t_ms < p->from_ms + p->outage_ms) c->outage = 1;
    }
}

static void conditions(const sy_outcomes *o, const sy_scn_target *prov, const sy_scn_target *own,
                       uint64_t now_ns, sy_conditions *c)
{
    int64_t t_ms = now_ns > o->start_ns ? (int64_t)((now_ns - o->start_ns) / NS_PER_MS) : 0;
    *c = (sy_conditions){.status = SY_SCN_DEFAULT_STATUS, .retry_after_ms = -1,
                         .p50_ms = SY_SCN_DEFAULT_P50_MS, .p95_ms = SY_SCN_DEFAULT_P95_MS};
    apply(prov, t_ms, c);
    apply(own, t_ms, c);
    if (c->p95_ms < c->p50_ms) c->p95_ms = c->p50_ms; /* provider's p50 over an endpoint's p95 */
}

void sy_outcomes_at(const sy_outcomes *o, const char *provider, const char *endpoint,
                    uint64_t now_ns, sy_conditions *out)
{
    conditions(o, target_of(o->s, provider, NULL), endpoint ? target_of(o->s, provider, endpoint) : NULL,
               now_ns, out);
}

int64_t sy_outcomes_latency_ms(int64_t p50_ms, int64_t p95_ms)
{
    if (p50_ms < 1) p50_ms = 1;
    if (p95_ms < p50_ms) p95_ms = p50_ms;
    double sigma = log((double)p95_ms / (double)p50_ms) / Z95;
    /* Box-Muller; 1 - unit() is in (0, 1], so the log is finite. */
    double u1 = 1.0 - sy_rng_unit(), u2 = sy_rng_unit();
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    double ms = (double)p50_ms * exp(sigma * z);
    if (!(ms >= 1.0)) return 1;
    if (ms > MAX_LATENCY_MS) return MAX_LATENCY_MS;
    return (int64_t)llround(ms);
}

void sy_outcomes_draw(sy_outcomes *o, const sy_conditions *c, int stream, int probe,
                      sy_script_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (c->outage) {
        out->kind = SY_SCRIPT_CONNECT_ERROR;
        out->latency_ms = 1;
        return;
    }
    double u = sy_rng_unit();
    if (u < c->timeout_rate) {
        out->kind = SY_SCRIPT_HANG;
        return;
    }
    out->kind = SY_SCRIPT_ANSWER;
    out->latency_ms = sy_outcomes_latency_ms(c->p50_ms, c->p95_ms);
    if (u < c->timeout_rate + c->error_rate) {
        out->status = c->status;
        out->body = c->status == 429 ? RATE_BODY : ERR_BODY;
        if (c->retry_after_ms >= 0 && (c->status == 429 || c->status == 503)) {
            if (c->retry_after_ms % 1000 == 0)
                snprintf(o->headers, sizeof o->headers, "Retry-After: %lld",
                         (long long)(c->retry_after_ms / 1000));
            else
                snprintf(o->headers, sizeof o->headers, "retry-after-ms: %lld",
                         (long long)c->retry_after_ms);
            out->headers = o->headers;
        }
        return;
    }
    out->status = 200;
    int cut = c->cut_rate > 0 && sy_rng_unit() < c->cut_rate;
    if (probe) {
        out->body = PROBE_BODY;
    } else if (stream) {
        out->chunks[0].data = CHUNK_TEXT;
        if (!cut) {
            out->chunks[1].data = CHUNK_USAGE;
            out->chunks[2].data = CHUNK_DONE;
        }
    } else {
        out->body = OK_BODY;
    }
    if (cut) out->end = SY_SCRIPT_END_CUT;
}

static const ep_cache *cache_of(sy_outcomes *o, const sy_endpoint *ep)
{
    for (size_t i = 0; i < o->n_cache; i++)
        if (o->cache[i].ep == ep) return &o->cache[i];
    if (o->n_cache == o->cap_cache) {
        size_t cap = o->cap_cache ? o->cap_cache * 2 : 16;
        ep_cache *nc = realloc(o->cache, cap * sizeof *nc);
        if (!nc) return NULL;
        o->cache = nc;
        o->cap_cache = cap;
    }
    ep_cache *c = &o->cache[o->n_cache++];
    c->ep = ep;
    c->prov = target_of(o->s, ep->provider, NULL);
    c->own = target_of(o->s, ep->provider, ep->name);
    return c;
}

int sy_outcomes_pick(void *ctx, const sy_io_request *r, uint64_t now_ns, sy_script_outcome *out)
{
    sy_outcomes *o = ctx;
    sy_conditions c;
    const ep_cache *ec = r->endpoint ? cache_of(o, r->endpoint) : NULL;
    if (ec)
        conditions(o, ec->prov, ec->own, now_ns, &c);
    else if (r->endpoint)
        sy_outcomes_at(o, r->endpoint->provider, r->endpoint->name, now_ns, &c);
    else
        conditions(o, NULL, NULL, now_ns, &c);
    sy_outcomes_draw(o, &c, r->req ? r->req->stream : 0, r->req == NULL, out);
    return 0;
}
