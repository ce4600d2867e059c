/* h1_response.c - an incremental HTTP/1.1 response reader (see h1_response.h). */
#include "h1_response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

#define CHUNK_LINE_MAX 1024u   /* a chunk-size line (with extensions) longer than this: refused */
#define TRAILER_LINE_MAX 8192u /* a trailer line longer than this: refused */

void sy_h1_init(sy_h1_resp *r) { memset(r, 0, sizeof *r); }

void sy_h1_reset(sy_h1_resp *r)
{
    sy_hdr_store h = r->hdrs;
    memset(r, 0, sizeof *r);
    r->hdrs = h;
    sy_hdr_store_clear(&r->hdrs);
}

void sy_h1_free(sy_h1_resp *r)
{
    sy_hdr_store_free(&r->hdrs);
    memset(r, 0, sizeof *r);
}

static int fail(sy_h1_resp *r, const char *why)
{
    r->error = why;
    return -1;
}

const char *sy_h1_header(const sy_h1_resp *r, const char *name)
{
    return sy_hdr_store_get(&r->hdrs, name);
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated list v (vl bytes) hold token tok (case-insensitive)? */
static int has_token(const char *v, size_t vl, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < vl && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0) return 1;
    }
    return 0;
}

/* Does the last coding of Transfer-Encoding's list say chunked? */
static int last_is_chunked(const char *v, size_t vl)
{
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
    return vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0 &&
           (vl == 7 || v[vl - 8] == ',' || v[vl - 8] == ' ' || v[vl - 8] == '\t');
}

/* The end of the head: offset just past its empty line, or 0 when not yet in. */
static size_t head_end(const char *buf, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++) {
        if (buf[i] != '\n') continue;
        if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

ssize_t sy_h1_head(sy_h1_resp *r, const char *buf, size_t len)
{
    size_t from = r->scanned > 2 ? r->scanned - 2 : 0;
    size_t end = head_end(buf, len, from);
    if (!end) {
        if (len > SY_H1_HEAD_MAX) return fail(r, SY_HDR_TOO_LARGE);
        r->scanned = len;
        return 0;
    }
    if (end > SY_H1_HEAD_MAX) return fail(r, SY_HDR_TOO_LARGE);
    r->scanned = 0;

    /* Status line: HTTP/1.x SSS[ reason] */
    const char *p = buf, *stop = buf + end;
    const char *eol = memchr(p, '\n', (size_t)(stop - p));
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
        p[11] > '9' || (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
        return fail(r, "upstream sent a malformed status line");
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    int keep_alive = p[7] == '1';
    int chunked = 0, coded = 0; /* a Transfer-Encoding came; its last coding was chunked */
    int64_t length = -1;
    sy_hdr_store_clear(&r->hdrs);

    for (p = eol + 1; p < stop; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(stop - p));
        const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (le == p) break; /* the empty line */
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p) return fail(r, "upstream sent a malformed header line");
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c)) return fail(r, "upstream sent a malformed header line");
        size_t nl = (size_t)(colon - p);
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t vl = (size_t)(ve - v);
        if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
            if (vl == 0 || vl > 18) return fail(r, "upstream sent a bad Content-Length");
            int64_t n = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return fail(r, "upstream sent a bad Content-Length");
                n = n * 10 + (v[i] - '0');
            }
            if (length >= 0 && length != n) return fail(r, "upstream sent two Content-Lengths");
            length = n;
        } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            /* Several lines make one list, whose last coding is the last line's. */
            coded = 1;
            chunked = last_is_chunked(v, vl);
        } else if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (has_token(v, vl, "close")) keep_alive = 0;
            else if (has_token(v, vl, "keep-alive")) keep_alive = 1;
        }
        sy_hdr_store_add(&r->hdrs, p, nl, v, vl, 512);
    }

    if (status < 200) {
        if (status == 101) return fail(r, "upstream switched protocols");
        sy_hdr_store_clear(&r->hdrs); /* an interim answer: the real one follows */
        return (ssize_t)end;
    }
    r->status = status;
    r->head_done = 1;
    r->keep_alive = keep_alive;
    if (status == 204 || status == 304) {
        r->framing = SY_H1_NONE;
    } else if (chunked) {
        r->framing = SY_H1_CHUNKED;
        r->chunk_state = CH_SIZE;
        if (length >= 0) r->keep_alive = 0; /* both: chunked wins, and trust the connection no more */
    } else if (coded) {
        r->framing = SY_H1_CLOSE; /* a coding we do not undo ends with the connection */
        r->keep_alive = 0;
    } else if (length >= 0) {
        r->framing = length ? SY_H1_LENGTH : SY_H1_NONE;
        r->left = (uint64_t)length;
    } else {
        r->framing = SY_H1_CLOSE;
        r->keep_alive = 0;
    }
    if (r->framing == SY_H1_NONE) r->complete = 1;
    return (ssize_t)end;
}

