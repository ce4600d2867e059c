/*
 * bench_shards.c - what recording one attempt in the rollout windows costs a
 * worker: the per-thread shards serve uses (shards.h), against one window
 * behind one mutex shared by every thread (the alternative).
 *
 *   build-DIR/tests/rollout/bench_shards [attempts-per-thread]
 *
 * Prints the CPU time per recorded attempt of one recording thread, for 1
 * and 2 threads (the build machine has 2 cores), while a reader merges the
 * shards every 200 µs (1000 times more often than serve's tick, to show
 * the merge does not get in the way).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shards.h"
#include "window.h"

#define MS 1000000ull

static uint64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct job {
    sy_arm_shards *shards;     /* or, when NULL: */
    sy_window *shared;
    pthread_mutex_t *shared_mu;
    long n;
} job;

static _Atomic int stop;

static uint64_t thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *record(void *arg)
{
    job *j = arg;
    uint64_t base = mono(), cpu0 = thread_cpu();
    for (long i = 0; i < j->n; i++) {
        uint64_t t = base + (uint64_t)i * 1000; /* 1 µs apart: the window slides as it would */
        uint64_t lat = (uint64_t)(80 + (i & 127)) * MS;
        if (j->shards) {
            sy_arm_shards_add(j->shards, 1, t, (i & 255) == 0, lat);
        } else {
            pthread_mutex_lock(j->shared_mu);
            sy_window_add(j->shared, t, (i & 255) == 0, lat);
            pthread_mutex_unlock(j->shared_mu);
        }
    }
    uint64_t *cpu = malloc(sizeof *cpu);
    if (cpu) *cpu = thread_cpu() - cpu0;
    return cpu;
}

static void *merge(void *arg)
{
    job *j = arg;
    struct timespec pause = {0, 200000};
    while (!atomic_load(&stop)) {
        sy_window_sum w;
        sy_window_sum_clear(&w);
        if (j->shards) {
            sy_arm_shards_collect(j->shards, 1, mono(), 0, &w);
        } else {
            pthread_mutex_lock(j->shared_mu);
            sy_window_collect(j->shared, mono(), 0, &w);
            pthread_mutex_unlock(j->shared_mu);
        }
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static double bench(int threads, int sharded, long n)
{
    static sy_window shared;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    sy_window_init(&shared, 5000 * MS);
    job j = {sharded ? sy_arm_shards_new(5000 * MS) : NULL, &shared, &mu, n};
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
    sy_arm_shards_free(j.shards);
    /* CPU time per attempt of a recording thread: what one worker pays
     * (the machine is shared, so wall time would measure the neighbours). */
    return (double)cpu / (double)threads / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    for (int threads = 1; threads <= 2; threads++)
        printf("%d thread%s: shards %.1f ns/attempt, one shared mutex %.1f ns/attempt\n", threads,
               threads == 1 ? " " : "s", bench(threads, 1, n), bench(threads, 0, n));
    return 0;
}
