/*
 * metrics.c - the Prometheus registry: per-thread shards merged on scrape.
 *
 * Three layers (see metrics.h for the rules):
 *   family  one per metric: its definition, plus a global table of interned
 *           label sets ("entries") under the family mutex. An entry owns the
 *           only copy of its label strings and has a dense index used to merge.
 *           Non-sharded families (gauges, rare counters) keep their value in
 *           the entry itself, under the same mutex.
 *   shard   one per thread: for each family a private open-addressing table
 *           (entry hash -> series) that only the owner touches, and a
 *           publish list of its series that the scraper walks.
 *   series  one per (shard, entry): the values, written by the owner only.
 *
 * Lock order: shards_mu, then one family mutex at a time.
 */
#include "metrics.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SY_VERSION
#define SY_VERSION "0.0.0"
#endif

#define MAX_LABELS 5
#define NS_PER_S UINT64_C(1000000000)
#define MS(x) ((uint64_t)((x) * 1000000.0))
#define US(x) ((uint64_t)((x) * 1000.0))

/* ---- definitions ------------------------------------------------------- */

enum fam_id {
    F_REQUESTS,
    F_DURATION,
    F_TTFB,
    F_OVERHEAD,
    F_ATTEMPTS,
    F_RETRIES,
    F_FALLBACKS,
    F_BREAKER_STATE,
    F_BREAKER_OPENS,
    F_HEALTHY,
    F_ROLLOUT,
    F_ROLLBACKS,
    F_TOKENS,
    F_REASONING,
    F_COST,
    F_RATE_LIMITED,
    F_ACCEPT_REFUSED,
    F_RETRY_BUDGET,
    F_NO_USAGE,
    F_BUDGET_SPENT,
    F_BUDGET_LIMIT,
    F_SHARED_UP,
    F_SHARED_ERRORS,
    F_COUNT
};

enum fam_type { T_COUNTER, T_GAUGE, T_HISTOGRAM };

typedef struct fam_def {
    const char *name;
    const char *help;
    enum fam_type type;
    bool sharded; /* hot path: per-thread shards; else one value under the mutex */
    bool dbl;     /* value is a double (bits in a uint64) */
    int nlabels;
    const char *labels[MAX_LABELS];
    const uint64_t *bounds; /* histogram upper bounds in ns, ascending */
    const char *const *le;  /* the same bounds as le="..." text */
    int nbounds;
} fam_def;

/* LLM calls: from a cached 5 ms answer to a two-minute generation. */
static const uint64_t lat_bounds[] = {
    MS(5), MS(10), MS(25), MS(50), MS(100), MS(250), MS(500), MS(1000), MS(2500),
    MS(5000), MS(10000), MS(20000), MS(30000), MS(60000), MS(120000),
};
static const char *const lat_le[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
    "5", "10", "20", "30", "60", "120",
};
/* Router overhead: 10 µs .. 100 ms. */
static const uint64_t ovh_bounds[] = {
    US(10), US(25), US(50), US(100), US(250), US(500), US(1000), US(2500),
    US(5000), US(10000), US(25000), US(50000), US(100000),
};
static const char *const ovh_le[] = {
    "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
    "0.005", "0.01", "0.025", "0.05", "0.1",
};
#define NB(a) ((int)(sizeof(a) / sizeof((a)[0])))
_Static_assert(NB(lat_bounds) == NB(lat_le), "latency buckets");
_Static_assert(NB(ovh_bounds) == NB(ovh_le), "overhead buckets");

