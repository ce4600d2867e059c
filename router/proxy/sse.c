/* sse.c - server-sent-event splitting (see sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

void sy_sse_init(sy_sse_splitter *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_event = max_event;
}

void sy_sse_free(sy_sse_splitter *s)
{
    free(s->buf);
    free(s->data);
    memset(s, 0, sizeof *s);
}

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    char *nb = realloc(*buf, n);
    if (!nb) return -1;
    *buf = nb;
    *cap = n;
    return 0;
}

/* Length of the event at p (through its blank line), or 0 when incomplete.
 * Line ends may be "\n", "\r\n" or "\r" per the SSE spec; upstreams use "\n"
 * or "\r\n" in practice, which is what this handles. */
static size_t event_end(const char *p, size_t n)
{
    const char *q = p, *end = p + n;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl) return 0;
        /* A blank line: "\n" right after the previous line end, or "\r\n". */
        const char *line = q;
        size_t line_len = (size_t)(nl - line);
        /* A blank line ends the event (at the very start it is a stray
         * separator, handed out as an empty event). */
        if (line_len == 0 || (line_len == 1 && line[0] == '\r')) return (size_t)(nl + 1 - p);
        q = nl + 1;
    }
    return 0;
}

/* Join the data: lines of one event into s->data. */
static int extract_data(sy_sse_splitter *s, const char *ev, size_t n, size_t *out_len)
{
    size_t dl = 0;
    int any = 0;
    const char *q = ev, *end = ev + n;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t ll = nl ? (size_t)(nl - q) : (size_t)(end - q);
        if (ll && q[ll - 1] == '\r') ll--;
        if (ll >= 5 && memcmp(q, "data:", 5) == 0) {
            const char *v = q + 5;
            size_t vl = ll - 5;
            if (vl && *v == ' ') v++, vl--;
            if (reserve(&s->data, &s->data_cap, dl + vl + 2) != 0) return -1;
            if (any) s->data[dl++] = '\n';
            memcpy(s->data + dl, v, vl);
            dl += vl;
            any = 1;
        }
        if (!nl) break;
        q = nl + 1;
    }
    if (any) s->data[dl] = '\0';
    *out_len = dl;
    return any;
}

static int emit(sy_sse_splitter *s, const char *ev, size_t n, sy_sse_event_fn fn, void *ctx)
{
    size_t dl = 0;
    int has = extract_data(s, ev, n, &dl);
    if (has < 0) return -1;
    return fn(ctx, ev, n, has ? s->data : NULL, dl);
}

int sy_sse_feed(sy_sse_splitter *s, const char *p, size_t n, sy_sse_event_fn fn, void *ctx)
{
    int rc;
    if (s->len) {
        /* Complete the pending event first: append and scan from a little
         * before the join so a blank line split across chunks is found. */
        /* Each feed is at most one upstream read (curl hands out <= 16 KiB at
         * a time), so appending first and checking the bound after is fine. */
        if (reserve(&s->buf, &s->cap, s->len + n) != 0) return -1;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        size_t off = 0;
        for (;;) {
            size_t e = event_end(s->buf + off, s->len - off);
            if (!e) break;
            if ((rc = emit(s, s->buf + off, e, fn, ctx)) != 0) {
                memmove(s->buf, s->buf + off + e, s->len - off - e);
                s->len -= off + e;
                return rc;
            }
            off += e;
        }
        memmove(s->buf, s->buf + off, s->len - off);
        s->len -= off;
        return s->len > s->max_event ? -1 : 0;
    }
    /* Fast path: nothing pending, events straight from the caller's buffer. */
    size_t off = 0;
    for (;;) {
        size_t e = event_end(p + off, n - off);
        if (!e) break;
        if ((rc = emit(s, p + off, e, fn, ctx)) != 0) {
            size_t rest = n - off - e;
            if (rest) {
                if (reserve(&s->buf, &s->cap, rest) != 0) return -1;
                memcpy(s->buf, p + off + e, rest);
                s->len = rest;
            }
            return rc;
        }
        off += e;
    }
    size_t rest = n - off;
    if (rest > s->max_event) return -1;
    if (rest) {
        if (reserve(&s->buf, &s->cap, rest) != 0) return -1;
        memcpy(s->buf, p + off, rest);
        s->len = rest;
    }
    return 0;
}
