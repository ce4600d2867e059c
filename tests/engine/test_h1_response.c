/*
 * test_h1_response.c - the incremental HTTP/1.1 response reader
 * (router/transport/h1_response.h) on its own, no socket: the status line,
 * the header store, 1xx answers, the head's size limit, the body's framing
 * (Content-Length, chunked, close-delimited), keep-alive, cut answers and a
 * paused reader.
 *
 * Most cases go through drive(), which feeds an answer the way a socket
 * reader would: pieces appended to the unconsumed bytes, each call given an
 * exact-size copy of them (so ASan sees any read past the end). drive_all()
 * runs one answer through every way of cutting it (every piece size, every
 * single split point, random pieces, a paused and a slow reader) and checks
 * each gives the same status and decoded body.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1_response.h"

/* ------------------------------------------------------------ growable bytes */

typedef struct bytes {
    char *p;
    size_t len, cap;
} bytes;

static void b_add(bytes *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void b_str(bytes *b, const char *s) { b_add(b, s, strlen(s)); }

static void b_free(bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Drop the first n bytes. */
static void b_eat(bytes *b, size_t n)
{
    cr_assert_leq(n, b->len);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    if (b->p) b->p[b->len] = '\0';
}

/* An exact-size heap copy, so a read past n is an ASan report. */
static char *exact_copy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* ------------------------------------------------------------ the driver */

typedef struct drive_opts {
    size_t piece;     /* bytes per read; 0: the whole answer at once */
    size_t split_at;  /* nonzero: two reads, cut here (piece ignored) */
    uint32_t seed;    /* nonzero: random reads of 1..max_piece bytes */
    size_t max_piece;
    int pause;        /* call body_next again on the same bytes before taking */
    size_t take_max;  /* nonzero: take at most this many body bytes a call */
    int took_zero;    /* call sy_h1_body_took(r, 0) when nothing was taken */
} drive_opts;

typedef struct drive_res {
    sy_h1_resp r; /* the reader, alive until res_free (for sy_h1_header) */
    int failed;   /* a call returned -1 */
    int interims; /* 1xx heads skipped */
    int eof;      /* sy_h1_eof at the end of the input (1 when complete) */
    bytes body;   /* the decoded body */
    bytes rest;   /* bytes after the answer (the next one on the connection) */
} drive_res;

static void res_free(drive_res *res)
{
    sy_h1_free(&res->r);
    b_free(&res->body);
    b_free(&res->rest);
}

static size_t next_piece(const drive_opts *o, uint32_t *seed, int first, size_t left)
{
    size_t k = left;
    if (o->split_at) k = first ? o->split_at : left;
    else if (o->seed) k = 1 + rnd(seed) % (o->max_piece ? o->max_piece : 16);
    else if (o->piece) k = o->piece;
    return k < left ? k : left;
}

/* Run what is in buf through the reader; 1 when the answer is over (done or
 * failed), 0 when more bytes are needed. */
static int pump(drive_res *res, bytes *buf, const drive_opts *o)
{
    sy_h1_resp *r = &res->r;
    for (;;) {
        if (!r->head_done) {
            char *v = exact_copy(buf->p, buf->len);
            ssize_t n = sy_h1_head(r, v, buf->len);
            free(v);
            if (n < 0) {
                cr_assert_not_null(r->error, "a failure says why");
                res->failed = 1;
                return 1;
            }
            if (n == 0) return 0;
            cr_assert_leq((size_t)n, buf->len);
            b_eat(buf, (size_t)n);
            if (!r->head_done) res->interims++;
            continue;
        }
        if (r->complete) return 1;
        char *v = exact_copy(buf->p, buf->len);
        size_t f = 99999;
        ssize_t d = sy_h1_body_next(r, v, buf->len, &f);
        if (d < 0) {
            free(v);
            cr_assert_not_null(r->error, "a failure says why");
            res->failed = 1;
            return 1;
        }
        cr_assert_leq(f + (size_t)d, buf->len, "framing %zu + data %zd past the %zu bytes", f,
                      d, buf->len);
        if (o->pause && d > 0) {
            /* A paused reader: the framing is eaten, the data not taken. */
            char *again = exact_copy(v + f, buf->len - f);
            size_t f2 = 99999;
            ssize_t d2 = sy_h1_body_next(r, again, buf->len - f, &f2);
            cr_assert_eq(f2, 0, "no framing the second time");
            cr_assert_eq(d2, d, "the same data the second time");
            free(again);
        }
        size_t take = (size_t)d;
        if (o->take_max && take > o->take_max) take = o->take_max;
        b_add(&res->body, v + f, take);
        free(v);
        b_eat(buf, f + take);
        if (take || o->took_zero) sy_h1_body_took(r, take);
        if (r->complete) return 1;
        if (d == 0) return 0;
    }
}

/* Feed the answer in pieces as a socket reader would; then, if the answer
 * is not over, the connection closes. */
static void drive(drive_res *res, const char *resp, size_t len, const drive_opts *o)
{
    memset(res, 0, sizeof *res);
    sy_h1_init(&res->r);
    bytes buf = {0};
    uint32_t seed = o->seed;
    size_t pos = 0;
    int over = 0;
    for (int first = 1; !over && pos < len; first = 0) {
        size_t k = next_piece(o, &seed, first, len - pos);
        b_add(&buf, resp + pos, k);
        pos += k;
        over = pump(res, &buf, o);
    }
    if (!over) over = pump(res, &buf, o); /* an empty answer */
    res->eof = res->failed ? 0 : sy_h1_eof(&res->r);
    b_add(&res->rest, buf.p, buf.len);
    b_add(&res->rest, resp + pos, len - pos);
    b_free(&buf);
}

/* What an answer must come to, whatever the cuts. */
typedef struct expect {
    int failed;
    const char *error; /* with failed */
    int status;
    const char *body;
    size_t body_len;
    int complete, keep_alive, eof;
    sy_h1_framing framing;
    int interims;
    const char *rest; /* NULL: nothing after the answer */
} expect;

static void check(const drive_res *res, const expect *e, const char *how)
{
    cr_assert_eq(res->failed, e->failed, "%s: failed %d (%s)", how, res->failed,
                 res->r.error ? res->r.error : "-");
    if (e->failed) {
        if (e->error) cr_assert_str_eq(res->r.error, e->error, "%s", how);
        return;
    }
    cr_assert_eq(res->r.status, e->status, "%s: status %d", how, res->r.status);
    cr_assert_eq(res->interims, e->interims, "%s: interims %d", how, res->interims);
    cr_assert_eq(res->r.framing, e->framing, "%s: framing %d", how, (int)res->r.framing);
    cr_assert_eq(res->r.keep_alive, e->keep_alive, "%s: keep_alive", how);
    cr_assert_eq(res->r.complete, e->complete, "%s: complete", how);
    cr_assert_eq(res->eof, e->eof, "%s: eof", how);
    cr_assert_eq(res->body.len, e->body_len, "%s: body %zu bytes, want %zu", how, res->body.len,
                 e->body_len);
    if (e->body_len)
        cr_assert(memcmp(res->body.p, e->body, e->body_len) == 0, "%s: body bytes differ", how);
    const char *rest = e->rest ? e->rest : "";
    cr_assert_eq(res->rest.len, strlen(rest), "%s: %zu bytes after the answer", how,
                 res->rest.len);
    if (res->rest.len) cr_assert(memcmp(res->rest.p, rest, res->rest.len) == 0, "%s", how);
}

static void drive_check(const char *resp, size_t len, const drive_opts *o, const expect *e,
                        const char *how)
{
    drive_res res;
    drive(&res, resp, len, o);
    check(&res, e, how);
    res_free(&res);
}

/* Every way of cutting the answer must come to the same result. */
static void drive_all(const char *resp, size_t len, const expect *e)
{
    char how[96];
    drive_opts o = {0};
    drive_check(resp, len, &o, e, "whole");
    for (size_t k = 1; k <= len; k++) {
        o = (drive_opts){.piece = k};
        snprintf(how, sizeof how, "pieces of %zu", k);
        drive_check(resp, len, &o, e, how);
    }
    for (size_t at = 1; at < len; at++) {
        o = (drive_opts){.split_at = at};
        snprintf(how, sizeof how, "split at %zu", at);
        drive_check(resp, len, &o, e, how);
    }
    for (uint32_t seed = 1; seed <= 40; seed++) {
        o = (drive_opts){.seed = seed, .max_piece = 1 + seed % 23};
        snprintf(how, sizeof how, "random pieces, seed %u", seed);
        drive_check(resp, len, &o, e, how);
    }
    o = (drive_opts){.piece = 1, .pause = 1};
    drive_check(resp, len, &o, e, "paused, byte by byte");
    o = (drive_opts){.pause = 1};
    drive_check(resp, len, &o, e, "paused, whole");
    o = (drive_opts){.take_max = 1};
    drive_check(resp, len, &o, e, "taking one byte at a time");
    o = (drive_opts){.piece = 3, .take_max = 2, .pause = 1};
    drive_check(resp, len, &o, e, "paused, slow, pieces of 3");
    o = (drive_opts){.piece = 1, .took_zero = 1};
    drive_check(resp, len, &o, e, "took(0) when nothing taken, byte by byte");
    o = (drive_opts){.seed = 7, .max_piece = 5, .took_zero = 1};
    drive_check(resp, len, &o, e, "took(0) when nothing taken, random");
}

static void drive_all_str(const char *resp, const expect *e) { drive_all(resp, strlen(resp), e); }

/* One call on the whole head (and whatever follows it). */
static ssize_t head_once(sy_h1_resp *r, const char *s)
{
    char *v = exact_copy(s, strlen(s));
    ssize_t n = sy_h1_head(r, v, strlen(s));
    free(v);
    return n;
}

/* ------------------------------------------------------------ status line */

Test(h1_status, ok_with_reason)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(head_once(&r, s), (ssize_t)strlen(s));
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.head_done, 1);
    cr_assert_eq(r.complete, 1);
    cr_assert_eq(r.framing, SY_H1_NONE);
    cr_assert_eq(r.keep_alive, 1);
    cr_assert_null(r.error);
    sy_h1_free(&r);
}