/* A chunk-size line at p: 1 and *eaten when read, 0 when more bytes are
 * needed, -1 when malformed. */
static int chunk_size_line(sy_h1_resp *r, const char *p, size_t n, size_t *eaten)
{
    const char *nl = memchr(p, '\n', n);
    if (!nl) return n > CHUNK_LINE_MAX ? fail(r, "upstream sent a bad chunk size") : 0;
    if ((size_t)(nl - p) > CHUNK_LINE_MAX) return fail(r, "upstream sent a bad chunk size");
    uint64_t size = 0;
    const char *c = p;
    int digits = 0;
    for (; c < nl; c++, digits++) {
        int d = (*c >= '0' && *c <= '9')   ? *c - '0'
                : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
                : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10
                                           : -1;
        if (d < 0) break;
        if (digits >= 15) return fail(r, "upstream sent a bad chunk size");
        size = size * 16 + (uint64_t)d;
    }
    if (!digits) return fail(r, "upstream sent a bad chunk size");
    while (c < nl && (*c == ' ' || *c == '\t')) c++;
    if (c < nl && *c != ';' && !(*c == '\r' && c + 1 == nl))
        return fail(r, "upstream sent a bad chunk size");
    *eaten = (size_t)(nl + 1 - p);
    r->left = size;
    r->chunk_state = size ? CH_DATA : CH_TRAILER;
    return 1;
}

ssize_t sy_h1_body_next(sy_h1_resp *r, const char *p, size_t n, size_t *framing)
{
    *framing = 0;
    if (r->complete || !r->head_done) return 0;
    switch (r->framing) {
    case SY_H1_NONE: return 0;
    case SY_H1_CLOSE: return (ssize_t)n;
    case SY_H1_LENGTH: return (ssize_t)(n < r->left ? n : r->left);
    case SY_H1_CHUNKED: break;
    }
    size_t off = 0;
    while (!r->complete) {
        const char *q = p + off;
        size_t m = n - off;
        if (r->chunk_state == CH_DATA) {
            *framing = off;
            return (ssize_t)(m < r->left ? m : r->left);
        }
        if (r->chunk_state == CH_SIZE) {
            size_t eaten;
            int rc = chunk_size_line(r, q, m, &eaten);
            if (rc <= 0) {
                *framing = off;
                return rc;
            }
            off += eaten;
        } else if (r->chunk_state == CH_DATA_END) {
            if (m == 0 || (q[0] == '\r' && m < 2)) break;
            if (q[0] == '\n') off += 1;
            else if (q[0] == '\r' && q[1] == '\n') off += 2;
            else return fail(r, "upstream sent bad chunk framing");
            r->chunk_state = CH_SIZE;
        } else { /* CH_TRAILER: lines up to an empty one */
            const char *nl = memchr(q, '\n', m);
            if (!nl) {
                if (m > TRAILER_LINE_MAX) return fail(r, "upstream sent a trailer line too long");
                break;
            }
            size_t ll = (size_t)(nl - q);
            off += ll + 1;
            if (ll == 0 || (ll == 1 && q[0] == '\r')) r->complete = 1;
        }
    }
    *framing = off;
    return 0;
}

void sy_h1_body_took(sy_h1_resp *r, size_t d)
{
    if (r->framing == SY_H1_CLOSE || d == 0) return; /* nothing taken: no step */
    r->left -= d;
    if (r->left) return;
    if (r->framing == SY_H1_LENGTH) r->complete = 1;
    else if (r->framing == SY_H1_CHUNKED) r->chunk_state = CH_DATA_END;
}

int sy_h1_eof(sy_h1_resp *r)
{
    if (r->complete) return 1;
    if (r->head_done && r->framing == SY_H1_CLOSE) {
        r->complete = 1;
        return 1;
    }
    return 0;
}
