/*
 * http_parser.c - strict HTTP/1.1 request head parser and in-place chunked
 * body decoder (contract in http_parser.h).
 *
 * The head parser is one left-to-right pass over at most max_head bytes, with
 * a byte-class table for tokens, field values and targets. It keeps no state
 * between calls: a call with a longer buffer simply parses again, and since it
 * never looks past max_head bytes, every prefix of a buffer answers either
 * "need more" (0) or exactly what the whole buffer answers. Checks that need
 * the whole head (Host present, Content-Length together with
 * Transfer-Encoding, body too large) run once the blank line is seen.
 *
 * The chunked decoder is a byte state machine for the framing; chunk data is
 * moved with memmove, so the decoded body never needs a second buffer.
 */
#include "http_parser.h"

#include <limits.h>
#include <string.h>

#define SY_HTTP_DEFAULT_MAX_HEAD ((size_t)16 * 1024)
#define SY_HTTP_DEFAULT_MAX_BODY ((uint64_t)8 * 1024 * 1024)

/* Byte classes (RFC 9110 5.6.2 tchar, 5.5 field-value, RFC 3986 for targets). */
enum {
    C_TOKEN = 1,  /* tchar */
    C_VALUE = 2,  /* field-value octet: HT, SP, VCHAR, obs-text */
    C_TARGET = 4, /* request-target octet: VCHAR except '#' */
    C_HOST = 8,   /* host / authority octet: unreserved, sub-delims, ':', '[', ']', '%' */
};

static const unsigned char cls[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     2, 15,  6,  3, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14,  6, 14,  6,  6,
     6, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14,  6, 14,  7, 15,
     7, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
};

typedef unsigned char uchar;

static inline uchar lower(uchar c)
{
    return (uchar)(c - 'A') < 26 ? (uchar)(c | 0x20) : c;
}

/* a[0..n) equals the lowercase ASCII string lc[0..n), ignoring case in a. */
static inline int ci_eq(const uchar *a, const char *lc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != (uchar)lc[i]) return 0;
    return 1;
}

static inline int is_ows(uchar c)
{
    return c == ' ' || c == '\t';
}

static inline int hexval(uchar c)
{
    if ((uchar)(c - '0') < 10) return c - '0';
    c |= 0x20;
    if ((uchar)(c - 'a') < 6) return c - 'a' + 10;
    return -1;
}

/*
 * Scanners: each returns the first byte in [p, end) outside its class. With
 * SSE2 (every x86-64) 16 bytes are classified at once by ranges that cover
 * the common bytes exactly; a byte the ranges miss is looked up in cls[].
 */
#if defined(__SSE2__)
#include <emmintrin.h>

#define V(c) _mm_set1_epi8((char)(c))
#define IN(x, lo, hi) _mm_and_si128(_mm_cmpgt_epi8(x, V((lo) - 1)), _mm_cmplt_epi8(x, V((hi) + 1)))

/* mask of the bytes in the fast range of each class (signed compares: bytes
 * >= 0x80 are negative, so they are never inside an ASCII range) */
static inline unsigned fast_token(__m128i x)
{
    __m128i lc = _mm_or_si128(x, V(0x20));
    __m128i m = _mm_or_si128(IN(lc, 'a', 'z'), IN(x, '0', '9'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(m, _mm_cmpeq_epi8(x, V('-'))));
}

static inline unsigned fast_value(__m128i x)
{
    /* 0x20..0x7e and 0x80..0xff: not (x <= 0x1f unsigned) and not DEL */
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, V(0x1f)), x);
    __m128i bad = _mm_or_si128(ctl, _mm_cmpeq_epi8(x, V(0x7f)));
    return (unsigned)_mm_movemask_epi8(bad) ^ 0xffff;
}

static inline unsigned fast_target(__m128i x)
{
    __m128i m = _mm_andnot_si128(_mm_cmpeq_epi8(x, V('#')), IN(x, 0x21, 0x7e));
    return (unsigned)_mm_movemask_epi8(m);
}