Test(h1_status, not_found_with_body)
{
    const char *s = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                    "Content-Length: 21\r\n\r\n{\"error\":\"not found\"}";
    expect e = {.status = 404, .body = "{\"error\":\"not found\"}", .body_len = 21,
                .complete = 1, .keep_alive = 1, .eof = 1, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
}

Test(h1_status, http10)
{
    const char *s = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    expect e = {.status = 200, .body = "hi", .body_len = 2, .complete = 1, .keep_alive = 0,
                .eof = 1, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
}

Test(h1_status, no_reason_phrase)
{
    const char *heads[] = {
        "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200\nContent-Length: 0\n\n",
        "HTTP/1.1 503 \r\n\r\n",
    };
    int want[] = {200, 200, 200, 503};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, heads[i]), (ssize_t)strlen(heads[i]), "case %zu", i);
        cr_assert_eq(r.status, want[i], "case %zu", i);
        sy_h1_free(&r);
    }
}

Test(h1_status, many_codes)
{
    int codes[] = {200, 201, 202, 206, 299, 301, 302, 307, 400, 401, 403, 408, 429, 500, 502,
                   503, 504, 529, 599};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char s[96];
        snprintf(s, sizeof s, "HTTP/1.1 %d Whatever Text\r\nContent-Length: 0\r\n\r\n", codes[i]);
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, s), (ssize_t)strlen(s), "%d", codes[i]);
        cr_assert_eq(r.status, codes[i]);
        sy_h1_free(&r);
    }
}