static const fam_def defs[F_COUNT] = {
    [F_REQUESTS] = {"switchyard_requests_total",
        "Client requests finished, by arm, provider, endpoint, model and HTTP status sent.",
        T_COUNTER, true, false, 5, {"arm", "provider", "endpoint", "model", "code"}, 0, 0, 0},
    [F_DURATION] = {"switchyard_request_duration_seconds",
        "Client request duration, from request read to last byte sent.",
        T_HISTOGRAM, true, false, 3, {"arm", "provider", "endpoint"},
        lat_bounds, lat_le, NB(lat_bounds)},
    [F_TTFB] = {"switchyard_upstream_ttfb_seconds",
        "Upstream time to first byte per attempt.",
        T_HISTOGRAM, true, false, 2, {"provider", "endpoint"},
        lat_bounds, lat_le, NB(lat_bounds)},
    [F_OVERHEAD] = {"switchyard_overhead_seconds",
        "Time spent in the router itself per request (total minus upstream wait).",
        T_HISTOGRAM, true, false, 0, {0}, ovh_bounds, ovh_le, NB(ovh_bounds)},
    [F_ATTEMPTS] = {"switchyard_upstream_attempts_total",
        "Upstream attempts, by upstream HTTP status (0 = no answer).",
        T_COUNTER, true, false, 3, {"provider", "endpoint", "code"}, 0, 0, 0},
    [F_RETRIES] = {"switchyard_retries_total",
        "Failed upstream attempts classified as retryable, by reason.",
        T_COUNTER, true, false, 3, {"provider", "endpoint", "reason"}, 0, 0, 0},
    [F_FALLBACKS] = {"switchyard_fallbacks_total",
        "Requests answered by a fallback model.",
        T_COUNTER, true, false, 2, {"from_model", "to_model"}, 0, 0, 0},
    [F_BREAKER_STATE] = {"switchyard_breaker_state",
        "Circuit breaker state per endpoint (0 closed, 1 half-open, 2 open).",
        T_GAUGE, false, true, 2, {"provider", "endpoint"}, 0, 0, 0},
    [F_BREAKER_OPENS] = {"switchyard_breaker_opens_total",
        "Circuit breaker transitions to open.",
        T_COUNTER, false, false, 2, {"provider", "endpoint"}, 0, 0, 0},
    [F_HEALTHY] = {"switchyard_endpoint_healthy",
        "Endpoint health (1 healthy, 0 unhealthy); 1 for an endpoint with no health_check.",
        T_GAUGE, false, true, 2, {"provider", "endpoint"}, 0, 0, 0},
    [F_ROLLOUT] = {"switchyard_rollout_percent",
        "Share of users routed to the canary, in percent.",
        T_GAUGE, false, true, 0, {0}, 0, 0, 0},
    [F_ROLLBACKS] = {"switchyard_rollbacks_total",
        "Automatic or manual rollbacks of the canary rollout, by reason.",
        T_COUNTER, false, false, 1, {"reason"}, 0, 0, 0},
    [F_TOKENS] = {"switchyard_tokens_total",
        "Tokens reported by upstreams, by model and kind (input|output).",
        T_COUNTER, true, false, 2, {"model", "kind"}, 0, 0, 0},
    [F_REASONING] = {"switchyard_reasoning_tokens_total",
        "Output tokens spent on reasoning, by model (already counted in tokens_total's output).",
        T_COUNTER, true, false, 1, {"model"}, 0, 0, 0},
    [F_COST] = {"switchyard_cost_usd_total",
        "Estimated spend in US dollars, from token counts and policy prices.",
        T_COUNTER, true, true, 1, {"model"}, 0, 0, 0},
    [F_RATE_LIMITED] = {"switchyard_rate_limited_total",
        "Requests refused by the local rate limit.",
        T_COUNTER, true, false, 0, {0}, 0, 0, 0},
    [F_ACCEPT_REFUSED] = {"switchyard_accept_refused_total",
        "Client connections not accepted for want of descriptors or memory (accepting pauses).",
        T_COUNTER, true, false, 0, {0}, 0, 0, 0},
    [F_RETRY_BUDGET] = {"switchyard_retry_budget_exhausted_total",
        "Retries not made because the provider's retry budget (retry.budget) was spent.",
        T_COUNTER, true, false, 1, {"provider"}, 0, 0, 0},
    [F_NO_USAGE] = {"switchyard_requests_without_usage_total",
        "Requests an upstream answered (2xx) without a token usage: not priced, never free.",
        T_COUNTER, true, false, 2, {"provider", "model"}, 0, 0, 0},
    [F_BUDGET_SPENT] = {"switchyard_budget_spent_usd",
        "Spend this calendar month (UTC) in US dollars, as the budget counts it.",
        T_GAUGE, false, true, 0, {0}, 0, 0, 0},
    [F_BUDGET_LIMIT] = {"switchyard_budget_limit_usd",
        "budget.monthly_usd in US dollars; 0 when the policy sets no budget.",
        T_GAUGE, false, true, 0, {0}, 0, 0, 0},
    [F_SHARED_UP] = {"switchyard_shared_state_up",
        "1 while the shared state's Redis (shared_state.url) is connected, else 0.",
        T_GAUGE, false, true, 0, {0}, 0, 0, 0},
    [F_SHARED_ERRORS] = {"switchyard_shared_state_errors_total",
        "Failures talking to the shared state's Redis: connects, timeouts, lost connections.",
        T_COUNTER, false, false, 0, {0}, 0, 0, 0},
};

static int fam_nvals(const fam_def *d)
{
    /* histogram: one count per bucket, the +Inf bucket, then the sum in ns */
    return d->type == T_HISTOGRAM ? d->nbounds + 2 : 1;
}

/* ---- label sets -------------------------------------------------------- */

typedef struct lset {
    const char *v[MAX_LABELS];
    uint32_t len[MAX_LABELS];
    int n;
} lset;

static inline void lset_add(lset *ls, const char *v)
{
    if (!v)
        v = "";
    size_t l = strnlen(v, SY_METRICS_MAX_LABEL_LEN + 1);
    if (l > SY_METRICS_MAX_LABEL_LEN) {
        v = "other";
        l = 5;
    }
    ls->v[ls->n] = v;
    ls->len[ls->n] = (uint32_t)l;
    ls->n++;
}

/* A literal label value: its length is known at compile time. */
#define lset_add_lit(ls, s)                   \
    do {                                      \
        (ls)->v[(ls)->n] = (s);               \
        (ls)->len[(ls)->n] = sizeof(s) - 1;   \
        (ls)->n++;                            \
    } while (0)

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* 1..7 bytes into a word without a byte-wise copy (which would stall store
 * forwarding); overlapping reads are fine because the length is mixed in. */
static inline uint64_t load_short(const unsigned char *p, uint32_t len)
{
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        return (uint64_t)a << 32 | b;
    }
    return (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1];
}