#define SCAN(name, fast, klass)                                                     \
    static inline const uchar *name(const uchar *p, const uchar *end)              \
    {                                                                               \
        while (end - p >= 16) {                                                     \
            unsigned miss = fast(_mm_loadu_si128((const __m128i *)p)) ^ 0xffff;     \
            if (!miss) {                                                            \
                p += 16;                                                            \
                continue;                                                           \
            }                                                                       \
            p += __builtin_ctz(miss);                                               \
            if (!(cls[*p] & (klass))) return p;                                     \
            p++;                                                                    \
        }                                                                           \
        while (p < end && (cls[*p] & (klass))) p++;                                 \
        return p;                                                                   \
    }
SCAN(scan_token, fast_token, C_TOKEN)
SCAN(scan_value, fast_value, C_VALUE)
SCAN(scan_target, fast_target, C_TARGET)
#undef SCAN
#undef IN
#undef V
#else
#define SCAN(name, klass)                                                           \
    static inline const uchar *name(const uchar *p, const uchar *end)              \
    {                                                                               \
        while (p < end && (cls[*p] & (klass))) p++;                                 \
        return p;                                                                   \
    }
SCAN(scan_token, C_TOKEN)
SCAN(scan_value, C_VALUE)
SCAN(scan_target, C_TARGET)
#undef SCAN
#endif

/* Methods are case-sensitive (RFC 9110 9.1): "get" is some other method. */
static sy_http_method method_of(const uchar *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0) return SY_HTTP_GET;
        if (memcmp(m, "PUT", 3) == 0) return SY_HTTP_PUT;
        break;
    case 4:
        if (memcmp(m, "POST", 4) == 0) return SY_HTTP_POST;
        if (memcmp(m, "HEAD", 4) == 0) return SY_HTTP_HEAD;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0) return SY_HTTP_PATCH;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0) return SY_HTTP_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0) return SY_HTTP_OPTIONS;
        break;
    }
    return SY_HTTP_OTHER;
}

/* Sets path/path_len from the target; 0 when the target form is acceptable. */
static int split_target(sy_http_req *req, const char **why)
{
    const uchar *t = (const uchar *)req->target;
    const uchar *end = t + req->target_len;
    const uchar *path = t;

    if (t[0] == '/') {
        /* origin-form: the usual case */
    } else if (req->target_len == 1 && t[0] == '*') {
        if (req->method != SY_HTTP_OPTIONS) {
            *why = "'*' request target is only valid with OPTIONS";
            return -400;
        }
        req->path = req->target;
        req->path_len = 1;
        return 0;
    } else if (req->target_len > 7 && ci_eq(t, "http://", 7)) {
        /* absolute-form: accepted for http only, with a non-empty authority
         * (no userinfo) followed by an absolute path; the authority is not
         * used for routing. */
        const uchar *a = t + 7;
        path = a;
        while (path < end && (cls[*path] & C_HOST)) path++;
        if (path == a || path == end || *path != '/') {
            *why = "absolute-form request target must be http://authority/path";
            return -400;
        }
    } else {
        *why = "unsupported request target form";
        return -400;
    }
    const uchar *q = memchr(path, '?', (size_t)(end - path));
    req->path = (const char *)path;
    req->path_len = (size_t)((q ? q : end) - path);
    return 0;
}

/* Transfer-Encoding value other than exactly "chunked": 400 when it is
 * malformed or names chunked anywhere but once at the end (the framing is then
 * unknowable), 501 otherwise (a coding we do not implement). */