Test(h1_status, bad_lines_refused)
{
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 600 Nope\r\n\r\n",
        "HTTP/1.1 099 Nope\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 abc\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        " HTTP/1.1 200 OK\r\n\r\n",
        "\r\n\r\n",
        "\n\n",
        "garbage\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, bad[i]), -1, "case %zu: %s", i, bad[i]);
        cr_assert_not_null(r.error, "case %zu", i);
        cr_assert_eq(r.head_done, 0, "case %zu", i);
        sy_h1_free(&r);
    }
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, "HTTP/1.1 20 OK\r\n\r\n"), -1);
    cr_assert_str_eq(r.error, "upstream sent a malformed status line");
    sy_h1_free(&r);
}

Test(h1_status, bad_header_lines_refused)
{
    const char *bad[] = {
        "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : space before colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: 1\r\n folded: continuation\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad(Name): x\r\n\r\n",
        "HTTP/1.1 200 OK\nBad Name: x\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, bad[i]), -1, "case %zu", i);
        cr_assert_str_eq(r.error, "upstream sent a malformed header line", "case %zu", i);
        sy_h1_free(&r);
    }
}

/* ------------------------------------------------------------ headers */

Test(h1_headers, stored_and_found_case_insensitively)
{
    const char *s = "HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/event-stream\r\n"
                    "x-request-id:   abc-123  \r\n"
                    "Retry-After:\t7\t\r\n"
                    "X-Empty:\r\n"
                    "Set-Cookie: a=1\r\n"
                    "set-cookie: b=2\r\n"
                    "X-Colon: a:b:c\r\n"
                    "Content-Length: 0\r\n\r\n";
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, s), (ssize_t)strlen(s));
    cr_assert_str_eq(sy_h1_header(&r, "content-type"), "text/event-stream");
    cr_assert_str_eq(sy_h1_header(&r, "CONTENT-TYPE"), "text/event-stream");
    cr_assert_str_eq(sy_h1_header(&r, "X-Request-Id"), "abc-123", "value trimmed");
    cr_assert_str_eq(sy_h1_header(&r, "retry-after"), "7", "tabs trimmed");
    cr_assert_str_eq(sy_h1_header(&r, "x-empty"), "");
    cr_assert_str_eq(sy_h1_header(&r, "Set-Cookie"), "a=1", "the first of two");
    cr_assert_str_eq(sy_h1_header(&r, "x-colon"), "a:b:c");
    cr_assert_str_eq(sy_h1_header(&r, "Content-Length"), "0");
    cr_assert_null(sy_h1_header(&r, "X-Missing"));
    cr_assert_null(sy_h1_header(&r, "Content"), "no prefix match");
    cr_assert_null(sy_h1_header(&r, "Content-Type-X"));
    sy_h1_free(&r);
}

Test(h1_headers, none_before_any_head)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_null(sy_h1_header(&r, "Content-Type"));
    cr_assert_eq(sy_h1_head(&r, "HTTP/1.1 200 OK\r\nA: b\r\n", 23), 0);
    cr_assert_null(sy_h1_header(&r, "A"), "nothing until the head is in");
    sy_h1_free(&r);
}

/* The store keeps about the first 8 KiB of headers (a later one that does
 * not fit is dropped); the framing still comes from headers past it. */
Test(h1_headers, store_keeps_the_first_8k)
{
    bytes b = {0};
    b_str(&b, "HTTP/1.1 200 OK\r\nX-First: one\r\n");
    char line[160], fill[101];
    memset(fill, 'v', 100);
    fill[100] = '\0';
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof line, "X-Fill-%02d: %s\r\n", i, fill);
        b_str(&b, line);
    }
    b_str(&b, "X-Last: last\r\nContent-Length: 3\r\n\r\nabc");
    expect e = {.status = 200, .body = "abc", .body_len = 3, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH};
    drive_opts o = {0};
    drive_res res;
    drive(&res, b.p, b.len, &o);
    check(&res, &e, "whole");
    cr_assert_str_eq(sy_h1_header(&res.r, "x-first"), "one");
    cr_assert_str_eq(sy_h1_header(&res.r, "X-Fill-00"), fill);
    cr_assert_str_eq(sy_h1_header(&res.r, "X-Fill-60"), fill);
    cr_assert_null(sy_h1_header(&res.r, "X-Fill-99"), "past the store: dropped");
    res_free(&res);
    o = (drive_opts){.seed = 3, .max_piece = 700};
    drive_check(b.p, b.len, &o, &e, "random pieces");
    b_free(&b);
}

/* A reader reused for the next answer forgets the last one's headers. */
Test(h1_headers, reset_forgets)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    const char *a = "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n";
    const char *b = "HTTP/1.1 201 Created\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(head_once(&r, a), (ssize_t)strlen(a));
    cr_assert_str_eq(sy_h1_header(&r, "x-a"), "1");
    sy_h1_reset(&r);
    cr_assert_eq(r.head_done, 0);
    cr_assert_eq(r.status, 0);
    cr_assert_null(sy_h1_header(&r, "x-a"));
    cr_assert_eq(head_once(&r, b), (ssize_t)strlen(b));
    cr_assert_eq(r.status, 201);
    cr_assert_null(sy_h1_header(&r, "x-a"));
    cr_assert_str_eq(sy_h1_header(&r, "x-b"), "2");
    sy_h1_free(&r);
    sy_h1_free(&r); /* twice is harmless */
}

/* ------------------------------------------------------------ the head in pieces */

/* The head grows by one byte a call, from the same start: 0 until its last
 * byte is in, then its length, whatever follows it. */