/* Hash of label values [from, to), 8 bytes at a time, continuing from h;
 * lengths are mixed in so ("ab","c") and ("a","bc") differ. Callers hash a
 * shared prefix once (arm, provider, endpoint) and finish it two ways. */
static inline uint64_t hash_labels(uint64_t h, const lset *ls, int from, int to)
{
    for (int i = from; i < to; i++) {
        const unsigned char *p = (const unsigned char *)ls->v[i];
        uint32_t len = ls->len[i];
        h = mix(h, len);
        if (len >= 8) {
            const unsigned char *last = p + len - 8;
            uint64_t w;
            for (; p < last; p += 8) {
                memcpy(&w, p, 8);
                h = mix(h, w);
            }
            memcpy(&w, last, 8); /* the last 8 bytes, overlapping */
            h = mix(h, w);
        } else if (len) {
            h = mix(h, load_short(p, len));
        }
    }
    return h;
}

#define HASH_SEED 0x243f6a8885a308d3ull

static inline uint64_t hash_final(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
}

static uint64_t lset_hash(const lset *ls)
{
    return hash_final(hash_labels(HASH_SEED, ls, 0, ls->n));
}

/* ---- families and entries ---------------------------------------------- */

typedef struct entry {
    uint64_t hash;
    uint32_t index;             /* dense, insertion order */
    bool gset;                  /* non-sharded: value was set (else not rendered) */
    bool assumed;               /* endpoint_healthy: 1 by rule (no health_check), not measured */
    uint64_t gval;              /* non-sharded value (u64 or double bits), under mutex */
    const char *lv[MAX_LABELS]; /* point into this allocation */
    uint32_t len[MAX_LABELS];
} entry;

typedef struct family {
    pthread_mutex_t mu;
    entry **slots; /* open addressing, power of two, load <= 1/2 */
    uint32_t cap;
    entry **list; /* by index */
    uint32_t n, list_cap;
    entry *overflow;  /* the all-"other" set, once the cap was hit */
    atomic_bool full; /* set once (release): slots are immutable from then on */
} family;

static family fams[F_COUNT];

/* memcmp for short label values, inline (a libc call per label showed up). */
static inline bool bytes_eq(const char *a, const char *b, uint32_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (uint32_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n == 0)
        return true;
    return load_short((const unsigned char *)a, n) == load_short((const unsigned char *)b, n);
}

static inline bool entry_eq(const entry *e, uint64_t h, const lset *ls)
{
    if (e->hash != h)
        return false;
    for (int i = 0; i < ls->n; i++)
        if (e->len[i] != ls->len[i] || !bytes_eq(e->lv[i], ls->v[i], ls->len[i]))
            return false;
    return true;
}

static entry *etab_find(const family *fa, const lset *ls, uint64_t h)
{
    if (!fa->cap)
        return NULL;
    uint32_t mask = fa->cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        entry *e = fa->slots[i];
        if (!e)
            return NULL;
        if (entry_eq(e, h, ls))
            return e;
    }
}

static void etab_place(entry **slots, uint32_t cap, entry *e)
{
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)e->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = e;
}

/* Under fa->mu. Copies the label strings. NULL when out of memory. */
static entry *etab_insert(family *fa, const lset *ls, uint64_t h)
{
    if ((fa->n + 1) * 2 > fa->cap) {
        uint32_t ncap = fa->cap ? fa->cap * 2 : 16;
        entry **ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (uint32_t i = 0; i < fa->n; i++)
            etab_place(ns, ncap, fa->list[i]);
        free(fa->slots);
        fa->slots = ns;
        fa->cap = ncap;
    }
    if (fa->n == fa->list_cap) {
        uint32_t ncap = fa->list_cap ? fa->list_cap * 2 : 16;
        entry **nl = realloc(fa->list, ncap * sizeof *nl);
        if (!nl)
            return NULL;
        fa->list = nl;
        fa->list_cap = ncap;
    }
    size_t strbytes = 0;
    for (int i = 0; i < ls->n; i++)
        strbytes += ls->len[i] + 1;
    entry *e = calloc(1, sizeof *e + strbytes);
    if (!e)
        return NULL;
    char *p = (char *)(e + 1);
    for (int i = 0; i < ls->n; i++) {
        memcpy(p, ls->v[i], ls->len[i]);
        p[ls->len[i]] = '\0';
        e->lv[i] = p;
        e->len[i] = ls->len[i];
        p += ls->len[i] + 1;
    }
    e->hash = h;
    e->index = fa->n;
    fa->list[fa->n++] = e;
    etab_place(fa->slots, fa->cap, e);
    return e;
}

static void lset_other(lset *ls, int n)
{
    ls->n = 0;
    for (int i = 0; i < n; i++)
        lset_add_lit(ls, "other");
}

/* Under fa->mu: find or insert, folding into the all-"other" set past the cap. */
static entry *intern_locked(family *fa, const lset *ls, uint64_t h)
{
    entry *e = etab_find(fa, ls, h);
    if (e)
        return e;
    if (fa->n < SY_METRICS_MAX_SERIES)
        return etab_insert(fa, ls, h);
    if (!fa->overflow) {
        lset other;
        lset_other(&other, ls->n);
        uint64_t oh = lset_hash(&other);
        e = etab_find(fa, &other, oh);
        if (!e)
            e = etab_insert(fa, &other, oh); /* the one set allowed past the cap */
        if (!e)
            return NULL;
        fa->overflow = e;
        atomic_store_explicit(&fa->full, true, memory_order_release);
    }
    return fa->overflow;
}

