/*
 * access_log.c - JSON access log: per-thread ring buffers, one write() per flush.
 *
 * Each (thread, log) pair has an al_buf found through a pthread key. The
 * owner formats a line into its scratch area, copies it into the ring and
 * publishes the new head (release). Flushers - the owner at 32 KiB, the
 * server's timer, close, reopen, thread exit - hold the log mutex, write
 * [tail, head) with one writev() and publish the new tail (release). Only the
 * owner moves head and only mutex holders move tail, so the ring needs no
 * other lock. The mutex also keeps two threads' writes from interleaving on a
 * pipe, where writes above PIPE_BUF are not atomic.
 */
#include "access_log.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RING_SIZE (128u * 1024u)
#define FLUSH_AT (32u * 1024u)
#define LINE_MAX_BYTES (48u * 1024u)

/* Input bytes kept per field; escaping can grow each byte to 6 ("\u00XX"),
 * and the sum stays below LINE_MAX_BYTES. */
#define CAP_SHORT 256u
#define CAP_PATH 1024u
#define CAP_ERROR 2048u

typedef struct al_buf {
    struct al_buf *next; /* in log->bufs, under log->mu */
    sy_access_log *log;
    _Atomic uint64_t head; /* bytes ever committed; owner writes */
    _Atomic uint64_t tail; /* bytes ever written out; mutex holders write */
    int64_t ts_sec;        /* owner only: cached "YYYY-MM-DDTHH:MM:SS" */
    char ts_prefix[32];
    char line[LINE_MAX_BYTES];
    char ring[RING_SIZE];
} al_buf;

struct sy_access_log {
    pthread_mutex_t mu;
    int fd;      /* under mu once serving (retarget swaps it) */
    bool own_fd;
    atomic_bool off; /* writers read it without the lock; retarget sets it */
    char *path; /* file targets only, for reopen; main thread (reopen, retarget) */
    pthread_key_t key;
    al_buf *bufs;
    atomic_uint_fast64_t dropped; /* lines lost: ring full after a failed flush, write error */
};

/* ---- output ------------------------------------------------------------ */

/* Write every byte or give up; EINTR retried, EAGAIN waits a little (a
 * non-blocking stdout). Under log->mu. */
static bool write_all(int fd, struct iovec *iov, int cnt)
{
    int idle = 0;
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && idle++ < 10) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                poll(&pfd, 1, 100);
                continue;
            }
            return false;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return true;
}

/* Under log->mu. */
static void drain_locked(sy_access_log *log, al_buf *b)
{
    uint64_t t = atomic_load_explicit(&b->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&b->head, memory_order_acquire);
    if (h == t)
        return;
    if (atomic_load_explicit(&log->off, memory_order_relaxed)) {
        /* lines a writer formatted just as the log was turned off */
        atomic_store_explicit(&b->tail, h, memory_order_release);
        return;
    }
    size_t off = (size_t)(t % RING_SIZE), len = (size_t)(h - t);
    struct iovec iov[2];
    int cnt = 1;
    iov[0].iov_base = b->ring + off;
    if (off + len <= RING_SIZE) {
        iov[0].iov_len = len;
    } else {
        iov[0].iov_len = RING_SIZE - off;
        iov[1].iov_base = b->ring;
        iov[1].iov_len = len - iov[0].iov_len;
        cnt = 2;
    }
    if (!write_all(log->fd, iov, cnt))
        atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
    /* written or lost: either way the space is free again */
    atomic_store_explicit(&b->tail, h, memory_order_release);
}

static void flush_one(sy_access_log *log, al_buf *b)
{
    pthread_mutex_lock(&log->mu);
    drain_locked(log, b);
    pthread_mutex_unlock(&log->mu);
}

/* Thread exit: write out what this thread left, then forget its buffer. */
static void buf_exit(void *p)
{
    al_buf *b = p;
    sy_access_log *log = b->log;
    pthread_mutex_lock(&log->mu);
    drain_locked(log, b);
    for (al_buf **pp = &log->bufs; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&log->mu);
    free(b);
}

static al_buf *buf_new(sy_access_log *log)
{
    al_buf *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->log = log;
    atomic_init(&b->head, 0);
    atomic_init(&b->tail, 0);
    b->ts_sec = INT64_MIN;
    b->ts_prefix[0] = '\0';
    if (pthread_setspecific(log->key, b) != 0) {
        free(b);
        return NULL;
    }
    pthread_mutex_lock(&log->mu);
    b->next = log->bufs;
    log->bufs = b;
    pthread_mutex_unlock(&log->mu);
    return b;
}

