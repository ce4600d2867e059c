/*
 * Unit tests for the per-thread shards of the arms' windows (shards.h): the
 * merge, a new window length, and that a merge running while a thread
 * records only ever sees whole attempts (the seqlock). The concurrent tests
 * assert what must hold whatever the interleaving; none waits on a clock.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "shards.h"
#include "window.h"

#define MS 1000000ull
#define S (1000 * MS)

static sy_window_sum collect(sy_arm_shards *s, int arm, uint64_t now)
{
    sy_window_sum w;
    sy_window_sum_clear(&w);
    sy_arm_shards_collect(s, arm, now, 0, &w);
    return w;
}

/* ---- merging */

typedef struct feeder {
    sy_arm_shards *s;
    int arm, n;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    for (int i = 0; i < f->n; i++) sy_arm_shards_add(f->s, f->arm, 1 * S, i % 10 == 0, 50 * MS);
    return NULL;
}

Test(shards, threads_record_in_their_own_shards_and_collect_merges)
{
    sy_arm_shards *s = sy_arm_shards_new(10 * S);
    cr_assert_not_null(s);
    pthread_t t[4];
    feeder f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (feeder){s, i % 2, 5000};
        cr_assert_eq(pthread_create(&t[i], NULL, feed, &f[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int arm = 0; arm < 2; arm++) {
        sy_window_sum w = collect(s, arm, 2 * S);
        cr_assert_eq(w.attempts, 10000, "arm %d", arm);
        cr_assert_eq(w.failures, 1000);
        cr_assert_eq(w.latency.total, 9000);
    }
    /* A new window length starts every shard over. */
    sy_arm_shards_set_window(s, 20 * S);
    cr_assert_eq(collect(s, 1, 2 * S).attempts, 0);
    sy_arm_shards_free(s);
}

Test(shards, a_new_window_length_starts_over_even_when_set_back)
{
    sy_arm_shards *s = sy_arm_shards_new(10 * S);
    cr_assert_not_null(s);
    for (int i = 0; i < 5; i++) sy_arm_shards_add(s, 0, 1 * S, 0, 50 * MS);
    cr_assert_eq(collect(s, 0, 2 * S).attempts, 5);
    sy_arm_shards_set_window(s, 20 * S);
    cr_assert_eq(sy_arm_shards_window(s), 20 * S);
    cr_assert_eq(collect(s, 0, 2 * S).attempts, 0);
    /* Back to the first length before the shard's owner recorded again: the
     * merge left the shard alone, but what it holds is still not shown. */
    sy_arm_shards_set_window(s, 10 * S);
    cr_assert_eq(collect(s, 0, 2 * S).attempts, 0);
    /* The owner's next attempt starts the shard over at the new length. */
    sy_arm_shards_add(s, 0, 1 * S, 1, 0);
    sy_window_sum w = collect(s, 0, 2 * S);
    cr_assert_eq(w.attempts, 1);
    cr_assert_eq(w.failures, 1);
    sy_arm_shards_free(s);
}

/* ---- merging while a thread records */

/* A merge copies a shard's window, slot after slot, while its owner may
 * record. Torn between two adds, a copy would hold one slot as it was
 * before them and another as it was after; torn inside one add, a slot's
 * attempts, failures and histogram would disagree. */

/* The writer records at least RECORDED_AT_LEAST, then goes on until the
 * test thread made that many merges while it recorded (on a busy machine
 * the two may seldom run at once), or it recorded RECORDED_AT_MOST. */
#define RECORDED_AT_LEAST 100000
#define MERGES_WHILE_RECORDING 2000
#define RECORDED_AT_MOST 2000000

typedef struct race {
    sy_arm_shards *s;
    _Atomic long recorded;   /* attempts (or pairs of them) recorded so far */
    _Atomic long merges;     /* collects during which the writer recorded */
    _Atomic int reader_ready, writer_done;
    _Atomic int filled;      /* record_pairs: the slots between are filled */
} race;

static int writer_may_stop(race *r, long i)
{
    return i >= RECORDED_AT_MOST ||
           (i >= RECORDED_AT_LEAST &&
            atomic_load_explicit(&r->merges, memory_order_relaxed) >= MERGES_WHILE_RECORDING);
}

/* The test thread's collect, counted when the writer recorded meanwhile. */
static sy_window_sum collect_racing(race *r, uint64_t now, long *merges)
{
    long before = atomic_load_explicit(&r->recorded, memory_order_acquire);
    sy_window_sum w = collect(r->s, 1, now);
    if (atomic_load_explicit(&r->recorded, memory_order_acquire) != before)
        atomic_store_explicit(&r->merges, ++*merges, memory_order_relaxed);
    return w;
}

/* What every consistent read of a window of successes has: one latency
 * sample each, and the histogram's buckets adding up to its total. */
static void assert_samples(const sy_window_sum *w, long merge)
{
    cr_assert_eq(w->latency.total, w->attempts - w->failures, "merge %ld: %lu samples for %lu",
                 merge, (unsigned long)w->latency.total,
                 (unsigned long)(w->attempts - w->failures));
    uint64_t in_buckets = 0;
    for (int b = 0; b < SY_HIST_BUCKETS; b++) in_buckets += w->latency.n[b];
    cr_assert_eq(in_buckets, w->latency.total, "merge %ld", merge);
}

/* The writer records pairs: a failure in the window's last slot (the end of
 * the ring), then a success in its first (the start of the ring), with a
 * latency of 1..97 ms. Any whole read holds as many failures as successes,
 * or one more. First it puts two successes in each slot between, one in
 * the histogram's first bucket and one in its last, so that a copy spends
 * most of its time (all their buckets, some 25 KB) between the two slots
 * the pairs go to. */
#define SLOT (500 * MS)
#define FIRST_SLOT (100 * MS)
#define LAST_SLOT (SY_WINDOW_SLOTS * SLOT + 100 * MS)
#define PAIRS_NOW (LAST_SLOT + 100 * MS)
#define BETWEEN (2 * (SY_WINDOW_SLOTS - 1)) /* the successes in the slots between */

static void *record_pairs(void *arg)
{
    race *r = arg;
    for (uint64_t k = 1; k < SY_WINDOW_SLOTS; k++) {
        sy_arm_shards_add(r->s, 1, k * SLOT + 100 * MS, 0, 0);
        sy_arm_shards_add(r->s, 1, k * SLOT + 100 * MS, 0, 2 * sy_hist_lower_ns(SY_HIST_BUCKETS - 1));
    }
    atomic_store(&r->filled, 1);
    long i = 0;
    for (; !writer_may_stop(r, i); i++) {
        sy_arm_shards_add(r->s, 1, LAST_SLOT, 1, 0);
        sy_arm_shards_add(r->s, 1, FIRST_SLOT, 0, (1 + (uint64_t)(i % 97)) * MS);
        atomic_store_explicit(&r->recorded, i + 1, memory_order_release);
    }
    atomic_store(&r->writer_done, 1);
    return NULL;
}

Test(shards, a_merge_while_a_thread_records_sees_no_attempt_twice_or_half)
{
    race r = {.s = sy_arm_shards_new(10 * S)};
    cr_assert_not_null(r.s);
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, record_pairs, &r), 0);
    while (!atomic_load(&r.filled)) sched_yield();
    long merges = 0;
    for (long reads = 0; !atomic_load(&r.writer_done); reads++) {
        sy_window_sum w = collect_racing(&r, PAIRS_NOW, &merges);
        uint64_t successes = w.attempts - w.failures - BETWEEN;
        cr_assert(w.failures == successes || w.failures == successes + 1,
                  "merge %ld: %lu failures, %lu successes", reads, (unsigned long)w.failures,
                  (unsigned long)successes);
        assert_samples(&w, reads);
    }
    pthread_join(writer, NULL);
    long n = atomic_load(&r.recorded);
    sy_window_sum w = collect(r.s, 1, PAIRS_NOW);
    cr_assert_eq(w.attempts, 2 * (uint64_t)n + BETWEEN);
    cr_assert_eq(w.failures, (uint64_t)n);
    assert_samples(&w, -1);
    sy_arm_shards_free(r.s);
}