/* Once a family is full its table never changes, so it is read without the lock:
 * random label values past the cap cost no mutex. */
static entry *intern(family *fa, const lset *ls, uint64_t h)
{
    if (atomic_load_explicit(&fa->full, memory_order_acquire)) {
        entry *e = etab_find(fa, ls, h);
        return e ? e : fa->overflow;
    }
    pthread_mutex_lock(&fa->mu);
    entry *e = intern_locked(fa, ls, h);
    pthread_mutex_unlock(&fa->mu);
    return e;
}

/* ---- shards ------------------------------------------------------------ */

typedef struct series {
    struct series *next; /* publish list; immutable once published */
    const entry *e;
    _Atomic uint64_t v[];
} series;

typedef struct stable {
    series **slots; /* keyed by e->hash; owner thread only */
    uint32_t cap, n;
} stable;

typedef struct shard {
    struct shard *next; /* global list, under shards_mu */
    bool dead;          /* owner exited; under shards_mu */
    stable tab[F_COUNT];
    _Atomic(series *) head[F_COUNT];
} shard;

static pthread_mutex_t shards_mu = PTHREAD_MUTEX_INITIALIZER;
static shard *shards;
static __thread shard *tls_shard;
static pthread_key_t shard_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void shard_exit(void *p)
{
    shard *sh = p;
    pthread_mutex_lock(&shards_mu);
    sh->dead = true;
    pthread_mutex_unlock(&shards_mu);
    tls_shard = NULL;
}

static void init_all(void)
{
    for (int f = 0; f < F_COUNT; f++)
        pthread_mutex_init(&fams[f].mu, NULL);
    if (pthread_key_create(&shard_key, shard_exit) != 0)
        abort(); /* only at start-up; nothing works without it */
}

static shard *shard_register(void)
{
    pthread_once(&init_once, init_all);
    pthread_mutex_lock(&shards_mu);
    shard *sh = shards;
    while (sh && !sh->dead)
        sh = sh->next;
    if (sh) {
        sh->dead = false; /* adopt: its counts keep adding up */
    } else if ((sh = calloc(1, sizeof *sh))) {
        sh->next = shards;
        shards = sh;
    }
    pthread_mutex_unlock(&shards_mu);
    if (sh) {
        tls_shard = sh;
        pthread_setspecific(shard_key, sh);
    }
    return sh;
}

static inline shard *shard_get(void)
{
    shard *sh = tls_shard;
    if (__builtin_expect(sh != NULL, 1))
        return sh;
    return shard_register();
}

static inline series *stab_find(const stable *t, const lset *ls, uint64_t h)
{
    if (!t->cap)
        return NULL;
    uint32_t mask = t->cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        series *s = t->slots[i];
        if (!s)
            return NULL;
        if (entry_eq(s->e, h, ls))
            return s;
    }
}

static void stab_place(series **slots, uint32_t cap, series *s)
{
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)s->e->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = s;
}

/* First time this thread sees the label set: intern it, make its series. */
static series *shard_miss(shard *sh, int f, const lset *ls, uint64_t h)
{
    family *fa = &fams[f];
    stable *t = &sh->tab[f];
    entry *e = intern(fa, ls, h);
    if (!e)
        return NULL;
    if (!entry_eq(e, h, ls)) {
        /* folded into "other": look that up; never cache the random value */
        lset other;
        lset_other(&other, ls->n);
        series *s = stab_find(t, &other, e->hash);
        if (s)
            return s;
    }
    if ((t->n + 1) * 2 > t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 16;
        series **ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (uint32_t i = 0; i < t->cap; i++)
            if (t->slots[i])
                stab_place(ns, ncap, t->slots[i]);
        free(t->slots);
        t->slots = ns;
        t->cap = ncap;
    }
    series *s = calloc(1, sizeof *s + (size_t)fam_nvals(&defs[f]) * sizeof(_Atomic uint64_t));
    if (!s)
        return NULL;
    s->e = e;
    stab_place(t->slots, t->cap, s);
    t->n++;
    s->next = atomic_load_explicit(&sh->head[f], memory_order_relaxed);
    atomic_store_explicit(&sh->head[f], s, memory_order_release);
    return s;
}

static inline series *get_series_h(shard *sh, int f, const lset *ls, uint64_t h)
{
    series *s = stab_find(&sh->tab[f], ls, h);
    if (__builtin_expect(s == NULL, 0))
        s = shard_miss(sh, f, ls, h);
    return s;
}

static inline series *get_series(shard *sh, int f, const lset *ls)
{
    return get_series_h(sh, f, ls, lset_hash(ls));
}

/* Only the owning thread writes: a plain load and store, atomic so the
 * scraper's concurrent relaxed loads are well defined. */
static inline void v_add(_Atomic uint64_t *v, uint64_t d)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline void counter_add_h(shard *sh, int f, const lset *ls, uint64_t h, uint64_t d)
{
    series *s = get_series_h(sh, f, ls, h);
    if (s)
        v_add(&s->v[0], d);
}

static inline void counter_add(shard *sh, int f, const lset *ls, uint64_t d)
{
    counter_add_h(sh, f, ls, lset_hash(ls), d);
}