/* ---- formatting -------------------------------------------------------- */

typedef struct lbuf {
    char *p, *end;
    bool over;
} lbuf;

static inline void lb_put(lbuf *l, const char *s, size_t n)
{
    if ((size_t)(l->end - l->p) < n) {
        l->over = true;
        return;
    }
    memcpy(l->p, s, n);
    l->p += n;
}

#define LB_LIT(l, s) lb_put((l), (s), sizeof(s) - 1)

static void lb_u64(lbuf *l, uint64_t v)
{
    char buf[24], *e = buf + sizeof buf, *p = e;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    lb_put(l, p, (size_t)(e - p));
}

static void lb_i64(lbuf *l, int64_t v)
{
    if (v < 0) {
        LB_LIT(l, "-");
        lb_u64(l, (uint64_t)0 - (uint64_t)v);
    } else {
        lb_u64(l, (uint64_t)v);
    }
}

/* ns as milliseconds with three decimals (µs resolution). */
static void lb_ms(lbuf *l, uint64_t ns)
{
    uint64_t us = ns / 1000;
    lb_u64(l, us / 1000);
    char frac[4] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10),
                    (char)('0' + us % 10)};
    lb_put(l, frac, 4);
}

/* US dollars to the nano-dollar, without trailing zeros: 0.00000225, 1.5, 0. */
static void lb_usd(lbuf *l, double usd)
{
    uint64_t n = (uint64_t)llround(usd * 1e9);
    lb_u64(l, n / 1000000000u);
    uint64_t frac = n % 1000000000u;
    if (!frac)
        return;
    char d[10] = {'.'};
    int len = 9;
    for (int i = 9; i >= 1; i--, frac /= 10)
        d[i] = (char)('0' + frac % 10);
    while (d[len] == '0')
        len--;
    lb_put(l, d, (size_t)len + 1);
}

static void lb_bool(lbuf *l, int v)
{
    if (v)
        LB_LIT(l, "true");
    else
        LB_LIT(l, "false");
}


/* Bytes of s to keep: at most cap, not cutting a UTF-8 sequence in two. */
static size_t keep_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap) {
        /* s[n] exists (no NUL among the first cap bytes); back off a partial char */
        for (int i = 0; i < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; i++)
            n--;
    }
    return n;
}

/* A JSON string: quotes, backslash and control characters escaped, invalid
 * UTF-8 replaced by U+FFFD. Copies runs of plain bytes at once. */
static void lb_json_str(lbuf *l, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    LB_LIT(l, "\"");
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t adv = 1;
        if (c >= 0x80 && (adv = sy_utf8_len(s + i, n - i)) != 0) {
            i += adv;
            continue;
        }
        lb_put(l, str + run, i - run);
        switch (c) {
        case '"': LB_LIT(l, "\\\""); break;
        case '\\': LB_LIT(l, "\\\\"); break;
        case '\n': LB_LIT(l, "\\n"); break;
        case '\r': LB_LIT(l, "\\r"); break;
        case '\t': LB_LIT(l, "\\t"); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                lb_put(l, u, 6);
            } else {
                LB_LIT(l, "\\ufffd");
            }
        }
        i++;
        run = i;
    }
    lb_put(l, str + run, n - run);
    LB_LIT(l, "\"");
}

static void lb_field_str(lbuf *l, const char *s, size_t cap)
{
    if (!s)
        s = "";
    lb_json_str(l, s, keep_len(s, cap));
}

