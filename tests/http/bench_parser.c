/*
 * bench_parser.c - ns per request for sy_http_parse_request on typical heads
 * and for sy_chunked_decode on a 1 KiB body. Built with the tests, not run by
 * them: BUILD_DIR/tests/http/bench-http-parser [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_parser.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char typical[] =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: OpenAI/Python 1.40.0\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Authorization: Bearer sk-fake-bench-key-not-real-000000\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 1024\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

static const char sdk[] =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Accept: application/json\r\n"
    "Content-Type: application/json\r\n"
    "User-Agent: OpenAI/JS 4.104.0\r\n"
    "X-Stainless-Lang: js\r\n"
    "X-Stainless-Package-Version: 4.104.0\r\n"
    "X-Stainless-OS: Linux\r\n"
    "X-Stainless-Arch: x64\r\n"
    "X-Stainless-Runtime: node\r\n"
    "X-Stainless-Runtime-Version: v20.19.0\r\n"
    "Authorization: Bearer sk-fake-bench-key-not-real-000000\r\n"
    "X-Stainless-Retry-Count: 0\r\n"
    "X-Stainless-Timeout: 600\r\n"
    "Content-Length: 1024\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

/* The machine may be busy: time TRIALS slices and report the fastest one
 * (the least disturbed) and the median. */
#define TRIALS 101

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, size_t len, const char *what, double *t)
{
    qsort(t, TRIALS, sizeof *t, cmp_double);
    printf("%-36s %4zu bytes %-12s best %6.1f ns, median %6.1f ns\n", name, len, what, t[0],
           t[TRIALS / 2]);
}

static void bench_head(const char *name, const char *raw, long iters)
{
    size_t len = strlen(raw);
    sy_http_limits lim = {.max_head = 16384, .max_headers = 64, .max_body = 8 << 20};
    sy_http_req req;
    const char *why;
    volatile size_t sink = 0;
    double t[TRIALS];
    long per = iters / TRIALS + 1;
    for (long i = 0; i < per; i++) sink += (size_t)sy_http_parse_request(raw, len, &lim, &req,
                                                                         &why);
    for (int k = 0; k < TRIALS; k++) {
        double t0 = now_ns();
        for (long i = 0; i < per; i++) {
            int rc = sy_http_parse_request(raw, len, &lim, &req, &why);
            if (rc <= 0) {
                fprintf(stderr, "%s: parse failed: %d\n", name, rc);
                exit(1);
            }
            sink += req.n_headers;
        }
        t[k] = (now_ns() - t0) / (double)per;
    }
    char what[32];
    snprintf(what, sizeof what, "%zu headers", req.n_headers);
    report(name, len, what, t);
}

static void bench_chunked(long iters)
{
    char body[1200], work[1200];
    size_t n = (size_t)sprintf(body, "400\r\n");
    memset(body + n, 'x', 1024);
    n += 1024;
    n += (size_t)sprintf(body + n, "\r\n0\r\n\r\n");
    volatile size_t sink = 0;
    double t[TRIALS];
    long per = iters / TRIALS + 1;
    for (int k = 0; k < TRIALS; k++) {
        double t0 = now_ns();
        for (long i = 0; i < per; i++) {
            memcpy(work, body, n);
            sy_chunked_decoder d;
            sy_chunked_init(&d, 1 << 20);
            size_t consumed, out;
            const char *why;
            if (sy_chunked_decode(&d, work, n, &consumed, &out, &why) != 1) {
                fprintf(stderr, "chunked decode failed\n");
                exit(1);
            }
            sink += out;
        }
        t[k] = (now_ns() - t0) / (double)per;
    }
    report("chunked 1 KiB body (with a memcpy)", n, "one chunk", t);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    if (iters <= 0) iters = 2000000;
    bench_head("typical request (8 headers)", typical, iters);
    bench_head("OpenAI JS SDK request (16 headers)", sdk, iters);
    bench_chunked(iters / 4);
    return 0;
}