static int te_refuse(const uchar *v, size_t n, const char **why)
{
    size_t i = 0;
    int chunked_count = 0, last_chunked = 0;
    for (;;) {
        while (i < n && is_ows(v[i])) i++;
        size_t s = i;
        while (i < n && (cls[v[i]] & C_TOKEN)) i++;
        if (i == s) {
            *why = "malformed Transfer-Encoding";
            return -400;
        }
        last_chunked = (i - s == 7 && ci_eq(v + s, "chunked", 7));
        chunked_count += last_chunked;
        while (i < n && v[i] != ',') i++; /* parameters, if any */
        if (i == n) break;
        i++;
    }
    if (chunked_count > 1 || (chunked_count == 1 && !last_chunked)) {
        *why = "chunked must be the final transfer coding, applied once";
        return -400;
    }
    *why = "unsupported Transfer-Encoding (only chunked is implemented)";
    return -501;
}

/* Connection: comma-separated, case-insensitive tokens. */
static void connection_tokens(const uchar *v, size_t n, int *close, int *keep)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && is_ows(v[e - 1])) e--;
        if (e - s == 5 && ci_eq(v + s, "close", 5)) *close = 1;
        else if (e - s == 10 && ci_eq(v + s, "keep-alive", 10)) *keep = 1;
    }
}

/* Content-Length: 1*DIGIT. Overflow of int64 is refused like any other
 * malformed value: two parsers must never disagree on it. */
static int parse_content_length(const uchar *v, size_t n, int64_t *out, const char **why)
{
    if (n == 0) {
        *why = "empty Content-Length";
        return -400;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(v[i] - '0');
        if (d > 9) {
            *why = "Content-Length must be digits only";
            return -400;
        }
        if (x > ((uint64_t)INT64_MAX - d) / 10) {
            *why = "Content-Length overflows";
            return -400;
        }
        x = x * 10 + d;
    }
    *out = (int64_t)x;
    return 0;
}

/* Skips the line terminator at *pp: CRLF, or a bare LF. 1 done, 0 need more,
 * -400 for a CR not followed by LF or any other byte. */
static inline int line_end(const uchar **pp, const uchar *end, const char **why)
{
    const uchar *p = *pp;
    if (*p == '\n') {
        *pp = p + 1;
        return 1;
    }
    if (*p == '\r') {
        if (p + 1 == end) return 0;
        if (p[1] == '\n') {
            *pp = p + 2;
            return 1;
        }
        *why = "bare CR in request head";
        return -400;
    }
    return -1; /* not a line end; the caller reports what it expected */
}

typedef struct head_seen {
    int host, te, close, keep;
    const uchar *te_value;
    size_t te_len;
} head_seen;

/* Acts on the headers the parser itself needs. */
static int note_header(sy_http_req *req, head_seen *s, const uchar *name, size_t nlen,
                       const uchar *v, size_t vlen, const char **why)
{
    switch (nlen) {
    case 4:
        if (!ci_eq(name, "host", 4)) break;
        if (s->host++) {
            *why = "more than one Host header";
            return -400;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (!(cls[v[i]] & C_HOST)) {
                *why = "invalid Host header";
                return -400;
            }
        }
        break;
    case 6:
        /* an HTTP/1.0 client cannot expect 100 (RFC 9110 10.1.1) */
        if (req->minor_version == 1 && vlen == 12 && ci_eq(name, "expect", 6) &&
            ci_eq(v, "100-continue", 12))
            req->expect_continue = 1;
        break;
    case 10:
        if (ci_eq(name, "connection", 10)) connection_tokens(v, vlen, &s->close, &s->keep);
        break;
    case 14:
        if (!ci_eq(name, "content-length", 14)) break;
        if (req->content_length >= 0) {
            *why = "more than one Content-Length header";
            return -400;
        }
        return parse_content_length(v, vlen, &req->content_length, why);
    case 17:
        if (!ci_eq(name, "transfer-encoding", 17)) break;
        if (s->te++) {
            *why = "more than one Transfer-Encoding header";
            return -400;
        }
        s->te_value = v;
        s->te_len = vlen;
        break;
    }
    return 0;
}

/* Parses [start, end). Returns the head length, 0 when more bytes are needed,
 * or -status. */