static void head_byte_by_byte(const char *s, size_t head_len)
{
    size_t len = strlen(s);
    sy_h1_resp r;
    sy_h1_init(&r);
    for (size_t n = 0; n <= len; n++) {
        char *v = exact_copy(s, n);
        ssize_t got = sy_h1_head(&r, v, n);
        free(v);
        if (n < head_len) {
            cr_assert_eq(got, 0, "%zu of %zu head bytes: not yet", n, head_len);
            cr_assert_eq(r.head_done, 0);
            continue;
        }
        cr_assert_eq(got, (ssize_t)head_len, "at %zu bytes", n);
        cr_assert_eq(r.head_done, 1);
        break;
    }
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(sy_h1_header(&r, "x-tail"), "t");
    sy_h1_free(&r);

    /* And from a jump: nothing, a part, then everything. */
    for (size_t cut = 0; cut < head_len; cut++) {
        sy_h1_init(&r);
        cr_assert_eq(sy_h1_head(&r, s, cut), 0);
        cr_assert_eq(sy_h1_head(&r, s, len), (ssize_t)head_len, "cut at %zu", cut);
        cr_assert_str_eq(sy_h1_header(&r, "x-tail"), "t");
        sy_h1_free(&r);
    }
}

Test(h1_head, every_byte_boundary_crlf)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Tail: t\r\n\r\n";
    char s[256];
    snprintf(s, sizeof s, "%s%s", head, "body\r\n\r\nmore");
    head_byte_by_byte(s, strlen(head));
}

Test(h1_head, every_byte_boundary_lf_only)
{
    const char *head = "HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Tail: t\n\n";
    char s[256];
    snprintf(s, sizeof s, "%s%s", head, "body\n\nmore");
    head_byte_by_byte(s, strlen(head));
}

Test(h1_head, lf_only_line_ends)
{
    const char *s = "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 2\n\n{}";
    expect e = {.status = 200, .body = "{}", .body_len = 2, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
    /* Mixed line ends are read too. */
    const char *m = "HTTP/1.1 200 OK\r\nA: 1\nContent-Length: 2\r\n\n{}";
    drive_all_str(m, &e);
}

/* ------------------------------------------------------------ 1xx */

Test(h1_interim, continue_then_final)
{
    const char *interim = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n";
    const char *final = "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nhi";
    char s[256];
    snprintf(s, sizeof s, "%s%s", interim, final);

    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, s), (ssize_t)strlen(interim), "the interim head's length");
    cr_assert_eq(r.head_done, 0);
    cr_assert_eq(r.status, 0);
    cr_assert_null(r.error);
    cr_assert_null(sy_h1_header(&r, "x-interim"), "the interim head's headers are forgotten");
    const char *rest = s + strlen(interim);
    ssize_t n = head_once(&r, rest);
    cr_assert_eq(n, (ssize_t)(strlen(final) - 2));
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.head_done, 1);
    cr_assert_str_eq(sy_h1_header(&r, "x-final"), "yes");
    cr_assert_null(sy_h1_header(&r, "x-interim"));
    sy_h1_free(&r);

    expect e = {.status = 200, .body = "hi", .body_len = 2, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH, .interims = 1};
    drive_all_str(s, &e);
}

Test(h1_interim, early_hints_and_several)
{
    const char *s = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                    "HTTP/1.1 100 Continue\n\n"
                    "HTTP/1.1 102 Processing\r\n\r\n"
                    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n\r\n";
    expect e = {.status = 201, .body = "abc", .body_len = 3, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_CHUNKED, .interims = 3};
    drive_all_str(s, &e);
    drive_res res;
    drive_opts o = {.piece = 1};
    drive(&res, s, strlen(s), &o);
    cr_assert_null(sy_h1_header(&res.r, "link"));
    cr_assert_str_eq(sy_h1_header(&res.r, "transfer-encoding"), "chunked");
    res_free(&res);
}

/* Only the interim head counts when it is all there is; the connection's
 * close then cuts the answer. */
Test(h1_interim, alone_then_close)
{
    const char *s = "HTTP/1.1 100 Continue\r\n\r\n";
    expect e = {.failed = 0, .status = 0, .framing = SY_H1_NONE, .complete = 0, .eof = 0,
                .interims = 1};
    drive_res res;
    drive_opts o = {0};
    drive(&res, s, strlen(s), &o);
    check(&res, &e, "whole");
    res_free(&res);
}

Test(h1_interim, switching_protocols_refused)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n\r\n"),
                 -1);
    cr_assert_str_eq(r.error, "upstream switched protocols");
    cr_assert_eq(r.head_done, 0);
    sy_h1_free(&r);
}

/* ------------------------------------------------------------ head size limit */

/* A head of `total` bytes (Content-Length: 0) padded with filler headers. */
static void make_head(bytes *b, size_t total)
{
    const char *start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
    b_str(b, start);
    for (;;) {
        size_t room = total - b->len - 2; /* before the final CRLF */
        if (room == 0) break;
        cr_assert_geq(room, 10, "a pad line \"X-Pad: v\\r\\n\" is at least 10 bytes");
        /* a line is 9 + k bytes; never leave less than one line's room */
        size_t k = room - 9;
        if (k > 1000) k = room - 1009 >= 10 ? 1000 : 500;
        b_str(b, "X-Pad: ");
        for (size_t i = 0; i < k; i++) b_add(b, "v", 1);
        b_str(b, "\r\n");
    }
    b_str(b, "\r\n");
    cr_assert_eq(b->len, total, "made a head of %zu bytes, wanted %zu", b->len, total);
}

Test(h1_limit, head_of_exactly_64k_accepted)
{
    bytes b = {0};
    make_head(&b, SY_H1_HEAD_MAX);
    sy_h1_resp r;
    sy_h1_init(&r);
    char *v = exact_copy(b.p, b.len);
    cr_assert_eq(sy_h1_head(&r, v, b.len), (ssize_t)SY_H1_HEAD_MAX);
    cr_assert_eq(r.status, 200);
    free(v);
    sy_h1_free(&r);
    b_free(&b);
}

Test(h1_limit, head_over_64k_refused_at_once)
{
    bytes b = {0};
    make_head(&b, SY_H1_HEAD_MAX + 1);
    sy_h1_resp r;
    sy_h1_init(&r);
    char *v = exact_copy(b.p, b.len);
    cr_assert_eq(sy_h1_head(&r, v, b.len), -1);
    cr_assert(strstr(r.error, "upstream header too large") != NULL, "%s", r.error);
    cr_assert_eq(r.head_done, 0);
    free(v);
    sy_h1_free(&r);
    b_free(&b);
}

