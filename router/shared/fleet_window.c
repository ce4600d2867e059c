/* fleet_window.c - windows as instances exchange them (see fleet_window.h). */
#include "fleet_window.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    if (b->cap - b->n < 64) { /* every piece written here is shorter */
        size_t cap = b->cap ? b->cap * 2 : 1024;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (w > 0) b->n += (size_t)w;
}

char *sy_fleet_window_encode(const sy_window w[2])
{
    buf b = {0};
    put(&b, "sy1 %llu\n", (unsigned long long)w[0].width_ns);
    for (int arm = 0; arm < 2; arm++) {
        for (int i = 0; i < SY_WINDOW_RING; i++) {
            const sy_window_slot *s = &w[arm].slot[i];
            if (s->idx < 0 || s->attempts == 0) continue;
            put(&b, "%d %lld %u %u ", arm, (long long)s->idx, (unsigned)s->attempts,
                (unsigned)s->failures);
            int first = 1;
            for (unsigned k = s->latency.lo; s->latency.total && k <= s->latency.hi; k++) {
                if (!s->latency.n[k]) continue;
                put(&b, "%s%u:%u", first ? "" : ",", k, (unsigned)s->latency.n[k]);
                first = 0;
            }
            put(&b, "%s\n", first ? "-" : "");
        }
    }
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* An unsigned decimal at *p (up to end), at most max; advances *p. */
static int num(const char **p, const char *end, uint64_t max, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    if (q >= end || *q < '0' || *q > '9') return -1;
    while (q < end && *q >= '0' && *q <= '9') {
        if (v > (max - (uint64_t)(*q - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    *p = q;
    *out = v;
    return 0;
}

static int lit(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c) return -1;
    (*p)++;
    return 0;
}

static int decode(const char *p, const char *end, sy_window w[2])
{
    uint64_t width;
    if (end - p < 4 || memcmp(p, "sy1 ", 4) != 0) return -1;
    p += 4;
    if (num(&p, end, UINT64_MAX / 2, &width) || width == 0 || lit(&p, end, '\n')) return -1;
    for (int a = 0; a < 2; a++) {
        sy_window_init(&w[a], width * SY_WINDOW_SLOTS);
        w[a].width_ns = width;
    }
    while (p < end) {
        uint64_t arm, idx, attempts, failures;
        if (num(&p, end, 1, &arm) || lit(&p, end, ' ') || num(&p, end, INT64_MAX, &idx) ||
            lit(&p, end, ' ') || num(&p, end, UINT32_MAX, &attempts) || lit(&p, end, ' ') ||
            num(&p, end, UINT32_MAX, &failures) || lit(&p, end, ' ') || failures > attempts)
            return -1;
        sy_window_slot *s = &w[arm].slot[idx % SY_WINDOW_RING];
        if (s->idx >= 0) return -1; /* two lines for one place of the ring */
        s->idx = (int64_t)idx;
        s->attempts = (uint32_t)attempts;
        s->failures = (uint32_t)failures;
        if (p < end && *p == '-') {
            p++;
        } else {
            for (;;) {
                uint64_t k, n;
                if (num(&p, end, SY_HIST_BUCKETS - 1, &k) || lit(&p, end, ':') ||
                    num(&p, end, UINT32_MAX, &n) || s->latency.n[k] || n == 0)
                    return -1;
                s->latency.n[k] = (uint32_t)n;
                s->latency.total += n;
                if (k < s->latency.lo) s->latency.lo = (uint16_t)k;
                if (k > s->latency.hi) s->latency.hi = (uint16_t)k;
                if (p < end && *p == ',') {
                    p++;
                    continue;
                }
                break;
            }
        }
        /* Latency samples are the successes. */
        if (s->latency.total > attempts - failures) return -1;
        if (lit(&p, end, '\n')) return -1;
    }
    return 0;
}

int sy_fleet_window_decode(const char *text, size_t len, sy_window w[2])
{
    if (decode(text, text + len, w) == 0) return 0;
    for (int a = 0; a < 2; a++) sy_window_init(&w[a], SY_WINDOW_SLOTS);
    return -1;
}
