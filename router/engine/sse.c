/* sse.c - server-sent-event splitting (see sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

void sy_sse_init(sy_sse_splitter *s, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_event = max_event;
    s->at_line_start = 1;
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

/* Where the next line end (LF or CR) is in q[i..n), or n: two memchr calls
 * (the CR search bounded by the LF found) rather than a byte loop, since an
 * SSE event is mostly one long data line. */
static size_t line_end(const char *q, size_t i, size_t n)
{
    const char *lf = memchr(q + i, '\n', n - i);
    size_t lim = lf ? (size_t)(lf - q) : n;
    const char *cr = lim > i ? memchr(q + i, '\r', lim - i) : NULL;
    return cr ? (size_t)(cr - q) : lim;
}

/* Scan q[from..n) of the event that starts at q[0] for the blank line that
 * ends it, carrying the line state in s. Returns the event's length, or 0
 * when it is not complete yet (the state then covers all n bytes). */
static size_t scan_event(sy_sse_splitter *s, const char *q, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++) {
        char c = q[i];
        if (s->skip_lf) {
            s->skip_lf = 0;
            if (c == '\n') continue; /* the LF of a CRLF */
        }
        if (c != '\n' && c != '\r') {
            s->at_line_start = 0;
            i = line_end(q, i, n) - 1; /* the loop's i++ lands on the line end */
            continue;
        }
        s->skip_lf = c == '\r';
        if (s->at_line_start) {
            /* A blank line ends the event (at the very start it is a stray
             * separator, handed out as an empty event). Take the LF of a
             * CRLF along when it is already here. */
            if (s->skip_lf && i + 1 < n && q[i + 1] == '\n') {
                s->skip_lf = 0;
                i++;
            }
            return i + 1;
        }
        s->at_line_start = 1;
    }
    return 0;
}

/* The line at q (before end): its length without the line end, and where the
 * next line starts. */
static const char *next_line(const char *q, const char *end, size_t *len)
{
    const char *p = q + line_end(q, 0, (size_t)(end - q));
    *len = (size_t)(p - q);
    if (p < end && *p == '\r') {
        p++;
        if (p < end && *p == '\n') p++;
    } else if (p < end) {
        p++;
    }
    return p;
}

/* Join the data: lines of one event into s->data. */
static int extract_data(sy_sse_splitter *s, const char *ev, size_t n, size_t *out_len)
{
    size_t dl = 0;
    int any = 0;
    const char *q = ev, *end = ev + n;
    while (q < end) {
        size_t ll;
        const char *next = next_line(q, end, &ll);
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
        q = next;
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
    int rc = 0;
    if (s->len) {
        /* Complete the pending event first. Each feed is at most one
         * upstream read (curl hands out <= 16 KiB at a time), so appending
         * first and checking the bound after is fine. */
        if (reserve(&s->buf, &s->cap, s->len + n) != 0) return -1;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        size_t off = 0;
        for (;;) {
            size_t e = scan_event(s, s->buf + off, s->scanned, s->len - off);
            if (!e) {
                s->scanned = s->len - off;
                break;
            }
            s->scanned = 0;
            rc = emit(s, s->buf + off, e, fn, ctx);
            off += e;
            if (rc) break;
        }
        memmove(s->buf, s->buf + off, s->len - off);
        s->len -= off;
        if (rc) return rc;
        return s->len > s->max_event ? -1 : 0;
    }
    /* Fast path: nothing pending, events straight from the caller's buffer. */
    size_t off = 0;
    for (;;) {
        size_t e = scan_event(s, p + off, 0, n - off);
        if (!e) break;
        rc = emit(s, p + off, e, fn, ctx);
        off += e;
        if (rc) {
            /* Keep the rest, not scanned yet, for the next feed. */
            size_t rest = n - off;
            if (rest) {
                if (reserve(&s->buf, &s->cap, rest) != 0) return -1;
                memcpy(s->buf, p + off, rest);
                s->len = rest;
                s->scanned = 0;
            }
            return rc;
        }
    }
    size_t rest = n - off;
    if (rest > s->max_event) return -1;
    if (rest) {
        if (reserve(&s->buf, &s->cap, rest) != 0) return -1;
        memcpy(s->buf, p + off, rest);
        s->len = rest;
        s->scanned = rest;
    }
    return 0;
}
