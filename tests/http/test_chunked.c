/*
 * test_chunked.c - sy_chunked_decode: good and bad bodies, limits, and the
 * same body fed whole, one byte at a time and in random splits, which must all
 * give the same data and result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

typedef struct result {
    int rc;
    char *data;         /* decoded bytes (malloc'ed) */
    size_t data_len;
    size_t consumed;    /* input bytes used in total */
    const char *why;
} result;

/* Feeds in[0..len) in pieces of the given sizes (the last piece takes the
 * rest), the way the server does: each piece is placed right after the data
 * decoded so far and decoded in place there. */
static result feed(const char *in, size_t len, uint64_t max_body, const size_t *pieces,
                   size_t n_pieces)
{
    result r = {0};
    char *buf = malloc(len + 1);
    cr_assert(buf);
    sy_chunked_decoder d;
    sy_chunked_init(&d, max_body);
    size_t fed = 0, dlen = 0;
    for (size_t p = 0;; p++) {
        size_t k = p < n_pieces ? pieces[p] : len - fed;
        if (k > len - fed) k = len - fed;
        /* an exact-size copy so ASan sees any read past the piece */
        char *piece = malloc(k ? k : 1);
        memcpy(piece, in + fed, k);
        size_t consumed = 0, out = 0;
        r.rc = sy_chunked_decode(&d, piece, k, &consumed, &out, &r.why);
        cr_assert_leq(out, consumed);
        cr_assert_leq(consumed, k);
        memcpy(buf + dlen, piece, out);
        free(piece);
        dlen += out;
        cr_assert_leq(d.total, max_body ? max_body : 8u << 20);
        if (r.rc != 0) {
            r.consumed = fed + consumed;
            break;
        }
        cr_assert_eq(consumed, k, "0 returned but input left over");
        fed += k;
        if (fed == len) {
            r.consumed = fed;
            break;
        }
    }
    r.data = buf;
    r.data_len = dlen;
    return r;
}

static result whole(const char *in, size_t len, uint64_t max_body)
{
    return feed(in, len, max_body, NULL, 0);
}

typedef struct body_case {
    const char *name;
    const char *in;
    int rc;
    const char *data;   /* expected decoded data (rc 1, or the part before an error) */
    size_t rest;        /* bytes left after the body (rc 1) */
} body_case;

#define BIG_MAX 1000