/* The writer records attempt i at i ms, failed when i is odd: the window
 * (10 s, slots of 500 attempts each beginning at an even i) slides on, and
 * its ring of 21 slots is reused, 9 times at least. Any whole read holds
 * half its attempts as failures (rounded down): every slot but the one
 * filling holds 250 of each. */
#define PER_SLOT 500

static void *record_sliding(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->reader_ready)) sched_yield();
    long i = 0;
    for (; !writer_may_stop(r, i); i++) {
        uint64_t latency = (1 + (uint64_t)(i % 97)) * MS;
        sy_arm_shards_add(r->s, 1, (uint64_t)i * MS, (int)(i & 1), latency);
        atomic_store_explicit(&r->recorded, i + 1, memory_order_release);
    }
    atomic_store(&r->writer_done, 1);
    return NULL;
}

Test(shards, a_merge_while_the_window_slides_sees_whole_slots)
{
    race r = {.s = sy_arm_shards_new(10 * S)};
    cr_assert_not_null(r.s);
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, record_sliding, &r), 0);
    atomic_store(&r.reader_ready, 1);
    long merges = 0;
    for (long reads = 0; !atomic_load(&r.writer_done); reads++) {
        /* "now" a little past where the writer was: its current slot and
         * the 20 before it, and sometimes a slot it is starting over. */
        long at = atomic_load_explicit(&r.recorded, memory_order_acquire) + 2 * PER_SLOT;
        sy_window_sum w = collect_racing(&r, (uint64_t)at * MS, &merges);
        cr_assert_eq(w.failures, w.attempts / 2, "merge %ld: %lu attempts, %lu failures", reads,
                     (unsigned long)w.attempts, (unsigned long)w.failures);
        assert_samples(&w, reads);
    }
    pthread_join(writer, NULL);
    /* And exactly what was recorded: the last 21 slots. */
    long n = atomic_load(&r.recorded), last = (n - 1) / PER_SLOT, expect = 0;
    for (long k = last >= SY_WINDOW_SLOTS ? last - SY_WINDOW_SLOTS : 0; k <= last; k++)
        expect += n - k * PER_SLOT < PER_SLOT ? n - k * PER_SLOT : PER_SLOT;
    sy_window_sum w = collect(r.s, 1, (uint64_t)(n - 1) * MS);
    cr_assert_eq(w.attempts, (uint64_t)expect);
    cr_assert_eq(w.failures, w.attempts / 2);
    assert_samples(&w, -1);
    cr_assert_eq(collect(r.s, 0, (uint64_t)(n - 1) * MS).attempts, 0, "the other arm is empty");
    sy_arm_shards_free(r.s);
}

