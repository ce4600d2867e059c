/* shards.c - per-thread shards of the arms' windows (see shards.h). */
#include "shards.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tries at reading a shard that its owner keeps changing (read_shard):
 * after so many the reader asks the owner for a copy, then it yields its
 * CPU between tries, then it sleeps a little between them. */
#define TRIES_BEFORE_ASKING 2
#define TRIES_BEFORE_YIELDING 64
#define TRIES_BEFORE_SLEEPING 256
#define SLEEP_NS 20000

typedef struct shard {
    struct shard *next;      /* the set's list; never removed before the set is freed */
    /* The seqlock: odd while the owner changes gen or w[]. Only the owner
     * writes it. */
    _Atomic uint64_t seq;
    /* A reader that the owner keeps getting in the way of asks it for a
     * copy: ask = n * SY_SHARD_ARMS + arm, n growing; on its next add the
     * owner copies w[arm] to snap and stores answered = ask. */
    _Atomic uint64_t ask;
    _Atomic uint64_t answered;
    uint64_t asks;           /* the last n; readers' own, under the set's list_mu */
    uint64_t gen;            /* the set's generation w[] was made for */
    sy_window w[SY_SHARD_ARMS];
    uint64_t snap_gen;       /* the copy: the owner's until it answers, then the reader's */
    sy_window snap;
} shard;

struct sy_arm_shards {
    uint64_t id;             /* tells this set from one freed before it at the same address */
    _Atomic uint64_t window_ns;
    _Atomic uint64_t gen;    /* bumped by every set_window: shards made for an older one are stale */
    pthread_mutex_t list_mu; /* the list; and readers, one at a time (asks, copy) */
    shard *list;
    sy_window copy;          /* a reader's copy of one shard's window */
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
    atomic_init(&s->window_ns, window_ns);
    atomic_init(&s->gen, 1);
    pthread_mutex_init(&s->list_mu, NULL);
    return s;
}

void sy_arm_shards_free(sy_arm_shards *s)
{
    if (!s) return;
    for (shard *sh = s->list, *next; sh; sh = next) {
        next = sh->next;
        free(sh);
    }
    pthread_mutex_destroy(&s->list_mu);
    free(s);
}

void sy_arm_shards_set_window(sy_arm_shards *s, uint64_t window_ns)
{
    atomic_store_explicit(&s->window_ns, window_ns, memory_order_relaxed);
    /* Release: who sees the new generation sees the new length. */
    atomic_fetch_add_explicit(&s->gen, 1, memory_order_release);
}

uint64_t sy_arm_shards_window(const sy_arm_shards *s)
{
    return atomic_load(&((sy_arm_shards *)s)->window_ns);
}

/* By the owner: start over when the set's generation changed. */
static void shard_fit(shard *sh, sy_arm_shards *s, uint64_t gen)
{
    if (sh->gen == gen) return;
    sh->gen = gen;
    uint64_t len = atomic_load_explicit(&s->window_ns, memory_order_relaxed);
    for (int a = 0; a < SY_SHARD_ARMS; a++) sy_window_init(&sh->w[a], len);
}

static shard *my_shard(sy_arm_shards *s)
{
    if (tls.set_id == s->id) return tls.sh;
    shard *sh = calloc(1, sizeof *sh);
    if (!sh) return NULL;
    atomic_init(&sh->seq, 0);
    atomic_init(&sh->ask, 0);
    atomic_init(&sh->answered, 0);
    shard_fit(sh, s, atomic_load_explicit(&s->gen, memory_order_acquire));
    pthread_mutex_lock(&s->list_mu);
    sh->next = s->list;
    s->list = sh;
    pthread_mutex_unlock(&s->list_mu);
    tls.set_id = s->id;
    tls.sh = sh;
    return sh;
}

/* Into *to what sy_window_collect reads of *from: every slot's counts and
 * its histogram's buckets lo..hi, the ones that may be non-empty
 * (histogram.h); to's other buckets are kept zero. *from may be changing
 * under a reader, who keeps the copy only if the seqlock says it is whole:
 * lo and hi are read once and kept in bounds, so that a torn copy is
 * wrong, never out of bounds. Far less than the 27 KB of a window when the
 * latencies span a few buckets. */