static inline void hist_observe_h(shard *sh, int f, const lset *ls, uint64_t h, uint64_t ns)
{
    series *s = get_series_h(sh, f, ls, h);
    if (!s)
        return;
    const fam_def *d = &defs[f];
    int i = 0;
    while (i < d->nbounds && ns > d->bounds[i])
        i++;
    v_add(&s->v[i], 1);
    v_add(&s->v[d->nbounds + 1], ns);
}

static inline void hist_observe(shard *sh, int f, const lset *ls, uint64_t ns)
{
    hist_observe_h(sh, f, ls, lset_hash(ls), ns);
}

static char *fmt_uint(char *end, uint64_t v)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static const char *fmt_code(char buf[24], int code)
{
    if (code < 0)
        code = 0;
    return fmt_uint(buf + 24, (uint64_t)code);
}

static inline uint64_t since(uint64_t start, uint64_t t) { return t > start ? t - start : 0; }

/* ---- hot path ---------------------------------------------------------- */

void sy_metrics_observe_request(const sy_request_event *ev)
{
    shard *sh = shard_get();
    if (!sh || !ev)
        return;
    const char *asked = ev->model_asked ? ev->model_asked : "";
    const char *served = ev->model_served ? ev->model_served : "";
    const char *model = served[0] ? served : asked;
    char codebuf[24];
    lset ls = {.n = 0};

    lset_add(&ls, ev->arm);
    lset_add(&ls, ev->provider);
    lset_add(&ls, ev->endpoint);
    lset_add(&ls, model);
    lset_add(&ls, fmt_code(codebuf, ev->status));
    uint64_t h3 = hash_labels(HASH_SEED, &ls, 0, 3); /* arm, provider, endpoint */
    counter_add_h(sh, F_REQUESTS, &ls, hash_final(hash_labels(h3, &ls, 3, 5)), 1);

    uint64_t total = since(ev->start_ns, ev->end_ns);
    ls.n = 3;
    hist_observe_h(sh, F_DURATION, &ls, hash_final(h3), total);

    ls.n = 0;
    hist_observe(sh, F_OVERHEAD, &ls, total > ev->upstream_ns ? total - ev->upstream_ns : 0);

    if (served[0] && strcmp(served, asked) != 0) {
        lset_add(&ls, asked);
        lset_add(&ls, served);
        counter_add(sh, F_FALLBACKS, &ls, 1);
    }
    if (ev->input_tokens >= 0 || ev->output_tokens >= 0) {
        ls.n = 0;
        lset_add(&ls, model);
        lset_add_lit(&ls, "input");
        uint64_t hm = hash_labels(HASH_SEED, &ls, 0, 1);
        if (ev->input_tokens >= 0)
            counter_add_h(sh, F_TOKENS, &ls, hash_final(hash_labels(hm, &ls, 1, 2)),
                          (uint64_t)ev->input_tokens);
        if (ev->output_tokens >= 0) {
            ls.n = 1;
            lset_add_lit(&ls, "output");
            counter_add_h(sh, F_TOKENS, &ls, hash_final(hash_labels(hm, &ls, 1, 2)),
                          (uint64_t)ev->output_tokens);
        }
    }
    if (ev->reasoning_tokens > 0) {
        ls.n = 0;
        lset_add(&ls, model);
        counter_add(sh, F_REASONING, &ls, (uint64_t)ev->reasoning_tokens);
    }
}

void sy_metrics_observe_attempt(const sy_attempt_event *ev)
{
    shard *sh = shard_get();
    if (!sh || !ev)
        return;
    char codebuf[24];
    lset ls = {.n = 0};
    lset_add(&ls, ev->provider);
    lset_add(&ls, ev->endpoint);
    lset_add(&ls, fmt_code(codebuf, ev->status));
    uint64_t h2 = hash_labels(HASH_SEED, &ls, 0, 2); /* provider, endpoint */
    counter_add_h(sh, F_ATTEMPTS, &ls, hash_final(hash_labels(h2, &ls, 2, 3)), 1);
    if (ev->reason) {
        ls.n = 2;
        lset_add(&ls, ev->reason);
        counter_add_h(sh, F_RETRIES, &ls, hash_final(hash_labels(h2, &ls, 2, 3)), 1);
    }
    if (ev->ttfb_ns) {
        ls.n = 2;
        hist_observe_h(sh, F_TTFB, &ls, hash_final(h2), since(ev->start_ns, ev->ttfb_ns));
    }
}

void sy_metrics_add_cost(const char *model, double usd)
{
    if (!(usd >= 0) || !isfinite(usd))
        return;
    shard *sh = shard_get();
    if (!sh)
        return;
    lset ls = {.n = 0};
    lset_add(&ls, model);
    series *s = get_series(sh, F_COST, &ls);
    if (!s)
        return;
    double cur;
    uint64_t bits = atomic_load_explicit(&s->v[0], memory_order_relaxed);
    memcpy(&cur, &bits, sizeof cur);
    cur += usd;
    memcpy(&bits, &cur, sizeof bits);
    atomic_store_explicit(&s->v[0], bits, memory_order_relaxed);
}