static int parse_head(const uchar *start, const uchar *end, size_t max_headers,
                      uint64_t max_body, sy_http_req *req, const char **why)
{
    const uchar *p = start;
    int rc;

    /* Empty lines before the request line are ignored (RFC 9112 2.2). */
    for (;;) {
        if (p == end) return 0;
        rc = line_end(&p, end, why);
        if (rc == 0 || rc == -400) return rc;
        if (rc < 0) break;
    }

    /* method SP */
    const uchar *m = p;
    p = scan_token(p, end);
    if (p == end) return 0;
    if (*p != ' ' || p == m) {
        *why = "invalid method";
        return -400;
    }
    req->method_str = (const char *)m;
    req->method_len = (size_t)(p - m);
    req->method = method_of(m, req->method_len);
    p++;

    /* request-target SP */
    const uchar *t = p;
    p = scan_target(p, end);
    if (p == end) return 0;
    if (*p != ' ' || p == t) {
        *why = "invalid request target";
        return -400;
    }
    req->target = (const char *)t;
    req->target_len = (size_t)(p - t);
    if ((rc = split_target(req, why)) < 0) return rc;
    p++;

    /* HTTP-version: "HTTP/" DIGIT "." DIGIT, checked as far as it has arrived */
    static const char vpat[] = "HTTP/0.0";
    for (size_t i = 0; i < 8; i++) {
        if (p + i == end) return 0;
        uchar c = p[i];
        int ok = (i == 5 || i == 7) ? (uchar)(c - '0') < 10 : c == (uchar)vpat[i];
        if (!ok) {
            *why = "invalid HTTP version";
            return -400;
        }
    }
    int major = p[5] - '0';
    req->minor_version = p[7] - '0';
    p += 8;
    if (p == end) return 0;
    rc = line_end(&p, end, why);
    if (rc == 0 || rc == -400) return rc;
    if (rc < 0) {
        *why = "invalid HTTP version";
        return -400;
    }
    if (major != 1 || req->minor_version > 1) {
        *why = "HTTP version not supported";
        return -505;
    }

    /* header fields, up to the empty line */
    head_seen s = {0};
    req->n_headers = 0;
    req->content_length = -1;
    req->expect_continue = 0;
    for (;;) {
        if (p == end) return 0;
        rc = line_end(&p, end, why);
        if (rc == 0 || rc == -400) return rc;
        if (rc == 1) break;
        if (is_ows(*p)) {
            *why = "obsolete line folding or whitespace before a header name";
            return -400;
        }
        const uchar *name = p;
        p = scan_token(p, end);
        if (p == end) return 0;
        if (*p != ':' || p == name) {
            *why = is_ows(*p) ? "whitespace before the colon of a header"
                              : "invalid header name";
            return -400;
        }
        size_t nlen = (size_t)(p - name);
        p++;
        while (p < end && is_ows(*p)) p++;
        const uchar *v = p;
        p = scan_value(p, end);
        if (p == end) return 0;
        const uchar *ve = p;
        rc = line_end(&p, end, why);
        if (rc == 0 || rc == -400) return rc;
        if (rc < 0) {
            *why = "control character in a header value";
            return -400;
        }
        while (ve > v && is_ows(ve[-1])) ve--;

        if (req->n_headers == max_headers) {
            *why = "too many header fields";
            return -431;
        }
        sy_http_header *h = &req->headers[req->n_headers++];
        h->name = (const char *)name;
        h->name_len = nlen;
        h->value = (const char *)v;
        h->value_len = (size_t)(ve - v);
        if ((rc = note_header(req, &s, name, nlen, v, h->value_len, why)) < 0) return rc;
    }

    /* whole-head checks */
    if (req->minor_version == 1 && !s.host) {
        *why = "missing Host header";
        return -400;
    }
    req->chunked = 0;
    if (s.te) {
        if (req->content_length >= 0) {
            *why = "both Content-Length and Transfer-Encoding";
            return -400;
        }
        if (req->minor_version == 0) {
            *why = "Transfer-Encoding in an HTTP/1.0 request";
            return -400;
        }
        if (!(s.te_len == 7 && ci_eq(s.te_value, "chunked", 7)))
            return te_refuse(s.te_value, s.te_len, why);
        req->chunked = 1;
    }
    if (req->content_length >= 0 && (uint64_t)req->content_length > max_body) {
        *why = "request body too large";
        return -413;
    }
    req->keep_alive = req->minor_version == 1 ? !s.close : (s.keep && !s.close);
    req->head_len = (size_t)(p - start);
    return (int)req->head_len;
}