/* Fed a byte a call, a head that never ends is refused once it passes 64 KiB. */
Test(h1_limit, endless_head_refused_byte_by_byte)
{
    bytes b = {0};
    b_str(&b, "HTTP/1.1 200 OK\r\nX-Long: ");
    while (b.len < SY_H1_HEAD_MAX + 16) b_add(&b, "x", 1);
    sy_h1_resp r;
    sy_h1_init(&r);
    size_t n;
    ssize_t got = 0;
    for (n = 1; n <= b.len; n++) {
        got = sy_h1_head(&r, b.p, n);
        if (got != 0) break;
    }
    cr_assert_eq(got, -1);
    cr_assert_eq(n, SY_H1_HEAD_MAX + 1, "refused at %zu bytes", n);
    cr_assert(strstr(r.error, "upstream header too large") != NULL, "%s", r.error);
    sy_h1_free(&r);
    b_free(&b);
}

/* Body bytes after a small head do not count against the head's limit. */
Test(h1_limit, big_body_after_small_head)
{
    bytes b = {0};
    b_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    size_t head = b.len;
    for (int i = 0; i < 100000; i++) b_add(&b, "b", 1);
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(sy_h1_head(&r, b.p, b.len), (ssize_t)head);
    size_t f;
    cr_assert_eq(sy_h1_body_next(&r, b.p + head, b.len - head, &f), 100000);
    cr_assert_eq(f, 0);
    sy_h1_body_took(&r, 100000);
    cr_assert_eq(r.complete, 1);
    sy_h1_free(&r);
    b_free(&b);
}

/* ------------------------------------------------------------ Content-Length */

Test(h1_length, exact_and_split)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz";
    expect e = {.status = 200, .body = "abcdefghijklmnopqrstuvwxyz", .body_len = 26,
                .complete = 1, .keep_alive = 1, .eof = 1, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
}

Test(h1_length, binary_body)
{
    bytes b = {0}, body = {0};
    for (int i = 0; i < 300; i++) {
        unsigned char c = (unsigned char)(i * 7);
        b_add(&body, &c, 1);
    }
    b_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n");
    b_add(&b, body.p, body.len);
    expect e = {.status = 200, .body = body.p, .body_len = 300, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH};
    drive_all(b.p, b.len, &e);
    b_free(&b);
    b_free(&body);
}

/* Bytes past Content-Length are the next answer's, left to the caller. */
Test(h1_length, next_answer_left_over)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n";
    expect e = {.status = 200, .body = "hello", .body_len = 5, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH, .rest = "HTTP/1.1 204 No Content\r\n\r\n"};
    drive_all_str(s, &e);
}

Test(h1_length, zero_and_no_body_statuses_complete_at_once)
{
    const char *heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 120\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, heads[i]), (ssize_t)strlen(heads[i]), "case %zu", i);
        cr_assert_eq(r.framing, SY_H1_NONE, "case %zu", i);
        cr_assert_eq(r.complete, 1, "case %zu", i);
        cr_assert_eq(r.keep_alive, 1, "case %zu", i);
        size_t f = 99;
        cr_assert_eq(sy_h1_body_next(&r, "junk", 4, &f), 0, "case %zu", i);
        cr_assert_eq(f, 0, "case %zu", i);
        cr_assert_eq(sy_h1_eof(&r), 1, "case %zu", i);
        sy_h1_free(&r);
    }
    /* Through the driver: what follows is the next answer's. */
    const char *s = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";
    expect e = {.status = 204, .complete = 1, .keep_alive = 1, .eof = 1,
                .framing = SY_H1_NONE, .rest = "HTTP/1.1 200 OK\r\n"};
    drive_all_str(s, &e);
}

Test(h1_length, two_different_lengths_refused)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
                 -1);
    cr_assert_str_eq(r.error, "upstream sent two Content-Lengths");
    sy_h1_free(&r);

    /* The same length twice is one length. */
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok";
    expect e = {.status = 200, .body = "ok", .body_len = 2, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
}

Test(h1_length, bad_lengths_refused)
{
    const char *bad[] = {"abc", "-1", "+5", "5 5", "5,5", "0x10", "1.5",
                         "1234567890123456789" /* 19 digits */, ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char s[128];
        snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n", bad[i]);
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, s), -1, "'%s'", bad[i]);
        cr_assert_str_eq(r.error, "upstream sent a bad Content-Length", "'%s'", bad[i]);
        sy_h1_free(&r);
    }
    /* 18 digits and surrounding blanks are fine. */
    sy_h1_resp r;
    sy_h1_init(&r);
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: \t 123456789012345678 \r\n\r\n";
    cr_assert_eq(head_once(&r, ok), (ssize_t)strlen(ok));
    cr_assert_eq(r.framing, SY_H1_LENGTH);
    size_t f;
    cr_assert_eq(sy_h1_body_next(&r, "abc", 3, &f), 3);
    sy_h1_free(&r);
}

Test(h1_length, cut_body_is_not_a_proper_end)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    expect e = {.status = 200, .body = "hello", .body_len = 5, .complete = 0, .keep_alive = 1,
                .eof = 0, .framing = SY_H1_LENGTH};
    drive_all_str(s, &e);
}

/* ------------------------------------------------------------ chunked */

/* `body` in chunks whose sizes cycle through sizes[], each size line with
 * `ext` after it, then the last chunk, `trailers` and the empty line; line
 * ends `eol`. */
