/* http.c - request parser of mock-upstream (see http.h). */
#include "http.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

int mock_http_ieq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Find the end of the line starting at p; returns the length without the
 * terminator and sets *next past it, or returns (size_t)-1 when no LF. */
static size_t line_end(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf) return (size_t)-1;
    *next = lf + 1;
    size_t n = (size_t)(lf - p);
    if (n && p[n - 1] == '\r') n--;
    return n;
}

static int parse_u64(const char *s, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;
    if (!n || n > 16) return -1;
    for (size_t i = 0; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
        else return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* Walk a chunked body in buf[0..len). With out == NULL it only checks; with
 * out it appends the data. Returns bytes used, 0 for more input, < 0 error. */
static long walk_chunked(const char *buf, size_t len, mock_buf *out, const char **why)
{
    const char *p = buf, *end = buf + len, *next;
    uint64_t total = 0;
    for (;;) {
        size_t n = line_end(p, end, &next);
        if (n == (size_t)-1) {
            if ((size_t)(end - p) <= 1024) return 0;
            *why = "chunk size line too long";
            return -400;
        }
        size_t digits = 0;
        while (digits < n && p[digits] != ';' && p[digits] != ' ' && p[digits] != '\t') digits++;
        uint64_t size;
        if (parse_u64(p, digits, 16, &size) < 0) {
            *why = "bad chunk size";
            return -400;
        }
        p = next;
        if (size == 0) {
            /* Trailers up to an empty line. */
            for (;;) {
                n = line_end(p, end, &next);
                if (n == (size_t)-1) return 0;
                p = next;
                if (n == 0) return (long)(p - buf);
            }
        }
        if (size > MOCK_MAX_BODY || total + size > MOCK_MAX_BODY) {
            *why = "request body too large";
            return -413;
        }
        if ((uint64_t)(end - p) < size + 2) return 0;
        if (p[size] == '\r' && p[size + 1] == '\n') {
            if (out) mock_buf_append(out, p, size);
            p += size + 2;
        } else if (p[size] == '\n') {
            if (out) mock_buf_append(out, p, size);
            p += size + 1;
        } else {
            *why = "chunk data not followed by CRLF";
            return -400;
        }
        total += size;
    }
}

int mock_http_parse(const char *buf, size_t len, mock_req *r, mock_buf *chunked_body,
                    const char **why)
{
    const char *const start = buf, *end = buf + len, *p, *next = NULL;
    memset(r, 0, sizeof(*r));
    *why = "bad request";

    /* Tolerate empty lines before a request (RFC 9112 2.2). */
    while (len && (*buf == '\r' || *buf == '\n')) {
        buf++;
        len--;
    }
    if (!len) return 0;
    const char *head_end = NULL;
    {
        const char *s = buf;
        while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
            if (s + 1 < end && s[1] == '\n') { head_end = s + 2; break; }
            if (s + 2 < end && s[1] == '\r' && s[2] == '\n') { head_end = s + 3; break; }
            s++;
        }
    }
    if (!head_end) {
        if (len > MOCK_MAX_HEAD) {
            *why = "request head too large";
            return -431;
        }
        return 0;
    }
    if ((size_t)(head_end - buf) > MOCK_MAX_HEAD) {
        *why = "request head too large";
        return -431;
    }

    /* Request line. */
    size_t n = line_end(buf, head_end, &next);
    if (n == (size_t)-1 || !next) return -400;
    const char *sp1 = memchr(buf, ' ', n);
    if (!sp1 || sp1 == buf) return -400;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(buf + n - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1) return -400;
    for (const char *m = buf; m < sp1; m++)
        if (!is_tchar((unsigned char)*m)) return -400;
    r->method = buf;
    r->method_len = (size_t)(sp1 - buf);
    r->path = sp1 + 1;
    if (*r->path != '/') {
        *why = "request target must be an absolute path";
        return -400;
    }
    const char *q = memchr(r->path, '?', (size_t)(sp2 - r->path));
    r->path_len = (size_t)((q ? q : sp2) - r->path);
    for (size_t i = 0; i < r->path_len; i++)
        if ((unsigned char)r->path[i] <= 0x20 || r->path[i] == 0x7f) return -400;
    const char *ver = sp2 + 1;
    size_t ver_len = (size_t)(buf + n - ver);
    if (ver_len != 8 || memcmp(ver, "HTTP/1.", 7) != 0) {
        *why = "unsupported HTTP version";
        return -505;
    }
    if (ver[7] == '1') r->minor_version = 1;
    else if (ver[7] == '0') r->minor_version = 0;
    else {
        *why = "unsupported HTTP version";
        return -505;
    }
    r->keep_alive = r->minor_version == 1;

    /* Headers. */
    r->headers = next;
    r->headers_len = (size_t)(head_end - next);
    int have_cl = 0, chunked = 0, n_headers = 0;
    uint64_t cl = 0;
    for (p = next; p < head_end;) {
        n = line_end(p, head_end, &next);
        if (n == 0) break;
        if (++n_headers > MOCK_MAX_HEADERS) {
            *why = "too many headers";
            return -431;
        }
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p) {
            *why = "bad header line";
            return -400;
        }
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c)) {
                *why = "bad header name";
                return -400;
            }
        const char *v = colon + 1, *ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t name_len = (size_t)(colon - p), vlen = (size_t)(ve - v);
        if (mock_http_ieq(p, name_len, "content-length")) {
            uint64_t x;
            if (parse_u64(v, vlen, 10, &x) < 0 || (have_cl && x != cl)) {
                *why = "bad Content-Length";
                return -400;
            }
            have_cl = 1;
            cl = x;
        } else if (mock_http_ieq(p, name_len, "transfer-encoding")) {
            if (!mock_http_ieq(v, vlen, "chunked")) {
                *why = "unsupported Transfer-Encoding";
                return -501;
            }
            chunked = 1;
        } else if (mock_http_ieq(p, name_len, "connection")) {
            if (mock_http_ieq(v, vlen, "close")) r->keep_alive = 0;
            else if (mock_http_ieq(v, vlen, "keep-alive")) r->keep_alive = 1;
        } else if (mock_http_ieq(p, name_len, "authorization")) {
            r->auth = v;
            r->auth_len = vlen;
        } else if (mock_http_ieq(p, name_len, "expect")) {
            r->expect_continue = mock_http_ieq(v, vlen, "100-continue");
        }
        p = next;
    }
    if (have_cl && chunked) {
        *why = "both Content-Length and Transfer-Encoding";
        return -400;
    }
    r->head_done = 1;

    /* Body. */
    size_t head_len = (size_t)(head_end - buf);
    size_t skipped = (size_t)(buf - start); /* leading empty lines */
    if (chunked) {
        long used = walk_chunked(head_end, (size_t)(end - head_end), NULL, why);
        if (used <= 0) return (int)used;
        chunked_body->len = 0;
        walk_chunked(head_end, (size_t)used, chunked_body, why);
        r->body = chunked_body->data ? chunked_body->data : "";
        r->body_len = chunked_body->len;
        return (int)(skipped + head_len + (size_t)used);
    }
    if (cl > MOCK_MAX_BODY) {
        *why = "request body too large";
        return -413;
    }
    if ((size_t)(end - head_end) < cl) return 0;
    r->body = head_end;
    r->body_len = (size_t)cl;
    return (int)(skipped + head_len + (size_t)cl);
}