/* ---- a new window length while a thread records */

typedef struct changing {
    sy_arm_shards *s;
    _Atomic long started;    /* attempts the writer began to record */
    _Atomic int stop;
} changing;

static void *record_at_one_second(void *arg)
{
    changing *c = arg;
    for (long i = 0; !atomic_load(&c->stop); i++) {
        atomic_store(&c->started, i + 1);
        sy_arm_shards_add(c->s, 0, 1 * S, (int)(i & 1), 5 * MS);
        /* On a busy machine, be put aside here rather than in the middle
         * of an add, which the merge would wait out. */
        sched_yield();
    }
    return NULL;
}

Test(shards, a_new_window_length_while_a_thread_records_shows_nothing_older)
{
    changing c = {.s = sy_arm_shards_new(10 * S)};
    cr_assert_not_null(c.s);
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, record_at_one_second, &c), 0);
    long c1 = 0;
    for (int round = 0; round < 300; round++) {
        /* Let the shard fill at the current length, so that old attempts
         * are there to be wrongly shown. */
        while (atomic_load(&c.started) < c1 + 50) sched_yield();
        sy_window_sum w = collect(c.s, 0, 2 * S);
        cr_assert_leq(w.failures, w.attempts / 2 + 1, "round %d", round);
        cr_assert_geq(w.failures, w.attempts / 2, "round %d", round);
        cr_assert_eq(w.latency.total, w.attempts - w.failures, "round %d", round);

        long c0 = atomic_load(&c.started);
        sy_arm_shards_set_window(c.s, (round & 1 ? 10 : 20) * S);
        w = collect(c.s, 0, 2 * S);
        c1 = atomic_load(&c.started);
        /* Only attempts begun after the change (and the one under way when
         * it was made) may be shown. */
        cr_assert_leq(w.attempts, (uint64_t)(c1 - c0 + 1), "round %d: %lu attempts, %ld begun since",
                      round, (unsigned long)w.attempts, c1 - c0);
        cr_assert_eq(w.latency.total, w.attempts - w.failures, "round %d", round);
    }
    while (atomic_load(&c.started) < c1 + 50) sched_yield(); /* refitted to the last length */
    atomic_store(&c.stop, 1);
    pthread_join(writer, NULL);
    cr_assert_gt(collect(c.s, 0, 2 * S).attempts, 0);
    sy_arm_shards_set_window(c.s, 30 * S);
    cr_assert_eq(collect(c.s, 0, 2 * S).attempts, 0, "the writer is gone: its shard stays stale");
    sy_arm_shards_free(c.s);
}