static void encode_chunked(bytes *out, const char *body, size_t len, const size_t *sizes,
                           size_t nsizes, const char *ext, const char *trailers, const char *eol)
{
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t k = sizes[i % nsizes];
        if (k > len - off) k = len - off;
        char line[64];
        snprintf(line, sizeof line, "%zx%s%s", k, ext, eol);
        b_str(out, line);
        b_add(out, body + off, k);
        b_str(out, eol);
        off += k;
    }
    b_str(out, "0");
    b_str(out, ext);
    b_str(out, eol);
    b_str(out, trailers);
    b_str(out, eol);
}

/* A body with every byte value, CR, LF and things that look like framing. */
static void sample_body(bytes *b, size_t len)
{
    const char *tricky = "\r\n0\r\n\r\n5;x\r\n";
    for (size_t i = 0; i < len; i++) {
        char c = (i % 37 < strlen(tricky)) ? tricky[i % 37] : (char)(i * 13 + 1);
        b_add(b, &c, 1);
    }
}

static void chunked_case(const char *head_extra, const size_t *sizes, size_t nsizes,
                         const char *ext, const char *trailers, const char *eol, size_t body_len)
{
    bytes body = {0}, s = {0};
    sample_body(&body, body_len);
    b_str(&s, "HTTP/1.1 200 OK");
    b_str(&s, eol);
    b_str(&s, "Transfer-Encoding: chunked");
    b_str(&s, eol);
    b_str(&s, head_extra);
    b_str(&s, eol);
    encode_chunked(&s, body.p, body.len, sizes, nsizes, ext, trailers, eol);
    expect e = {.status = 200, .body = body.p, .body_len = body.len, .complete = 1,
                .keep_alive = 1, .eof = 1, .framing = SY_H1_CHUNKED};
    drive_all(s.p, s.len, &e);
    b_free(&body);
    b_free(&s);
}

Test(h1_chunked, single_chunk)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect e = {.status = 200, .body = "hello", .body_len = 5, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_CHUNKED};
    drive_all_str(s, &e);
}

Test(h1_chunked, empty_body)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    expect e = {.status = 200, .complete = 1, .keep_alive = 1, .eof = 1,
                .framing = SY_H1_CHUNKED};
    drive_all_str(s, &e);
}

Test(h1_chunked, many_chunks)
{
    size_t sizes[] = {1, 2, 3, 16, 5, 31, 7, 64};
    chunked_case("", sizes, sizeof sizes / sizeof *sizes, "", "", "\r\n", 200);
}

Test(h1_chunked, one_big_chunk)
{
    size_t sizes[] = {4096};
    chunked_case("", sizes, 1, "", "", "\r\n", 300);
}

Test(h1_chunked, extensions)
{
    size_t sizes[] = {3, 10, 1};
    chunked_case("", sizes, 3, ";name=value;flag", "", "\r\n", 60);
    chunked_case("", sizes, 3, " ;quoted=\"a;b\"", "", "\r\n", 40);
    chunked_case("", sizes, 3, "\t; x", "", "\r\n", 40);
}

Test(h1_chunked, trailers)
{
    size_t sizes[] = {7, 3};
    chunked_case("", sizes, 2, "", "X-Trailer: one\r\nX-Checksum: abc\r\n", "\r\n", 50);
}

Test(h1_chunked, lf_only)
{
    size_t sizes[] = {4, 9};
    chunked_case("", sizes, 2, ";e=1", "X-T: 1\n", "\n", 50);
}

Test(h1_chunked, hex_forms)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "A\r\n0123456789\r\n"
                    "0000b\r\nabcdefghijk\r\n"
                    "1f\r\n0123456789abcdef0123456789ABCDE\r\n"
                    "000\r\n\r\n";
    const char *body = "0123456789abcdefghijk0123456789abcdef0123456789ABCDE";
    expect e = {.status = 200, .body = body, .body_len = strlen(body), .complete = 1,
                .keep_alive = 1, .eof = 1, .framing = SY_H1_CHUNKED};
    drive_all_str(s, &e);
}

/* A large chunked body in random pieces, as the network would cut it. */
Test(h1_chunked, large_random_pieces)
{
    bytes body = {0}, s = {0};
    sample_body(&body, 20000);
    size_t sizes[] = {1000, 1, 4095, 77, 8192, 3};
    b_str(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    encode_chunked(&s, body.p, body.len, sizes, 6, "", "", "\r\n");
    expect e = {.status = 200, .body = body.p, .body_len = body.len, .complete = 1,
                .keep_alive = 1, .eof = 1, .framing = SY_H1_CHUNKED};
    for (uint32_t seed = 1; seed <= 30; seed++) {
        drive_opts o = {.seed = seed, .max_piece = 1 + seed * 97};
        char how[64];
        snprintf(how, sizeof how, "seed %u", seed);
        drive_check(s.p, s.len, &o, &e, how);
    }
    drive_opts o = {.seed = 99, .max_piece = 300, .pause = 1, .take_max = 500};
    drive_check(s.p, s.len, &o, &e, "paused, slow");
    b_free(&body);
    b_free(&s);
}

/* The next answer's bytes are left after the last chunk and trailers. */
Test(h1_chunked, next_answer_left_over)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nok\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 200 OK\r\n";
    expect e = {.status = 200, .body = "ok", .body_len = 2, .complete = 1, .keep_alive = 1,
                .eof = 1, .framing = SY_H1_CHUNKED, .rest = "HTTP/1.1 200 OK\r\n"};
    drive_all_str(s, &e);
}