int sy_http_parse_request(const char *buf, size_t len, const sy_http_limits *lim,
                          sy_http_req *req, const char **why)
{
    size_t max_head = lim && lim->max_head ? lim->max_head : SY_HTTP_DEFAULT_MAX_HEAD;
    size_t max_headers = lim && lim->max_headers ? lim->max_headers : SY_HTTP_MAX_HEADERS;
    uint64_t max_body = lim && lim->max_body ? lim->max_body : SY_HTTP_DEFAULT_MAX_BODY;
    if (max_head > INT_MAX) max_head = INT_MAX;
    if (max_headers > SY_HTTP_MAX_HEADERS) max_headers = SY_HTTP_MAX_HEADERS;

    const char *msg = NULL;
    size_t n = len < max_head ? len : max_head;
    int rc = parse_head((const uchar *)buf, (const uchar *)buf + n, max_headers, max_body,
                        req, &msg);
    if (rc == 0 && len >= max_head) {
        /* any completion would make the head longer than max_head */
        rc = -431;
        msg = "request head too large";
    }
    if (rc < 0 && why) *why = msg;
    return rc;
}

const sy_http_header *sy_http_find_header(const sy_http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const sy_http_header *h = &req->headers[i];
        if (h->name_len != n) continue;
        size_t k = 0;
        while (k < n && lower((uchar)h->name[k]) == lower((uchar)name[k])) k++;
        if (k == n) return h;
    }
    return NULL;
}

/* ---- chunked body ------------------------------------------------------ */

enum {
    CH_SIZE_FIRST,  /* expecting the first hex digit of a chunk size */
    CH_SIZE,        /* in the hex digits */
    CH_SIZE_WS,     /* BWS after the size: only more BWS or ';' may follow */
    CH_EXT,         /* in a chunk extension, up to CR */
    CH_SIZE_LF,     /* CR of the size line seen */
    CH_DATA,
    CH_DATA_CR,     /* CRLF after chunk data */
    CH_DATA_LF,
    CH_TRAILER_BOL, /* start of a trailer line, or of the final empty line */
    CH_TRAILER,     /* in a trailer line */
    CH_TRAILER_LF,  /* CR of a trailer line seen */
    CH_END_LF,      /* CR of the final empty line seen */
    CH_DONE,
};

void sy_chunked_init(sy_chunked_decoder *d, uint64_t max_body)
{
    memset(d, 0, sizeof *d);
    d->state = CH_SIZE_FIRST;
    d->max_body = max_body ? max_body : SY_HTTP_DEFAULT_MAX_BODY;
}