void sy_metrics_inc_rate_limited(void)
{
    shard *sh = shard_get();
    if (!sh)
        return;
    lset ls = {.n = 0};
    counter_add(sh, F_RATE_LIMITED, &ls, 1);
}

void sy_metrics_inc_accept_refused(void)
{
    shard *sh = shard_get();
    if (!sh)
        return;
    lset ls = {.n = 0};
    counter_add(sh, F_ACCEPT_REFUSED, &ls, 1);
}

void sy_metrics_inc_retry_budget_exhausted(const char *provider)
{
    shard *sh = shard_get();
    if (!sh)
        return;
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    counter_add(sh, F_RETRY_BUDGET, &ls, 1);
}

void sy_metrics_inc_without_usage(const char *provider, const char *model)
{
    shard *sh = shard_get();
    if (!sh)
        return;
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, model);
    counter_add(sh, F_NO_USAGE, &ls, 1);
}

/* ---- rare setters ------------------------------------------------------ */

/* Runs fn on the family's entry for ls, under the family mutex. */
static void global_update(int f, const lset *ls, void (*fn)(entry *, void *), void *arg)
{
    pthread_once(&init_once, init_all);
    family *fa = &fams[f];
    pthread_mutex_lock(&fa->mu);
    entry *e = intern_locked(fa, ls, lset_hash(ls));
    if (e)
        fn(e, arg);
    pthread_mutex_unlock(&fa->mu);
}

static void set_double(entry *e, void *arg)
{
    memcpy(&e->gval, arg, sizeof(double));
    e->gset = true;
}

static void inc_u64(entry *e, void *arg)
{
    (void)arg;
    e->gval++;
    e->gset = true;
}

typedef struct breaker_set {
    double state;
    bool opened;
} breaker_set;

static void set_breaker(entry *e, void *arg)
{
    breaker_set *b = arg;
    double prev = -1;
    if (e->gset)
        memcpy(&prev, &e->gval, sizeof prev);
    b->opened = b->state == 2 && prev != 2;
    set_double(e, &b->state);
}

static void set_gauge(int f, const lset *ls, double v)
{
    global_update(f, ls, set_double, &v);
}

void sy_metrics_set_rollout_percent(double percent)
{
    lset ls = {.n = 0};
    set_gauge(F_ROLLOUT, &ls, percent);
}

void sy_metrics_set_breaker_state(const char *provider, const char *endpoint, int state)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    breaker_set b = {.state = state, .opened = false};
    global_update(F_BREAKER_STATE, &ls, set_breaker, &b);
    if (b.opened)
        global_update(F_BREAKER_OPENS, &ls, inc_u64, NULL);
}

static void set_measured_health(entry *e, void *arg)
{
    set_double(e, arg);
    e->assumed = false;
}

void sy_metrics_set_endpoint_healthy(const char *provider, const char *endpoint, int healthy)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    double v = healthy ? 1 : 0;
    global_update(F_HEALTHY, &ls, set_measured_health, &v);
}

void sy_metrics_set_budget(double spent_usd, double limit_usd)
{
    lset ls = {.n = 0};
    set_gauge(F_BUDGET_SPENT, &ls, spent_usd);
    set_gauge(F_BUDGET_LIMIT, &ls, limit_usd);
}

void sy_metrics_set_shared_state_up(int up)
{
    lset ls = {.n = 0};
    set_gauge(F_SHARED_UP, &ls, up ? 1 : 0);
}

void sy_metrics_inc_shared_state_errors(void)
{
    lset ls = {.n = 0};
    global_update(F_SHARED_ERRORS, &ls, inc_u64, NULL);
}

void sy_metrics_inc_rollbacks(const char *reason)
{
    lset ls = {.n = 0};
    lset_add(&ls, reason);
    global_update(F_ROLLBACKS, &ls, inc_u64, NULL);
}

/* ---- series declared before their first event ------------------------- */

/* Interns the label set: a sharded family renders it as 0 until a thread
 * counts into it; a non-sharded counter gets a value of 0 if it had none. */
static void declare_in(entry *e, void *arg)
{
    (void)arg;
    e->gset = true;
}

static void declare(int f, const lset *ls)
{
    pthread_once(&init_once, init_all);
    if (defs[f].sharded) {
        family *fa = &fams[f];
        pthread_mutex_lock(&fa->mu);
        intern_locked(fa, ls, lset_hash(ls));
        pthread_mutex_unlock(&fa->mu);
    } else {
        global_update(f, ls, declare_in, NULL);
    }
}

void sy_metrics_declare_request(const char *arm, const char *provider, const char *endpoint,
                                const char *model, int code)
{
    char codebuf[24];
    lset ls = {.n = 0};
    lset_add(&ls, arm);
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    lset_add(&ls, model);
    lset_add(&ls, fmt_code(codebuf, code));
    declare(F_REQUESTS, &ls);
    ls.n = 3;
    declare(F_DURATION, &ls);
}

void sy_metrics_declare_attempt(const char *provider, const char *endpoint, int code)
{
    char codebuf[24];
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    lset_add(&ls, fmt_code(codebuf, code));
    declare(F_ATTEMPTS, &ls);
    ls.n = 2;
    declare(F_TTFB, &ls);
}