static void chunked_refused(const char *chunks, const char *error)
{
    bytes s = {0};
    b_str(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    b_str(&s, chunks);
    expect e = {.failed = 1, .error = error};
    drive_all(s.p, s.len, &e);
    b_free(&s);
}

Test(h1_chunked, bad_sizes_refused)
{
    const char *bad = "upstream sent a bad chunk size";
    chunked_refused("zz\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused(";ext\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("5x\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("-5\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("0x5\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused(" 5\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("5 5\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("5\r\r\nhello\r\n0\r\n\r\n", bad);
    chunked_refused("1000000000000000\r\n", bad); /* 16 hex digits */
    chunked_refused("5\r\nhello\r\nq\r\n", bad);   /* the second size */
}

Test(h1_chunked, endless_size_line_refused)
{
    bytes s = {0};
    b_str(&s, "5;");
    for (int i = 0; i < 2000; i++) b_add(&s, "e", 1);
    chunked_refused(s.p, "upstream sent a bad chunk size");
    b_str(&s, "\r\nhello\r\n0\r\n\r\n");
    chunked_refused(s.p, "upstream sent a bad chunk size");
    b_free(&s);
}

Test(h1_chunked, missing_crlf_after_data_refused)
{
    const char *bad = "upstream sent bad chunk framing";
    chunked_refused("5\r\nhelloX\r\n0\r\n\r\n", bad);
    chunked_refused("5\r\nhello0\r\n\r\n", bad);
    chunked_refused("5\r\nhello\rX0\r\n\r\n", bad);
    chunked_refused("3\r\nhello\r\n0\r\n\r\n", bad); /* the size too small */
}

Test(h1_chunked, endless_trailer_refused)
{
    bytes s = {0};
    b_str(&s, "0\r\nX-Long: ");
    for (int i = 0; i < 9000; i++) b_add(&s, "t", 1);
    drive_opts o = {.seed = 5, .max_piece = 1000};
    bytes a = {0};
    b_str(&a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    b_add(&a, s.p, s.len);
    expect e = {.failed = 1, .error = "upstream sent a trailer line too long"};
    drive_check(a.p, a.len, &o, &e, "random");
    o = (drive_opts){0};
    drive_check(a.p, a.len, &o, &e, "whole");
    b_free(&a);
    b_free(&s);
}

/* Cut anywhere before its last empty line, a chunked answer is not done. */
Test(h1_chunked, cut_anywhere_is_not_a_proper_end)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    size_t len = strlen(s);
    for (size_t cut = 0; cut < len; cut++) {
        for (size_t piece = 1; piece <= 3; piece++) {
            drive_res res;
            drive_opts o = {.piece = piece};
            drive(&res, s, cut, &o);
            cr_assert_eq(res.failed, 0, "cut at %zu", cut);
            cr_assert_eq(res.r.complete, 0, "cut at %zu", cut);
            cr_assert_eq(res.eof, 0, "cut at %zu: not a proper end", cut);
            cr_assert_leq(res.body.len, 11);
            cr_assert(memcmp(res.body.p ? res.body.p : "", "hello world", res.body.len) == 0,
                      "cut at %zu: the bytes so far", cut);
            res_free(&res);
        }
    }
    drive_res res;
    drive_opts o = {.piece = 1};
    drive(&res, s, len, &o);
    cr_assert_eq(res.eof, 1);
    cr_assert_str_eq(res.body.p, "hello world");
    res_free(&res);
}

/* ------------------------------------------------------------ framing choice */

Test(h1_framing, chunked_wins_over_length_and_closes)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n";
    expect e = {.status = 200, .body = "hello", .body_len = 5, .complete = 1, .keep_alive = 0,
                .eof = 1, .framing = SY_H1_CHUNKED};
    drive_all_str(s, &e);
    /* The other order. */
    const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n";
    drive_all_str(t, &e);
}

Test(h1_framing, transfer_codings)
{
    const char *heads[] = {
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: Chunked",
        "Transfer-Encoding: gzip,chunked ",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", /* one list over two lines */
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        char s[256];
        snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\n%s\r\n\r\n", heads[i]);
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, s), (ssize_t)strlen(s), "case %zu", i);
        cr_assert_eq(r.framing, SY_H1_CHUNKED, "case %zu: %s", i, heads[i]);
        cr_assert_eq(r.keep_alive, 1, "case %zu", i);
        sy_h1_free(&r);
    }
    /* Chunked not last (or absent): the body runs to the close. */
    const char *close[] = {
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
        "Transfer-Encoding: gzip\r\nContent-Length: 4",
    };
    for (size_t i = 0; i < sizeof close / sizeof *close; i++) {
        char s[256];
        snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\n%s\r\n\r\n", close[i]);
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, s), (ssize_t)strlen(s), "case %zu", i);
        cr_assert_eq(r.framing, SY_H1_CLOSE, "case %zu: %s", i, close[i]);
        cr_assert_eq(r.keep_alive, 0, "case %zu", i);
        sy_h1_free(&r);
    }
}

Test(h1_framing, close_delimited)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                    "everything\r\n0\r\n\r\nuntil the close";
    const char *body = "everything\r\n0\r\n\r\nuntil the close";
    expect e = {.status = 200, .body = body, .body_len = strlen(body), .complete = 1,
                .keep_alive = 0, .eof = 1, .framing = SY_H1_CLOSE};
    drive_all_str(s, &e);
    /* Connection: keep-alive does not make a close-delimited body reusable. */
    const char *k = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc";
    expect ek = {.status = 200, .body = "abc", .body_len = 3, .complete = 1, .keep_alive = 0,
                 .eof = 1, .framing = SY_H1_CLOSE};
    drive_all_str(k, &ek);
    /* An empty close-delimited body. */
    const char *z = "HTTP/1.0 200 OK\r\n\r\n";
    expect ez = {.status = 200, .complete = 1, .keep_alive = 0, .eof = 1,
                 .framing = SY_H1_CLOSE};
    drive_all_str(z, &ez);
}

Test(h1_framing, eof_before_or_in_the_head_is_a_cut)
{
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(sy_h1_eof(&r), 0, "nothing at all");
    cr_assert_eq(sy_h1_head(&r, "HTTP/1.1 200 OK\r\n", 17), 0);
    cr_assert_eq(sy_h1_eof(&r), 0, "half a head");
    sy_h1_free(&r);
}

/* ------------------------------------------------------------ keep-alive */