int sy_chunked_decode(sy_chunked_decoder *d, char *buf, size_t len, size_t *consumed,
                      size_t *out_len, const char **why)
{
    uchar *b = (uchar *)buf;
    size_t i = 0, out = 0;
    int rc = 0;
    const char *msg = NULL;

    if (d->state < 0) {
        rc = d->state;
        msg = "chunked body already refused";
        goto out;
    }
    if (d->state == CH_DONE) {
        rc = 1;
        goto out;
    }

#define CH_FAIL(st, m) do { rc = -(st); msg = (m); goto fail; } while (0)
    while (i < len) {
        if (d->state == CH_DATA) {
            size_t n = len - i;
            if (n > d->chunk_left) n = (size_t)d->chunk_left;
            if (out != i) memmove(b + out, b + i, n);
            out += n;
            i += n;
            d->chunk_left -= n;
            d->total += n;
            if (d->chunk_left == 0) d->state = CH_DATA_CR;
            continue;
        }
        uchar c = b[i++];
        /* framing bytes may not outgrow the data they carry by much:
         * overhead <= BASE + 8 * total, written so that nothing can overflow */
        if (++d->overhead > SY_CHUNKED_OVERHEAD_BASE &&
            (d->overhead - SY_CHUNKED_OVERHEAD_BASE - 1) / 8 >= d->total)
            CH_FAIL(400, "chunked framing overhead too large");
        /* line_len: bytes of the current size line, or of the whole trailer section */
        if (d->state <= CH_EXT) {
            if (c != '\r' && ++d->line_len > SY_CHUNKED_LINE_MAX)
                CH_FAIL(400, "chunk size line too long");
        } else if (d->state >= CH_TRAILER_BOL) {
            if (++d->line_len > SY_CHUNKED_TRAILER_MAX)
                CH_FAIL(400, "chunked trailers too large");
        }
        switch (d->state) {
        case CH_SIZE_FIRST:
        case CH_SIZE: {
            int h = hexval(c);
            if (h >= 0) {
                if (d->chunk_left > (UINT64_MAX >> 4)) CH_FAIL(400, "chunk size overflows");
                d->chunk_left = d->chunk_left << 4 | (uint64_t)h;
                if (d->chunk_left > d->max_body - d->total)
                    CH_FAIL(413, "request body too large");
                d->state = CH_SIZE;
            } else if (d->state == CH_SIZE_FIRST) {
                CH_FAIL(400, "invalid chunk size");
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == ';') {
                d->state = CH_EXT;
            } else if (is_ows(c)) {
                d->state = CH_SIZE_WS;
            } else {
                CH_FAIL(400, "invalid chunk size");
            }
            break;
        }
        case CH_SIZE_WS:
            if (c == ';') d->state = CH_EXT;
            else if (!is_ows(c)) CH_FAIL(400, "invalid chunk size line");
            break;
        case CH_EXT:
            if (c == '\r') d->state = CH_SIZE_LF;
            else if (!(cls[c] & C_VALUE)) CH_FAIL(400, "invalid chunk extension");
            break;
        case CH_SIZE_LF:
            if (c != '\n') CH_FAIL(400, "chunk size line must end with CRLF");
            d->line_len = 0;
            d->state = d->chunk_left ? CH_DATA : CH_TRAILER_BOL;
            break;
        case CH_DATA_CR:
            if (c != '\r') CH_FAIL(400, "chunk data must be followed by CRLF");
            d->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n') CH_FAIL(400, "chunk data must be followed by CRLF");
            d->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER_BOL:
            if (c == '\r') d->state = CH_END_LF;
            else if (cls[c] & C_TOKEN) d->state = CH_TRAILER;
            else CH_FAIL(400, "invalid trailer field");
            break;
        case CH_TRAILER:
            if (c == '\r') d->state = CH_TRAILER_LF;
            else if (!(cls[c] & C_VALUE)) CH_FAIL(400, "invalid trailer field");
            break;
        case CH_TRAILER_LF:
            if (c != '\n') CH_FAIL(400, "trailer line must end with CRLF");
            d->state = CH_TRAILER_BOL;
            break;
        case CH_END_LF:
            if (c != '\n') CH_FAIL(400, "chunked body must end with CRLF");
            d->state = CH_DONE;
            rc = 1;
            goto out;
        }
    }
#undef CH_FAIL
    goto out;
fail:
    d->state = rc;
out:
    *consumed = i;
    *out_len = out;
    if (rc < 0 && why) *why = msg;
    return rc;
}