void sy_metrics_declare_fallback(const char *from_model, const char *to_model)
{
    lset ls = {.n = 0};
    lset_add(&ls, from_model);
    lset_add(&ls, to_model);
    declare(F_FALLBACKS, &ls);
}

void sy_metrics_declare_model(const char *model, int priced)
{
    lset ls = {.n = 0};
    lset_add(&ls, model);
    if (priced)
        declare(F_COST, &ls);
    lset_add_lit(&ls, "input");
    declare(F_TOKENS, &ls);
    ls.n = 1;
    lset_add_lit(&ls, "output");
    declare(F_TOKENS, &ls);
}

void sy_metrics_declare_breaker(const char *provider, const char *endpoint)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    declare(F_BREAKER_OPENS, &ls);
}

void sy_metrics_declare_provider(const char *provider)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    declare(F_RETRY_BUDGET, &ls);
}

void sy_metrics_declare_without_usage(const char *provider, const char *model)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, model);
    declare(F_NO_USAGE, &ls);
}

void sy_metrics_declare_rollbacks(const char *reason)
{
    lset ls = {.n = 0};
    lset_add(&ls, reason);
    declare(F_ROLLBACKS, &ls);
}

static void assume_healthy(entry *e, void *arg)
{
    (void)arg;
    if (e->gset && !e->assumed)
        return; /* a health checker measured it: that value stands */
    double one = 1;
    set_double(e, &one);
    e->assumed = true;
}

void sy_metrics_assume_endpoint_healthy(const char *provider, const char *endpoint)
{
    lset ls = {.n = 0};
    lset_add(&ls, provider);
    lset_add(&ls, endpoint);
    global_update(F_HEALTHY, &ls, assume_healthy, NULL);
}

void sy_metrics_sweep_endpoint_health(int (*keep)(void *ctx, const char *provider,
                                                  const char *endpoint, int assumed),
                                      void *ctx)
{
    pthread_once(&init_once, init_all);
    family *fa = &fams[F_HEALTHY];
    pthread_mutex_lock(&fa->mu);
    for (uint32_t i = 0; i < fa->n; i++) {
        entry *e = fa->list[i];
        if (e->gset && !keep(ctx, e->lv[0], e->lv[1], e->assumed)) {
            e->gset = false;
            e->assumed = false;
        }
    }
    pthread_mutex_unlock(&fa->mu);
}

/* ---- rendering --------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > ncap)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v)
{
    char buf[24];
    sb_str(b, fmt_uint(buf + sizeof buf, v));
}

static void sb_double(sbuf *b, double v)
{
    char buf[40];
    if (isnan(v)) {
        sb_str(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_str(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* shortest of %.15g / %.17g that reads back as the same double */
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    sb_str(b, buf);
}

/* Seconds from integer nanoseconds, exact. */
static void sb_seconds(sbuf *b, uint64_t ns)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%" PRIu64 ".%09" PRIu64, ns / NS_PER_S, ns % NS_PER_S);
    sb_str(b, buf);
}


/* Label value per the text format: \\, \", \n escaped; invalid UTF-8 -> U+FFFD. */
static void sb_label_value(sbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = p[i];
        const char *rep = NULL;
        size_t adv = 1;
        if (c == '\\')
            rep = "\\\\";
        else if (c == '"')
            rep = "\\\"";
        else if (c == '\n')
            rep = "\\n";
        else if (c >= 0x80 && (adv = sy_utf8_len(p + i, n - i)) == 0) {
            rep = "\xef\xbf\xbd";
            adv = 1;
        }
        if (rep) {
            sb_put(b, s + run, i - run);
            sb_str(b, rep);
            run = i + adv;
        }
        i += adv;
    }
    sb_put(b, s + run, n - run);
}

/* name{l1="v1",...[,le="x"]} */
static void sb_series(sbuf *b, const fam_def *d, const char *suffix, const entry *e,
                      const char *le)
{
    sb_str(b, d->name);
    sb_str(b, suffix);
    if (d->nlabels == 0 && !le)
        return;
    sb_put(b, "{", 1);
    for (int i = 0; i < d->nlabels; i++) {
        if (i)
            sb_put(b, ",", 1);
        sb_str(b, d->labels[i]);
        sb_put(b, "=\"", 2);
        sb_label_value(b, e->lv[i], e->len[i]);
        sb_put(b, "\"", 1);
    }
    if (le) {
        if (d->nlabels)
            sb_put(b, ",", 1);
        sb_str(b, "le=\"");
        sb_str(b, le);
        sb_put(b, "\"", 1);
    }
    sb_put(b, "}", 1);
}

static void render_values(sbuf *b, const fam_def *d, const entry *e, const uint64_t *v)
{
    if (d->type == T_HISTOGRAM) {
        uint64_t cum = 0;
        for (int i = 0; i <= d->nbounds; i++) {
            cum += v[i];
            sb_series(b, d, "_bucket", e, i < d->nbounds ? d->le[i] : "+Inf");
            sb_put(b, " ", 1);
            sb_u64(b, cum);
            sb_put(b, "\n", 1);
        }
        sb_series(b, d, "_sum", e, NULL);
        sb_put(b, " ", 1);
        sb_seconds(b, v[d->nbounds + 1]);
        sb_put(b, "\n", 1);
        sb_series(b, d, "_count", e, NULL);
        sb_put(b, " ", 1);
        sb_u64(b, cum);
        sb_put(b, "\n", 1);
        return;
    }
    sb_series(b, d, "", e, NULL);
    sb_put(b, " ", 1);
    if (d->dbl) {
        double x;
        memcpy(&x, &v[0], sizeof x);
        sb_double(b, x);
    } else {
        sb_u64(b, v[0]);
    }
    sb_put(b, "\n", 1);
}