static void lb_ts(lbuf *l, al_buf *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((int64_t)ts.tv_sec != b->ts_sec) {
        struct tm tm;
        time_t sec = ts.tv_sec;
        gmtime_r(&sec, &tm);
        strftime(b->ts_prefix, sizeof b->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        b->ts_sec = (int64_t)ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    char frac[6] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
                    (char)('0' + ms % 10), 'Z', '"'};
    LB_LIT(l, "\"");
    lb_put(l, b->ts_prefix, strlen(b->ts_prefix));
    lb_put(l, frac, sizeof frac);
}

static inline uint64_t since(uint64_t start, uint64_t t) { return t > start ? t - start : 0; }

/* Formats ev into b->line; returns its length, 0 if it did not fit. */
static size_t format_line(al_buf *b, const sy_request_event *ev)
{
    lbuf l = {b->line, b->line + sizeof b->line, false};
    const char *path = ev->path ? ev->path : "";
    size_t plen = keep_len(path, CAP_PATH);
    const char *q = memchr(path, '?', plen);
    if (q)
        plen = (size_t)(q - path); /* never log the query string */

    LB_LIT(&l, "{\"ts\":");
    lb_ts(&l, b);
    LB_LIT(&l, ",\"request_id\":");
    lb_field_str(&l, ev->request_id, CAP_SHORT);
    LB_LIT(&l, ",\"method\":");
    lb_field_str(&l, ev->method, CAP_SHORT);
    LB_LIT(&l, ",\"path\":");
    lb_json_str(&l, path, plen);
    LB_LIT(&l, ",\"arm\":");
    lb_field_str(&l, ev->arm, CAP_SHORT);
    LB_LIT(&l, ",\"provider\":");
    lb_field_str(&l, ev->provider, CAP_SHORT);
    LB_LIT(&l, ",\"endpoint\":");
    lb_field_str(&l, ev->endpoint, CAP_SHORT);
    LB_LIT(&l, ",\"model\":");
    lb_field_str(&l, ev->model_asked, CAP_SHORT);
    LB_LIT(&l, ",\"model_served\":");
    lb_field_str(&l, ev->model_served, CAP_SHORT);
    LB_LIT(&l, ",\"status\":");
    lb_i64(&l, ev->status);
    LB_LIT(&l, ",\"attempts\":");
    lb_i64(&l, ev->attempts);
    LB_LIT(&l, ",\"stream\":");
    lb_bool(&l, ev->stream);
    LB_LIT(&l, ",\"latency_ms\":");
    lb_ms(&l, since(ev->start_ns, ev->end_ns));
    LB_LIT(&l, ",\"ttfb_ms\":");
    if (ev->ttfb_ns)
        lb_ms(&l, since(ev->start_ns, ev->ttfb_ns));
    else
        LB_LIT(&l, "null");
    LB_LIT(&l, ",\"upstream_ms\":");
    lb_ms(&l, ev->upstream_ns);
    LB_LIT(&l, ",\"input_tokens\":");
    if (ev->input_tokens >= 0)
        lb_i64(&l, ev->input_tokens);
    else
        LB_LIT(&l, "null");
    LB_LIT(&l, ",\"output_tokens\":");
    if (ev->output_tokens >= 0)
        lb_i64(&l, ev->output_tokens);
    else
        LB_LIT(&l, "null");
    if (ev->reasoning_tokens > 0) { /* reasoning models only: the field is there when > 0 */
        LB_LIT(&l, ",\"reasoning_tokens\":");
        lb_i64(&l, ev->reasoning_tokens);
    }
    LB_LIT(&l, ",\"cost_usd\":");
    if (ev->cost_usd >= 0 && ev->cost_usd < 1e9)
        lb_usd(&l, ev->cost_usd);
    else
        LB_LIT(&l, "null");
    LB_LIT(&l, ",\"client_aborted\":");
    lb_bool(&l, ev->client_aborted);
    LB_LIT(&l, ",\"stream_cut\":");
    lb_bool(&l, ev->stream_cut);
    LB_LIT(&l, ",\"error\":");
    if (ev->error)
        lb_field_str(&l, ev->error, CAP_ERROR);
    else
        LB_LIT(&l, "null");
    LB_LIT(&l, "}\n");
    return l.over ? 0 : (size_t)(l.p - b->line);
}

/* ---- API --------------------------------------------------------------- */

void sy_access_log_write(sy_access_log *log, const sy_request_event *ev)
{
    if (!log || !ev || atomic_load_explicit(&log->off, memory_order_relaxed))
        return;
    al_buf *b = pthread_getspecific(log->key);
    if (!b && !(b = buf_new(log))) {
        atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
        return;
    }
    size_t n = format_line(b, ev);
    if (n == 0) {
        atomic_fetch_add_explicit(&log->dropped, 1, memory_order_relaxed);
        return;
    }
    uint64_t h = atomic_load_explicit(&b->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&b->tail, memory_order_acquire);
    if (RING_SIZE - (h - t) < n) {
        flush_one(log, b);
        t = atomic_load_explicit(&b->tail, memory_order_acquire);
    }
    size_t off = (size_t)(h % RING_SIZE);
    size_t first = n <= RING_SIZE - off ? n : RING_SIZE - off;
    memcpy(b->ring + off, b->line, first);
    memcpy(b->ring, b->line + first, n - first);
    atomic_store_explicit(&b->head, h + n, memory_order_release);
    if (h + n - t >= FLUSH_AT)
        flush_one(log, b);
}

void sy_access_log_flush(sy_access_log *log)
{
    if (!log)
        return;
    pthread_mutex_lock(&log->mu);
    for (al_buf *b = log->bufs; b; b = b->next)
        drain_locked(log, b);
    pthread_mutex_unlock(&log->mu);
}

static int open_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0 && err && errlen)
        snprintf(err, errlen, "access log: cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* A target resolved: where lines go, and what to close and free later. */
typedef struct al_target {
    int fd;
    bool own_fd;
    bool off;
    char *path;
} al_target;

static int target_open(const char *target, al_target *t, char *err, size_t errlen)
{
    *t = (al_target){.fd = -1};
    if (!target || !target[0]) {
        if (err && errlen)
            snprintf(err, errlen, "access log: empty target (use \"stdout\", \"off\" or a path)");
        return -1;
    }
    if (strcmp(target, "off") == 0) {
        t->off = true;
    } else if (strcmp(target, "stdout") == 0) {
        t->fd = STDOUT_FILENO;
    } else if (strcmp(target, "stderr") == 0) {
        t->fd = STDERR_FILENO;
    } else {
        if (!(t->path = strdup(target))) {
            if (err && errlen)
                snprintf(err, errlen, "access log: out of memory");
            return -1;
        }
        if ((t->fd = open_path(target, err, errlen)) < 0) {
            free(t->path);
            t->path = NULL;
            return -1;
        }
        t->own_fd = true;
    }
    return 0;
}

static void target_close(al_target *t)
{
    if (t->own_fd)
        close(t->fd);
    free(t->path);
}

sy_access_log *sy_access_log_open(const char *target, char *err, size_t errlen)
{
    al_target t;
    if (target_open(target, &t, err, errlen) != 0)
        return NULL;
    sy_access_log *log = calloc(1, sizeof *log);
    if (!log) {
        if (err && errlen)
            snprintf(err, errlen, "access log: out of memory");
        target_close(&t);
        return NULL;
    }
    /* An "off" log is set up like any other, so a reload can turn it on. */
    if (pthread_key_create(&log->key, buf_exit) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "access log: out of thread-specific keys");
        target_close(&t);
        free(log);
        return NULL;
    }
    pthread_mutex_init(&log->mu, NULL);
    log->fd = t.fd;
    log->own_fd = t.own_fd;
    log->path = t.path;
    atomic_init(&log->off, t.off);
    return log;
}

