/*
 * bench_metrics.c - micro benchmark (built, not run by the test suite):
 * ns per sy_metrics_observe_request / _observe_attempt call, one thread and
 * all threads at once, plus ns per sy_access_log_write to /dev/null.
 *   bench_metrics [iterations-per-thread] [threads]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "metrics.h"

static long iters = 2000000;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: less noisy than wall time on a busy machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct result {
    double wall_ns, cpu_ns;
} result;

#define TIMED(res, n, body)                                   \
    do {                                                      \
        double w0_ = now_s(), c0_ = cpu_s();                  \
        body;                                                 \
        (res)->wall_ns = (now_s() - w0_) * 1e9 / (double)(n); \
        (res)->cpu_ns = (cpu_s() - c0_) * 1e9 / (double)(n);  \
    } while (0)

/* A realistic mix: two arms, three endpoints, two models, a few statuses. */
static sy_request_event event_for(long i)
{
    static const char *const endpoints[] = {"cn-north", "cn-east", "global"};
    static const char *const models[] = {"gpt-4.1", "gpt-4o-mini"};
    static const int codes[] = {200, 200, 200, 200, 200, 200, 200, 429, 502, 200};
    sy_request_event ev = {
        .request_id = "0123456789abcdef", .method = "POST", .path = "/v1/chat/completions",
        .arm = i % 10 ? "stable" : "canary", .provider = i % 10 ? "openai-official" : "holysheep",
        .endpoint = endpoints[i % 3], .model_asked = models[i % 2],
        .model_served = models[i % 2], .status = codes[i % 10], .attempts = 1,
        .start_ns = 1000, .ttfb_ns = 1000 + 250000000,
        .end_ns = 1000 + (uint64_t)(i % 997) * 1000000,
        .upstream_ns = (uint64_t)(i % 997) * 999000, .input_tokens = 120, .output_tokens = 30,
    };
    return ev;
}

static void *run_requests(void *arg)
{
    result *out = arg;
    sy_request_event evs[30];
    for (int k = 0; k < 30; k++)
        evs[k] = event_for(k);
    for (int k = 0; k < 30; k++) /* warm-up: intern the label sets */
        sy_metrics_observe_request(&evs[k]);
    TIMED(out, iters, for (long i = 0; i < iters; i++) sy_metrics_observe_request(&evs[i % 30]));
    return NULL;
}

static void *run_attempts(void *arg)
{
    result *out = arg;
    sy_attempt_event ok = {.provider = "holysheep", .endpoint = "cn-north", .model = "gpt-4.1",
                           .status = 200, .start_ns = 10, .ttfb_ns = 200000010,
                           .end_ns = 900000000};
    sy_attempt_event bad = ok;
    bad.status = 503;
    bad.reason = "503";
    sy_metrics_observe_attempt(&ok);
    sy_metrics_observe_attempt(&bad);
    TIMED(out, iters,
          for (long i = 0; i < iters; i++) sy_metrics_observe_attempt(i % 10 ? &ok : &bad));
    return NULL;
}

static sy_access_log *bench_log;

static void *run_log(void *arg)
{
    result *out = arg;
    sy_request_event ev = event_for(3);
    long n = iters / 4;
    TIMED(out, n, for (long i = 0; i < n; i++) sy_access_log_write(bench_log, &ev));
    return NULL;
}

static void parallel(const char *what, void *(*fn)(void *), int threads)
{
    pthread_t th[64];
    result r[64];
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, fn, &r[t]);
    double wall = 0, cpu = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        wall += r[t].wall_ns;
        cpu += r[t].cpu_ns;
    }
    printf("%-34s %2d thread%s  %7.1f ns/call wall, %7.1f ns/call CPU (mean per thread)\n", what,
           threads, threads == 1 ? " " : "s", wall / threads, cpu / threads);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (iters <= 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: bench_metrics [iterations>0] [threads 1..64]\n");
        return 2;
    }
    parallel("sy_metrics_observe_request", run_requests, 1);
    parallel("sy_metrics_observe_request", run_requests, threads);
    parallel("sy_metrics_observe_attempt", run_attempts, 1);
    parallel("sy_metrics_observe_attempt", run_attempts, threads);

    char err[256];
    bench_log = sy_access_log_open("/dev/null", err, sizeof err);
    if (!bench_log) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    parallel("sy_access_log_write (/dev/null)", run_log, 1);
    parallel("sy_access_log_write (/dev/null)", run_log, threads);
    sy_access_log_close(bench_log);

    size_t len;
    double t0 = now_s();
    char *text = sy_metrics_render(&len);
    printf("sy_metrics_render: %zu bytes in %.1f us\n", len, (now_s() - t0) * 1e6);
    free(text);
    return 0;
}