Test(h1_keepalive, rules)
{
    struct {
        const char *head;
        int keep;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: foo ,  close \r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nX-Connection: close\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0}, /* close-delimited */
        {"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sy_h1_resp r;
        sy_h1_init(&r);
        cr_assert_eq(head_once(&r, cases[i].head), (ssize_t)strlen(cases[i].head), "case %zu", i);
        cr_assert_eq(r.keep_alive, cases[i].keep, "case %zu: %s", i, cases[i].head);
        sy_h1_free(&r);
    }
}

/* ------------------------------------------------------------ a paused reader */

Test(h1_pause, chunked_same_data_until_taken)
{
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *rest = "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, head), (ssize_t)strlen(head));
    const char *p = rest;
    size_t n = strlen(rest), f;

    ssize_t d = sy_h1_body_next(&r, p, n, &f);
    cr_assert_eq(f, 3, "the size line eaten");
    cr_assert_eq(d, 5);
    cr_assert(memcmp(p + f, "hello", 5) == 0);
    p += f, n -= f;
    for (int i = 0; i < 3; i++) { /* paused: nothing taken */
        d = sy_h1_body_next(&r, p, n, &f);
        cr_assert_eq(f, 0);
        cr_assert_eq(d, 5);
        cr_assert(memcmp(p, "hello", 5) == 0);
    }
    sy_h1_body_took(&r, 2); /* part of it */
    p += 2, n -= 2;
    d = sy_h1_body_next(&r, p, n, &f);
    cr_assert_eq(f, 0);
    cr_assert_eq(d, 3);
    cr_assert(memcmp(p, "llo", 3) == 0);
    sy_h1_body_took(&r, 3);
    p += 3, n -= 3;

    d = sy_h1_body_next(&r, p, n, &f);
    cr_assert_eq(f, 5, "CRLF and the next size line");
    cr_assert_eq(d, 3);
    p += f, n -= f;
    d = sy_h1_body_next(&r, p, n, &f);
    cr_assert_eq(f, 0);
    cr_assert_eq(d, 3);
    cr_assert(memcmp(p, "abc", 3) == 0);
    sy_h1_body_took(&r, 3);
    p += 3, n -= 3;

    d = sy_h1_body_next(&r, p, n, &f);
    cr_assert_eq(d, 0);
    cr_assert_eq(f, n, "the rest is framing");
    cr_assert_eq(r.complete, 1);
    sy_h1_free(&r);
}

Test(h1_pause, length_same_data_until_taken)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n";
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, head), (ssize_t)strlen(head));
    size_t f;
    cr_assert_eq(sy_h1_body_next(&r, "abcdefNEXT", 10, &f), 6);
    cr_assert_eq(f, 0);
    cr_assert_eq(sy_h1_body_next(&r, "abcdefNEXT", 10, &f), 6, "paused: the same again");
    sy_h1_body_took(&r, 4);
    cr_assert_eq(r.complete, 0);
    cr_assert_eq(sy_h1_body_next(&r, "efNEXT", 6, &f), 2);
    sy_h1_body_took(&r, 2);
    cr_assert_eq(r.complete, 1);
    cr_assert_eq(sy_h1_body_next(&r, "NEXT", 4, &f), 0, "nothing past the length");
    sy_h1_free(&r);
}

Test(h1_pause, close_delimited_same_data_until_taken)
{
    const char *head = "HTTP/1.1 200 OK\r\n\r\n";
    sy_h1_resp r;
    sy_h1_init(&r);
    cr_assert_eq(head_once(&r, head), (ssize_t)strlen(head));
    size_t f;
    cr_assert_eq(sy_h1_body_next(&r, "abc", 3, &f), 3);
    cr_assert_eq(sy_h1_body_next(&r, "abc", 3, &f), 3);
    sy_h1_body_took(&r, 3);
    cr_assert_eq(sy_h1_body_next(&r, "", 0, &f), 0);
    cr_assert_eq(r.complete, 0);
    cr_assert_eq(sy_h1_eof(&r), 1);
    cr_assert_eq(r.complete, 1);
    sy_h1_free(&r);
}

/* ------------------------------------------------------------ a connection reused */

/* Two answers on one connection, one reader reset between them. */
Test(h1_reuse, two_answers_one_reader)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-N: 1\r\n\r\n"
                    "3\r\none\r\n0\r\n\r\n"
                    "HTTP/1.1 100 Continue\r\n\r\n"
                    "HTTP/1.1 404 Not Found\r\nX-N: 2\r\nContent-Length: 3\r\n\r\ntwo";
    drive_res res;
    drive_opts o = {.piece = 1};
    drive(&res, s, strlen(s), &o);
    cr_assert_eq(res.r.status, 200);
    cr_assert_str_eq(res.body.p, "one");
    cr_assert_str_eq(sy_h1_header(&res.r, "x-n"), "1");
    cr_assert_eq(res.r.keep_alive, 1);

    /* The second answer: what was left over, on the same reader. */
    sy_h1_resp *r = &res.r;
    sy_h1_reset(r);
    bytes buf = {0}, body = {0};
    b_add(&buf, res.rest.p, res.rest.len);
    int interims = 0;
    for (size_t n = 1;; n++) {
        cr_assert_leq(n, buf.len);
        ssize_t got = sy_h1_head(r, buf.p, n);
        cr_assert_geq(got, 0);
        if (got == 0) continue;
        b_eat(&buf, (size_t)got);
        if (r->head_done) break;
        interims++;
        n = 0;
    }
    cr_assert_eq(interims, 1);
    cr_assert_eq(r->status, 404);
    cr_assert_str_eq(sy_h1_header(r, "x-n"), "2");
    size_t f;
    ssize_t d = sy_h1_body_next(r, buf.p, buf.len, &f);
    cr_assert_eq(d, 3);
    b_add(&body, buf.p + f, (size_t)d);
    sy_h1_body_took(r, (size_t)d);
    cr_assert_eq(r->complete, 1);
    cr_assert_str_eq(body.p, "two");
    b_free(&buf);
    b_free(&body);
    res_free(&res);
}
