/* response_map.c - id -> home of stored responses (see response_map.h).
 *
 * Each shard is a chained hash table whose entries are also on a list in
 * the order they were put: the head is the oldest, so the bound and the
 * expiry both drop from there. */
#include "response_map.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS_MANY 16
#define MIN_BUCKETS 64

typedef struct entry {
    struct entry *chain;       /* next in the hash bucket */
    struct entry *older, *newer;
    uint64_t hash;
    int64_t expires_ms;
    sy_response_home home;
    size_t id_len;
    char id[];
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t n_buckets, count;
    entry *oldest, *newest;
} shard;

struct sy_response_map {
    shard *shards;
    size_t n_shards;
    _Atomic size_t cap_per_shard;
    _Atomic int64_t ttl_ms;
    sy_response_map_listener listener;
    void *listener_ctx;
};

static uint64_t hash_id(const char *id, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int sy_response_id_valid(const char *id, size_t len)
{
    if (!id || len == 0 || len > SY_RESPONSE_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static size_t per_shard(size_t max_entries, size_t n_shards)
{
    size_t c = (max_entries + n_shards - 1) / n_shards;
    return c ? c : 1;
}

sy_response_map *sy_response_map_new(size_t max_entries, int64_t ttl_ms)
{
    sy_response_map *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    /* A small map is one shard, so its bound is exact. */
    m->n_shards = max_entries >= 1024 ? SHARDS_MANY : 1;
    m->shards = calloc(m->n_shards, sizeof *m->shards);
    if (!m->shards) {
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->n_shards; i++) pthread_mutex_init(&m->shards[i].mu, NULL);
    sy_response_map_configure(m, max_entries, ttl_ms);
    return m;
}

void sy_response_map_free(sy_response_map *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_shards; i++) {
        shard *s = &m->shards[i];
        for (entry *e = s->oldest, *n; e; e = n) {
            n = e->newer;
            free(e);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(m->shards);
    free(m);
}

void sy_response_map_configure(sy_response_map *m, size_t max_entries, int64_t ttl_ms)
{
    atomic_store(&m->cap_per_shard, per_shard(max_entries, m->n_shards));
    atomic_store(&m->ttl_ms, ttl_ms > 0 ? ttl_ms : 1);
}

void sy_response_map_set_listener(sy_response_map *m, sy_response_map_listener fn, void *ctx)
{
    m->listener = fn;
    m->listener_ctx = ctx;
}

static shard *shard_of(sy_response_map *m, uint64_t h)
{
    return &m->shards[(h >> 56) % m->n_shards];
}

static entry **slot_of(shard *s, uint64_t h, const char *id, size_t len)
{
    if (!s->n_buckets) return NULL;
    entry **p = &s->buckets[h & (s->n_buckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->id_len == len && !memcmp((*p)->id, id, len)))
        p = &(*p)->chain;
    return p;
}

/* Take e out of its bucket (at *slot) and off the age list, and free it. */
static void drop(shard *s, entry **slot)
{
    entry *e = *slot;
    *slot = e->chain;
    if (e->older) e->older->newer = e->newer; else s->oldest = e->newer;
    if (e->newer) e->newer->older = e->older; else s->newest = e->older;
    s->count--;
    free(e);
}

static void drop_entry(shard *s, entry *e)
{
    entry **p = slot_of(s, e->hash, e->id, e->id_len);
    if (p && *p == e) drop(s, p);
}

static int grow(shard *s)
{
    size_t n = s->n_buckets ? s->n_buckets * 2 : MIN_BUCKETS;
    entry **b = calloc(n, sizeof *b);
    if (!b) return -1;
    for (entry *e = s->oldest; e; e = e->newer) {
        entry **head = &b[e->hash & (n - 1)];
        e->chain = *head;
        *head = e;
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
    return 0;
}

static int insert(sy_response_map *m, const char *id, size_t len, const sy_response_home *home,
                  int64_t expires_ms, int64_t now_ms)
{
    if (!sy_response_id_valid(id, len) || !home) return -1;
    uint64_t h = hash_id(id, len);
    shard *s = shard_of(m, h);
    entry *e = malloc(sizeof *e + len + 1);
    if (!e) return -1;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->expires_ms = expires_ms;
    e->home = *home;
    e->home.provider[sizeof e->home.provider - 1] = '\0';
    e->home.endpoint[sizeof e->home.endpoint - 1] = '\0';
    e->home.model[sizeof e->home.model - 1] = '\0';
    e->id_len = len;
    memcpy(e->id, id, len);
    e->id[len] = '\0';

    size_t cap = atomic_load(&m->cap_per_shard);
    pthread_mutex_lock(&s->mu);
    entry **old = slot_of(s, h, id, len);
    if (old && *old) drop(s, old);
    /* Expired ones first, then the oldest beyond the bound. */
    while (s->oldest && (s->oldest->expires_ms <= now_ms || s->count >= cap))
        drop_entry(s, s->oldest);
    if (s->count + 1 > s->n_buckets && grow(s) != 0) {
        pthread_mutex_unlock(&s->mu);
        free(e);
        return -1;
    }
    entry **head = &s->buckets[h & (s->n_buckets - 1)];
    e->chain = *head;
    *head = e;
    e->older = s->newest;
    if (s->newest) s->newest->newer = e; else s->oldest = e;
    s->newest = e;
    s->count++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int sy_response_map_put(sy_response_map *m, const char *id, size_t len,
                        const sy_response_home *home, int64_t now_ms)
{
    int64_t expires = now_ms + atomic_load(&m->ttl_ms);
    if (insert(m, id, len, home, expires, now_ms) != 0) return -1;
    if (m->listener) {
        char copy[SY_RESPONSE_ID_MAX + 1];
        memcpy(copy, id, len);
        copy[len] = '\0';
        m->listener(m->listener_ctx, copy, home, expires);
    }
    return 0;
}

int sy_response_map_put_replica(sy_response_map *m, const char *id, size_t len,
                                const sy_response_home *home, int64_t expires_ms)
{
    return insert(m, id, len, home, expires_ms, INT64_MIN);
}

int sy_response_map_get(sy_response_map *m, const char *id, size_t len, int64_t now_ms,
                        sy_response_home *out)
{
    if (!sy_response_id_valid(id, len)) return 1;
    uint64_t h = hash_id(id, len);
    shard *s = shard_of(m, h);
    int rc = 1;
    pthread_mutex_lock(&s->mu);
    entry **p = slot_of(s, h, id, len);
    if (p && *p) {
        if ((*p)->expires_ms <= now_ms) {
            drop(s, p);
        } else {
            if (out) *out = (*p)->home;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

size_t sy_response_map_count(sy_response_map *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_shards; i++) {
        pthread_mutex_lock(&m->shards[i].mu);
        n += m->shards[i].count;
        pthread_mutex_unlock(&m->shards[i].mu);
    }
    return n;
}
