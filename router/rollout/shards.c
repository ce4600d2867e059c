/* shards.c - per-thread shards of the arms' windows (see shards.h). */
#include "shards.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct shard {
    struct shard *next;   /* the set's list; never removed before the set is freed */
    pthread_mutex_t mu;
    uint64_t window_ns;   /* the length w[] was made for */
    sy_window w[SY_SHARD_ARMS];
} shard;

struct sy_arm_shards {
    uint64_t id;          /* tells this set from one freed before it at the same address */
    _Atomic uint64_t window_ns;
    pthread_mutex_t list_mu;
    shard *list;
};

static _Atomic uint64_t next_id = 1;

/* The calling thread's shard of the set it last recorded in. */
static __thread struct {
    uint64_t set_id;
    shard *sh;
} tls;

sy_arm_shards *sy_arm_shards_new(uint64_t window_ns)
{
    sy_arm_shards *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = atomic_fetch_add(&next_id, 1);
    atomic_store(&s->window_ns, window_ns);
    pthread_mutex_init(&s->list_mu, NULL);
    return s;
}

void sy_arm_shards_free(sy_arm_shards *s)
{
    if (!s) return;
    for (shard *sh = s->list, *next; sh; sh = next) {
        next = sh->next;
        pthread_mutex_destroy(&sh->mu);
        free(sh);
    }
    pthread_mutex_destroy(&s->list_mu);
    free(s);
}

void sy_arm_shards_set_window(sy_arm_shards *s, uint64_t window_ns)
{
    atomic_store(&s->window_ns, window_ns);
}

uint64_t sy_arm_shards_window(const sy_arm_shards *s)
{
    return atomic_load(&((sy_arm_shards *)s)->window_ns);
}

/* Under sh->mu: start over when the window length changed. */
static void shard_fit(shard *sh, uint64_t window_ns)
{
    if (sh->window_ns == window_ns) return;
    sh->window_ns = window_ns;
    for (int a = 0; a < SY_SHARD_ARMS; a++) sy_window_init(&sh->w[a], window_ns);
}

static shard *my_shard(sy_arm_shards *s)
{
    if (tls.set_id == s->id) return tls.sh;
    shard *sh = malloc(sizeof *sh);
    if (!sh) return NULL;
    pthread_mutex_init(&sh->mu, NULL);
    sh->window_ns = 0;
    shard_fit(sh, atomic_load(&s->window_ns));
    pthread_mutex_lock(&s->list_mu);
    sh->next = s->list;
    s->list = sh;
    pthread_mutex_unlock(&s->list_mu);
    tls.set_id = s->id;
    tls.sh = sh;
    return sh;
}

void sy_arm_shards_add(sy_arm_shards *s, int arm, uint64_t t, int failed, uint64_t latency_ns)
{
    if (arm < 0 || arm >= SY_SHARD_ARMS) return;
    shard *sh = my_shard(s);
    if (!sh) return;
    uint64_t len = atomic_load_explicit(&s->window_ns, memory_order_relaxed);
    pthread_mutex_lock(&sh->mu);
    shard_fit(sh, len);
    sy_window_add(&sh->w[arm], t, failed, latency_ns);
    pthread_mutex_unlock(&sh->mu);
}

void sy_arm_shards_collect(sy_arm_shards *s, int arm, uint64_t now, uint64_t since,
                           sy_window_sum *out)
{
    if (arm < 0 || arm >= SY_SHARD_ARMS) return;
    uint64_t len = atomic_load(&s->window_ns);
    pthread_mutex_lock(&s->list_mu);
    for (shard *sh = s->list; sh; sh = sh->next) {
        pthread_mutex_lock(&sh->mu);
        shard_fit(sh, len);
        sy_window_collect(&sh->w[arm], now, since, out);
        pthread_mutex_unlock(&sh->mu);
    }
    pthread_mutex_unlock(&s->list_mu);
}