static const body_case cases[] = {
    {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1, "hello world", 0},
    {"single chunk", "b\r\nhello world\r\n0\r\n\r\n", 1, "hello world", 0},
    {"empty body", "0\r\n\r\n", 1, "", 0},
    {"upper-case hex, leading zeros", "00A\r\n0123456789\r\n000\r\n\r\n", 1, "0123456789", 0},
    {"extensions", "5;name=value\r\nhello\r\n1 ;a;b=\"q s\"\t\r\n!\r\n0;last\r\n\r\n", 1,
     "hello!", 0},
    {"trailers skipped", "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nY:\r\n\r\n", 1, "abc", 0},
    {"next request left alone", "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 1, "abc", 16},
    {"CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 1, "\r\n\r\n", 0},
    {"exactly max_body", "3e8\r\n" /* 1000 bytes follow in the test */, 1, NULL, 0},
    {"bare LF after size", "5\nhello\r\n0\r\n\r\n", -400, "", 0},
    {"bare CR after size", "5\rhello\r\n0\r\n\r\n", -400, "", 0},
    {"no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", -400, "hello", 0},
    {"junk instead of CR after data", "5\r\nhelloX\n0\r\n\r\n", -400, "hello", 0},
    {"LF only after data", "5\r\nhello\n0\r\n\r\n", -400, "hello", 0},
    {"data longer than size", "3\r\nhello\r\n0\r\n\r\n", -400, "hel", 0},
    {"empty size", "\r\nhello\r\n", -400, "", 0},
    {"non-hex size", "g\r\n", -400, "", 0},
    {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", -400, "", 0},
    {"negative size", "-5\r\nhello\r\n", -400, "", 0},
    {"plus sign", "+5\r\nhello\r\n", -400, "", 0},
    {"space before size", " 5\r\nhello\r\n", -400, "", 0},
    {"space inside size", "5 5\r\nhello\r\n", -400, "", 0},
    {"space after size without extension", "5 \r\nhello\r\n0\r\n\r\n", -400, "", 0},
    {"control char in extension", "5;a\x01\r\nhello\r\n", -400, "", 0},
    {"bare LF after last chunk", "0\n\r\n", -400, "", 0},
    {"bare LF ending the body", "0\r\n\n", -400, "", 0},
    {"bare LF in trailer", "0\r\nX: 1\n\r\n", -400, "", 0},
    {"obs-fold in trailer", "0\r\nX: 1\r\n y\r\n\r\n", -400, "", 0},
    {"NUL in trailer", "0\r\nX: \0\r\n\r\n", -400, "", 0},
    {"CR CR at the end", "0\r\n\r\r\n", -400, "", 0},
    {"chunk above max_body", "3e9\r\n", -413, "", 0},
    {"sum above max_body", "200\r\n", -413, NULL, 0},  /* built in the test */
    {"size overflowing 64 bits", "10000000000000000\r\n", -400, "", 0},
};

/* Some cases need long inputs; they are built here. */
static char *case_input(const body_case *c, size_t *len, uint64_t *max_body)
{
    *max_body = BIG_MAX;
    char *s = malloc(4096);
    cr_assert(s);
    size_t n = 0;
    if (strcmp(c->name, "exactly max_body") == 0) {
        n += (size_t)sprintf(s, "3e8\r\n");
        memset(s + n, 'x', 1000);
        n += 1000;
        n += (size_t)sprintf(s + n, "\r\n0\r\n\r\n");
    } else if (strcmp(c->name, "sum above max_body") == 0) {
        n += (size_t)sprintf(s, "1f4\r\n");
        memset(s + n, 'y', 500);
        n += 500;
        n += (size_t)sprintf(s + n, "\r\n1f4\r\n");
        memset(s + n, 'y', 500);
        n += 500;
        n += (size_t)sprintf(s + n, "\r\n1\r\nz\r\n0\r\n\r\n");
    } else if (strcmp(c->name, "size overflowing 64 bits") == 0) {
        *max_body = UINT64_MAX;
        n = strlen(c->in);
        memcpy(s, c->in, n);
    } else {
        n = strcmp(c->name, "NUL in trailer") == 0 ? 11 : strlen(c->in);
        memcpy(s, c->in, n);
    }
    *len = n;
    return s;
}

static void check_case(const body_case *c, const char *in, size_t len, const result *r)
{
    cr_expect_eq(r->rc, c->rc, "%s: rc %d (%s), want %d", c->name, r->rc,
                 r->why ? r->why : "", c->rc);
    if (r->rc < 0) cr_expect(r->why && r->why[0], "%s: no reason", c->name);
    if (c->rc == 1) cr_expect_eq(r->consumed, len - c->rest, "%s: consumed", c->name);
    if (c->data) {
        cr_expect_eq(r->data_len, strlen(c->data), "%s: decoded length", c->name);
        cr_expect(memcmp(r->data, c->data, r->data_len) == 0, "%s: decoded data", c->name);
    }
    (void)in;
}

Test(http_chunked, table_whole_buffer)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint64_t max_body;
        char *in = case_input(&cases[i], &len, &max_body);
        result r = whole(in, len, max_body);
        check_case(&cases[i], in, len, &r);
        free(r.data);
        free(in);
    }
}

Test(http_chunked, exactly_and_above_max_body)
{
    size_t len;
    uint64_t max_body;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, "exactly max_body") == 0) {
            char *in = case_input(&cases[i], &len, &max_body);
            result r = whole(in, len, max_body);
            cr_expect_eq(r.rc, 1);
            cr_expect_eq(r.data_len, 1000);
            free(r.data);
            free(in);
        }
        if (strcmp(cases[i].name, "sum above max_body") == 0) {
            char *in = case_input(&cases[i], &len, &max_body);
            result r = whole(in, len, max_body);
            cr_expect_eq(r.rc, -413);
            cr_expect_eq(r.data_len, 1000, "the first 1000 bytes were decoded");
            free(r.data);
            free(in);
        }
    }
}

static void compare(const char *name, const result *a, const result *b, const char *how)
{
    cr_assert_eq(a->rc, b->rc, "%s (%s): rc %d vs %d", name, how, a->rc, b->rc);
    cr_assert_eq(a->consumed, b->consumed, "%s (%s): consumed", name, how);
    cr_assert_eq(a->data_len, b->data_len, "%s (%s): decoded length", name, how);
    cr_assert(memcmp(a->data, b->data, a->data_len) == 0, "%s (%s): decoded data", name, how);
}

Test(http_chunked, one_byte_at_a_time)
{
    static size_t ones[8192];
    for (size_t i = 0; i < sizeof ones / sizeof ones[0]; i++) ones[i] = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint64_t max_body;
        char *in = case_input(&cases[i], &len, &max_body);
        cr_assert_leq(len, sizeof ones / sizeof ones[0]);
        result a = whole(in, len, max_body);
        result b = feed(in, len, max_body, ones, len);
        compare(cases[i].name, &a, &b, "byte by byte");
        free(a.data);
        free(b.data);
        free(in);
    }
}

Test(http_chunked, random_splits)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t pieces[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint64_t max_body;
        char *in = case_input(&cases[i], &len, &max_body);
        result a = whole(in, len, max_body);
        for (int round = 0; round < 200; round++) {
            size_t n = 0;
            for (; n < 64; n++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                /* mostly small pieces, sometimes empty ones, sometimes large */
                size_t r = (size_t)(x >> 32);
                pieces[n] = r % 8 == 0 ? 0 : r % 8 == 1 ? r % 700 : r % 9;
            }
            result b = feed(in, len, max_body, pieces, n);
            compare(cases[i].name, &a, &b, "random split");
            free(b.data);
        }
        free(a.data);
        free(in);
    }
}