static void copy_window(sy_window *to, const sy_window *from)
{
    to->width_ns = from->width_ns;
    for (int i = 0; i < SY_WINDOW_RING; i++) {
        sy_window_slot *t = &to->slot[i];
        const sy_window_slot *f = &from->slot[i];
        if (t->latency.lo <= t->latency.hi)
            memset(&t->latency.n[t->latency.lo], 0,
                   (size_t)(t->latency.hi - t->latency.lo + 1) * sizeof t->latency.n[0]);
        t->idx = f->idx;
        t->attempts = f->attempts;
        t->failures = f->failures;
        t->latency.total = f->latency.total;
        uint16_t lo = *(volatile const uint16_t *)&f->latency.lo;
        uint16_t hi = *(volatile const uint16_t *)&f->latency.hi;
        if (hi >= SY_HIST_BUCKETS) hi = SY_HIST_BUCKETS - 1;
        t->latency.lo = lo;
        t->latency.hi = hi;
        if (lo <= hi)
            memcpy(&t->latency.n[lo], &f->latency.n[lo], (size_t)(hi - lo + 1) * sizeof f->latency.n[0]);
    }
}

/* By the owner, between two adds: the copy a reader asked for, if one did. */
static void answer(shard *sh)
{
    /* Acquire: the reader was done with the last copy before it asked again. */
    uint64_t ask = atomic_load_explicit(&sh->ask, memory_order_acquire);
    if (ask == atomic_load_explicit(&sh->answered, memory_order_relaxed)) return;
    sh->snap_gen = sh->gen;
    copy_window(&sh->snap, &sh->w[ask % SY_SHARD_ARMS]);
    atomic_store_explicit(&sh->answered, ask, memory_order_release);
}

void sy_arm_shards_add(sy_arm_shards *s, int arm, uint64_t t, int failed, uint64_t latency_ns)
{
    if (arm < 0 || arm >= SY_SHARD_ARMS) return;
    shard *sh = my_shard(s);
    if (!sh) return;
    uint64_t gen = atomic_load_explicit(&s->gen, memory_order_acquire);
    uint64_t seq = atomic_load_explicit(&sh->seq, memory_order_relaxed); /* ours alone */
    atomic_store_explicit(&sh->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd, before any change below */
    shard_fit(sh, s, gen);
    sy_window_add(&sh->w[arm], t, failed, latency_ns);
    atomic_store_explicit(&sh->seq, seq + 2, memory_order_release); /* even, after them */
    answer(sh);
}

/* Into s->copy, under list_mu: sh's window of arm as its owner left it
 * between two adds. 0 when the shard was made for an older generation than
 * gen (a window length that is no more): empty, until its owner's next add
 * starts it over. */
static int read_shard(sy_arm_shards *s, shard *sh, int arm, uint64_t gen)
{
    uint64_t ask = 0;
    for (unsigned tries = 1;; tries++) {
        uint64_t seq = atomic_load_explicit(&sh->seq, memory_order_acquire);
        if (!(seq & 1)) {
            uint64_t its_gen = sh->gen;
            if (its_gen == gen) copy_window(&s->copy, &sh->w[arm]);
            atomic_thread_fence(memory_order_acquire); /* the copy, before seq again */
            if (atomic_load_explicit(&sh->seq, memory_order_relaxed) == seq) return its_gen == gen;
        }
        if (tries < TRIES_BEFORE_ASKING) continue;
        /* An owner recording without pause would spoil every copy (one
         * takes as long as a few adds, some 30 when every bucket is in use):
         * it makes one itself on its next add. One that stopped lets the
         * next try through. */
        if (!ask) {
            ask = ++sh->asks * SY_SHARD_ARMS + (uint64_t)arm;
            atomic_store_explicit(&sh->ask, ask, memory_order_release);
        } else if (atomic_load_explicit(&sh->answered, memory_order_acquire) == ask) {
            copy_window(&s->copy, &sh->snap);
            return sh->snap_gen == gen;
        }
        /* The owner was put aside in the middle of an add: let it finish
         * (sleeping frees this CPU for it when it waits for one). */
        if (tries >= TRIES_BEFORE_SLEEPING) nanosleep(&(struct timespec){0, SLEEP_NS}, NULL);
        else if (tries >= TRIES_BEFORE_YIELDING) sched_yield();
    }
}

void sy_arm_shards_collect(sy_arm_shards *s, int arm, uint64_t now, uint64_t since,
                           sy_window_sum *out)
{
    if (arm < 0 || arm >= SY_SHARD_ARMS) return;
    uint64_t gen = atomic_load_explicit(&s->gen, memory_order_acquire);
    pthread_mutex_lock(&s->list_mu);
    for (shard *sh = s->list; sh; sh = sh->next)
        if (read_shard(s, sh, arm, gen)) sy_window_collect(&s->copy, now, since, out);
    pthread_mutex_unlock(&s->list_mu);
}