int sy_access_log_retarget(sy_access_log *log, const char *target, char *err, size_t errlen)
{
    if (!log)
        return 0;
    al_target t;
    if (target_open(target, &t, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&log->mu);
    for (al_buf *b = log->bufs; b; b = b->next)
        drain_locked(log, b); /* what was logged so far goes to the old target */
    al_target old = {.fd = log->fd, .own_fd = log->own_fd, .path = log->path};
    log->fd = t.fd;
    log->own_fd = t.own_fd;
    log->path = t.path;
    atomic_store_explicit(&log->off, t.off, memory_order_relaxed);
    pthread_mutex_unlock(&log->mu);
    target_close(&old);
    return 0;
}

int sy_access_log_reopen(sy_access_log *log, char *err, size_t errlen)
{
    if (!log || atomic_load_explicit(&log->off, memory_order_relaxed))
        return 0;
    if (!log->path) {
        sy_access_log_flush(log);
        return 0;
    }
    int fd = open_path(log->path, err, errlen);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&log->mu);
    for (al_buf *b = log->bufs; b; b = b->next)
        drain_locked(log, b); /* what was logged before the rotation goes to the old file */
    int old = log->fd;
    log->fd = fd;
    pthread_mutex_unlock(&log->mu);
    close(old);
    return 0;
}

unsigned long long sy_access_log_dropped(const sy_access_log *log)
{
    return log ? (unsigned long long)atomic_load_explicit(&log->dropped, memory_order_relaxed) : 0;
}

void sy_access_log_close(sy_access_log *log)
{
    if (!log)
        return;
    pthread_mutex_lock(&log->mu);
    al_buf *b = log->bufs;
    while (b) {
        al_buf *next = b->next;
        drain_locked(log, b);
        free(b);
        b = next;
    }
    log->bufs = NULL;
    pthread_mutex_unlock(&log->mu);
    /* the calling thread's key value would otherwise point at freed memory
     * until pthread_key_delete; clear it first */
    pthread_setspecific(log->key, NULL);
    pthread_key_delete(log->key);
    pthread_mutex_destroy(&log->mu);
    if (log->own_fd)
        close(log->fd);
    free(log->path);
    free(log);
}
