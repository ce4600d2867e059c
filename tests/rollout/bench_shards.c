/*
 * bench_shards.c - what recording one attempt in the rollout windows costs a
 * worker: the per-thread shards serve uses (shards.h), against one window
 * behind one mutex shared by every thread (the alternative), and against a
 * window of the thread's own with no lock at all (the floor: what
 * sy_window_add alone costs).
 *
 *   build-DIR/tests/rollout/bench_shards [attempts-per-thread]
 *
 * Prints the CPU time per recorded attempt of one recording thread, for 1
 * and 2 threads (the build machine has 2 cores), while a reader merges the
 * shards every 200 µs (1000 times more often than serve's tick, to show
 * the merge does not get in the way), and the reader's CPU time per merge
 * of one arm of every shard (one shard per recording thread), while they
 * record and once they stopped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shards.h"
#include "window.h"

#define MS 1000000ull

typedef enum { SHARDS, SHARED_MUTEX, OWN_WINDOW } kind;

static uint64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct job {
    kind how;
    sy_arm_shards *shards;     /* SHARDS */
    sy_window *shared;         /* SHARED_MUTEX */
    pthread_mutex_t *shared_mu;
    long n;
    uint64_t merge_cpu;        /* the reader's, over `merges` merges */
    long merges;
} job;

static _Atomic int stop;

static void *record(void *arg)
{
    job *j = arg;
    sy_window *own = NULL;
    if (j->how == OWN_WINDOW) {
        own = malloc(sizeof *own);
        if (!own) return NULL;
        sy_window_init(own, 5000 * MS);
    }
    uint64_t base = mono(), cpu0 = thread_cpu();
    for (long i = 0; i < j->n; i++) {
        uint64_t t = base + (uint64_t)i * 1000; /* 1 µs apart: the window slides as it would */
        uint64_t lat = (uint64_t)(80 + (i & 127)) * MS;
        int failed = (i & 255) == 0;
        switch (j->how) {
        case SHARDS: sy_arm_shards_add(j->shards, 1, t, failed, lat); break;
        case SHARED_MUTEX:
            pthread_mutex_lock(j->shared_mu);
            sy_window_add(j->shared, t, failed, lat);
            pthread_mutex_unlock(j->shared_mu);
            break;
        case OWN_WINDOW: sy_window_add(own, t, failed, lat); break;
        }
    }
    uint64_t *cpu = malloc(sizeof *cpu);
    if (cpu) *cpu = thread_cpu() - cpu0;
    free(own);
    return cpu;
}

static void *merge(void *arg)
{
    job *j = arg;
    struct timespec pause = {0, 200000};
    while (!atomic_load(&stop)) {
        sy_window_sum w;
        sy_window_sum_clear(&w);
        uint64_t cpu0 = thread_cpu();
        if (j->how == SHARDS) {
            sy_arm_shards_collect(j->shards, 1, mono(), 0, &w);
        } else if (j->how == SHARED_MUTEX) {
            pthread_mutex_lock(j->shared_mu);
            sy_window_collect(j->shared, mono(), 0, &w);
            pthread_mutex_unlock(j->shared_mu);
        }
        j->merge_cpu += thread_cpu() - cpu0;
        j->merges++;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* CPU µs per merge of the shards of `threads` threads, once they stopped
 * recording (what a merge costs when nothing is in its way). */
static double quiet_merge_us(sy_arm_shards *s)
{
    enum { MERGES = 2000 };
    uint64_t now = mono(), cpu0 = thread_cpu();
    for (int i = 0; i < MERGES; i++) {
        sy_window_sum w;
        sy_window_sum_clear(&w);
        sy_arm_shards_collect(s, 1, now, 0, &w);
    }
    return (double)(thread_cpu() - cpu0) / MERGES / 1000.0;
}

/* CPU ns per attempt of a recording thread; *merge_us: the reader's CPU µs
 * per merge while they record, *quiet_us: after they stopped. */
static double bench(int threads, kind how, long n, double *merge_us, double *quiet_us)
{
    static sy_window shared;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    sy_window_init(&shared, 5000 * MS);
    job j = {how, how == SHARDS ? sy_arm_shards_new(5000 * MS) : NULL, &shared, &mu, n, 0, 0};
    pthread_t t[8], reader;
    atomic_store(&stop, 0);
    pthread_create(&reader, NULL, merge, &j);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, record, &j);
    uint64_t cpu = 0;
    for (int i = 0; i < threads; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        if (r) cpu += *(uint64_t *)r;
        free(r);
    }
    atomic_store(&stop, 1);
    pthread_join(reader, NULL);
    if (quiet_us && j.shards) *quiet_us = quiet_merge_us(j.shards);
    sy_arm_shards_free(j.shards);
    if (merge_us) *merge_us = j.merges ? (double)j.merge_cpu / (double)j.merges / 1000.0 : 0;
    /* CPU time per attempt of a recording thread: what one worker pays
     * (the machine is shared, so wall time would measure the neighbours). */
    return (double)cpu / (double)threads / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    printf("sizeof(sy_window) %zu bytes\n", sizeof(sy_window));
    for (int threads = 1; threads <= 2; threads++) {
        double merge_us, quiet_us;
        double sharded = bench(threads, SHARDS, n, &merge_us, &quiet_us);
        double shared = bench(threads, SHARED_MUTEX, n, NULL, NULL);
        double own = bench(threads, OWN_WINDOW, n, NULL, NULL);
        printf("%d thread%s: shards %.1f ns/attempt (a merge %.1f µs, %.1f µs once they stopped), "
               "one shared mutex %.1f ns/attempt, own window and no lock %.1f ns/attempt\n",
               threads, threads == 1 ? " " : "s", sharded, merge_us, quiet_us, shared, own);
    }
    return 0;
}