static const char *type_name(enum fam_type t)
{
    return t == T_COUNTER ? "counter" : t == T_GAUGE ? "gauge" : "histogram";
}

/* Under shards_mu and fa->mu. */
static void render_family(sbuf *b, int f)
{
    const fam_def *d = &defs[f];
    family *fa = &fams[f];
    int nv = fam_nvals(d);
    uint32_t n = fa->n;

    if (!d->sharded) {
        /* A family nothing has set yet (e.g. breakers in a build without
         * them) is left out entirely rather than shown empty. */
        bool any = false;
        for (uint32_t i = 0; i < n && !any; i++)
            any = fa->list[i]->gset;
        if (!any)
            return;
    }
    sb_str(b, "# HELP ");
    sb_str(b, d->name);
    sb_put(b, " ", 1);
    sb_str(b, d->help);
    sb_str(b, "\n# TYPE ");
    sb_str(b, d->name);
    sb_put(b, " ", 1);
    sb_str(b, type_name(d->type));
    sb_put(b, "\n", 1);

    if (!d->sharded) {
        for (uint32_t i = 0; i < n; i++)
            if (fa->list[i]->gset)
                render_values(b, d, fa->list[i], &fa->list[i]->gval);
        return;
    }
    if (n == 0) {
        /* label-less counters and histograms read 0 before the first event */
        if (d->nlabels == 0) {
            uint64_t zero[32] = {0};
            entry none = {0};
            render_values(b, d, &none, zero);
        }
        return;
    }
    uint64_t *acc = calloc((size_t)n * (size_t)nv, sizeof *acc);
    double *dacc = d->dbl ? calloc(n, sizeof *dacc) : NULL;
    if (!acc || (d->dbl && !dacc)) {
        b->oom = true;
        goto out;
    }
    for (shard *sh = shards; sh; sh = sh->next) {
        for (series *s = atomic_load_explicit(&sh->head[f], memory_order_acquire); s; s = s->next) {
            uint32_t idx = s->e->index;
            if (idx >= n)
                continue;
            for (int k = 0; k < nv; k++) {
                uint64_t x = atomic_load_explicit(&s->v[k], memory_order_relaxed);
                if (d->dbl) {
                    double dx;
                    memcpy(&dx, &x, sizeof dx);
                    dacc[idx] += dx;
                } else {
                    acc[(size_t)idx * nv + k] += x;
                }
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (d->dbl)
            memcpy(&acc[i], &dacc[i], sizeof acc[i]);
        render_values(b, d, fa->list[i], &acc[(size_t)i * nv]);
    }
out:
    free(acc);
    free(dacc);
}

char *sy_metrics_render(size_t *len)
{
    pthread_once(&init_once, init_all);
    sbuf b = {0};
    sb_str(&b, "# HELP switchyard_build_info Build information; the value is always 1.\n"
               "# TYPE switchyard_build_info gauge\n"
               "switchyard_build_info{version=\"");
    sb_label_value(&b, SY_VERSION, strlen(SY_VERSION));
    sb_str(&b, "\"} 1\n");

    pthread_mutex_lock(&shards_mu);
    for (int f = 0; f < F_COUNT; f++) {
        pthread_mutex_lock(&fams[f].mu);
        render_family(&b, f);
        pthread_mutex_unlock(&fams[f].mu);
    }
    pthread_mutex_unlock(&shards_mu);

    if (b.oom) {
        free(b.p);
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = b.n;
    return b.p;
}

/* ---- tests ------------------------------------------------------------- */

void sy_metrics_reset_for_tests(void)
{
    pthread_once(&init_once, init_all);
    pthread_mutex_lock(&shards_mu);
    shard **pp = &shards;
    while (*pp) {
        shard *sh = *pp;
        for (int f = 0; f < F_COUNT; f++) {
            series *s = atomic_load_explicit(&sh->head[f], memory_order_relaxed);
            while (s) {
                series *next = s->next;
                free(s);
                s = next;
            }
            atomic_store_explicit(&sh->head[f], NULL, memory_order_relaxed);
            free(sh->tab[f].slots);
            sh->tab[f] = (stable){0};
        }
        if (sh->dead) {
            *pp = sh->next;
            free(sh);
        } else {
            pp = &sh->next;
        }
    }
    for (int f = 0; f < F_COUNT; f++) {
        family *fa = &fams[f];
        pthread_mutex_lock(&fa->mu);
        for (uint32_t i = 0; i < fa->n; i++)
            free(fa->list[i]);
        free(fa->list);
        free(fa->slots);
        fa->list = NULL;
        fa->slots = NULL;
        fa->n = fa->list_cap = fa->cap = 0;
        fa->overflow = NULL;
        atomic_store_explicit(&fa->full, false, memory_order_release);
        pthread_mutex_unlock(&fa->mu);
    }
    pthread_mutex_unlock(&shards_mu);
}