Test(http_chunked, errors_are_sticky_and_done_is_final)
{
    sy_chunked_decoder d;
    size_t consumed, out;
    const char *why = NULL;
    char bad[] = "zz\r\n";
    sy_chunked_init(&d, 100);
    cr_expect_eq(sy_chunked_decode(&d, bad, 4, &consumed, &out, &why), -400);
    cr_expect_eq(consumed, 1, "stops just after the offending byte");
    char good[] = "0\r\n\r\n";
    cr_expect_eq(sy_chunked_decode(&d, good, 5, &consumed, &out, &why), -400);

    char body[] = "2\r\nab\r\n0\r\n\r\nXY";
    sy_chunked_init(&d, 100);
    cr_expect_eq(sy_chunked_decode(&d, body, sizeof body - 1, &consumed, &out, &why), 1);
    cr_expect_eq(consumed, sizeof body - 3);
    cr_expect_eq(out, 2);
    cr_expect(memcmp(body, "ab", 2) == 0);
    cr_expect(memcmp(body + consumed, "XY", 2) == 0, "bytes after the body untouched");
    cr_expect_eq(d.total, 2);
    cr_expect_eq(sy_chunked_decode(&d, body + consumed, 2, &consumed, &out, &why), 1);
    cr_expect_eq(consumed, 0);
    cr_expect_eq(out, 0);
}

Test(http_chunked, default_max_body)
{
    sy_chunked_decoder d;
    size_t consumed, out;
    const char *why;
    sy_chunked_init(&d, 0);
    char ok[] = "800000\r\n";   /* 8 MiB exactly: accepted */
    cr_expect_eq(sy_chunked_decode(&d, ok, 8, &consumed, &out, &why), 0);
    sy_chunked_init(&d, 0);
    char big[] = "800001\r\n";
    cr_expect_eq(sy_chunked_decode(&d, big, 8, &consumed, &out, &why), -413);
}

Test(http_chunked, extension_and_trailer_limits)
{
    char *buf = malloc(40000);
    cr_assert(buf);
    size_t n, consumed, out;
    const char *why;
    sy_chunked_decoder d;

    /* a size line of SY_CHUNKED_LINE_MAX bytes passes, one more does not */
    for (int extra = 0; extra < 2; extra++) {
        n = (size_t)sprintf(buf, "1;");
        memset(buf + n, 'e', SY_CHUNKED_LINE_MAX - n + (size_t)extra);
        n = SY_CHUNKED_LINE_MAX + (size_t)extra;
        n += (size_t)sprintf(buf + n, "\r\nx\r\n0\r\n\r\n");
        sy_chunked_init(&d, 100);
        cr_expect_eq(sy_chunked_decode(&d, buf, n, &consumed, &out, &why), extra ? -400 : 1);
    }
    /* leading zeros count too */
    memset(buf, '0', SY_CHUNKED_LINE_MAX + 1);
    sy_chunked_init(&d, 100);
    cr_expect_eq(sy_chunked_decode(&d, buf, SY_CHUNKED_LINE_MAX + 1, &consumed, &out, &why),
                 -400);

    /* trailers: SY_CHUNKED_TRAILER_MAX bytes in all (final CRLF included) */
    for (int extra = 0; extra < 2; extra++) {
        n = (size_t)sprintf(buf, "0\r\n");
        size_t start = n;
        while (n - start + 1000 < SY_CHUNKED_TRAILER_MAX) {
            n += (size_t)sprintf(buf + n, "X-T: ");
            memset(buf + n, 't', 993);
            n += 993;
            n += (size_t)sprintf(buf + n, "\r\n");
        }
        size_t fill = SY_CHUNKED_TRAILER_MAX - (n - start) - 4 + (size_t)extra;
        n += (size_t)sprintf(buf + n, "Y:");
        memset(buf + n, 'u', fill - 2);
        n += fill - 2;
        n += (size_t)sprintf(buf + n, "\r\n\r\n");
        cr_assert_eq(n - start, SY_CHUNKED_TRAILER_MAX + (size_t)extra);
        sy_chunked_init(&d, 100);
        cr_expect_eq(sy_chunked_decode(&d, buf, n, &consumed, &out, &why), extra ? -400 : 1);
    }

    /* tiny chunks wrapped in long extensions: refused long before max_body */
    n = 0;
    while (n < 39000) {
        n += (size_t)sprintf(buf + n, "1;");
        memset(buf + n, 'e', 500);
        n += 500;
        n += (size_t)sprintf(buf + n, "\r\nx\r\n");
    }
    sy_chunked_init(&d, 1000000);
    cr_expect_eq(sy_chunked_decode(&d, buf, n, &consumed, &out, &why), -400);
    cr_expect(why && strstr(why, "overhead"), "%s", why);
    cr_expect_lt(consumed, 20000);

    /* ...while many small plain chunks are fine */
    n = 0;
    for (int i = 0; i < 4000; i++) n += (size_t)sprintf(buf + n, "2\r\nab\r\n");
    n += (size_t)sprintf(buf + n, "0\r\n\r\n");
    sy_chunked_init(&d, 1000000);
    cr_expect_eq(sy_chunked_decode(&d, buf, n, &consumed, &out, &why), 1);
    cr_expect_eq(out, 8000);
    free(buf);
}
