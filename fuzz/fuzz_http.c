/*
 * fuzz_http.c - libFuzzer harness for the HTTP/1.1 request parser and the
 * chunked body decoder (router/http/http_parser.h).
 *
 * The input is a byte stream from a client: requests are parsed one after the
 * other with small limits (pipelining), each chunked body is decoded once
 * whole and once in splits derived from the input, and a stream that does not
 * start with a request but with a hex digit is decoded as a bare chunked body.
 * Every invariant the server relies on is checked with abort():
 *  - the head length is within the buffer and max_head; every pointer of the
 *    parsed request lies inside the head; path lies inside target;
 *  - Content-Length is -1 or within max_body, never together with chunked;
 *  - every prefix of the buffer parses to 0 or to what the whole one does;
 *  - the decoder never reports more output than input nor more than
 *    max_body in total, consumes all input when it asks for more, and gives
 *    the same data and result however its input is split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const sy_http_limits lim = {.max_head = 2048, .max_headers = 16, .max_body = 4096};

/* p[0..n) inside b[0..len) */
static int inside(const char *p, size_t n, const char *b, size_t len)
{
    uintptr_t x = (uintptr_t)p, s = (uintptr_t)b;
    return x >= s && n <= len && x - s <= len - n;
}

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int is_status(int rc)
{
    return rc == -400 || rc == -413 || rc == -431 || rc == -501 || rc == -505;
}

static void check_request(const char *buf, size_t len, int rc, const sy_http_req *r,
                          const char *why)
{
    if (rc <= 0) {
        CHECK(rc == 0 || is_status(rc));
        CHECK(rc == 0 || (why && why[0]));
        return;
    }
    size_t h = (size_t)rc;
    CHECK(h <= len && h <= lim.max_head && h == r->head_len);
    CHECK(r->n_headers <= lim.max_headers);
    CHECK(r->method_len > 0 && inside(r->method_str, r->method_len, buf, h));
    CHECK(r->target_len > 0 && inside(r->target, r->target_len, buf, h));
    CHECK(inside(r->path, r->path_len, r->target, r->target_len));
    CHECK(r->minor_version == 0 || r->minor_version == 1);
    CHECK(r->keep_alive == 0 || r->keep_alive == 1);
    CHECK(r->expect_continue == 0 || r->expect_continue == 1);
    CHECK(r->content_length >= -1 && r->content_length <= (int64_t)lim.max_body);
    CHECK(!(r->chunked && r->content_length >= 0));
    for (size_t i = 0; i < r->n_headers; i++) {
        const sy_http_header *hd = &r->headers[i];
        CHECK(hd->name_len > 0 && inside(hd->name, hd->name_len, buf, h));
        CHECK(inside(hd->value, hd->value_len, buf, h));
    }
    const sy_http_header *host = sy_http_find_header(r, "Host");
    CHECK(!host || (host >= r->headers && host < r->headers + r->n_headers));
    CHECK(r->minor_version == 0 || host);
}

/* Parses and checks an exact-size copy of buf[0..k), so ASan sees any read
 * past k. */
static int parse_prefix(const char *buf, size_t k)
{
    char *c = malloc(k ? k : 1);
    CHECK(c);
    if (k) memcpy(c, buf, k);
    sy_http_req r;
    const char *why = NULL;
    int rc = sy_http_parse_request(c, k, &lim, &r, &why);
    check_request(c, k, rc, &r, why);
    free(c);
    return rc;
}

typedef struct decoded {
    int rc;
    size_t consumed;
    size_t out;
    char *data;
} decoded;

/* Decodes in[0..len) in pieces; n_pieces 0 means one call. */
static decoded decode(const char *in, size_t len, uint64_t seed, int n_pieces)
{
    decoded d = {0, 0, 0, malloc(len ? len : 1)};
    CHECK(d.data);
    sy_chunked_decoder dec;
    sy_chunked_init(&dec, lim.max_body);
    size_t fed = 0;
    for (int p = 0;; p++) {
        size_t k = len - fed;
        if (p < n_pieces && k > 0) {
            uint64_t r = next_rand(&seed);
            k = (r & 3) == 0 ? (size_t)(r >> 8) % (k + 1) : (size_t)(r >> 8) % 4;
            if (k > len - fed) k = len - fed;
        }
        char *piece = malloc(k ? k : 1);
        CHECK(piece);
        if (k) memcpy(piece, in + fed, k);
        size_t consumed = (size_t)-1, out = (size_t)-1;
        const char *why = NULL;
        d.rc = sy_chunked_decode(&dec, piece, k, &consumed, &out, &why);
        CHECK(d.rc == 0 || d.rc == 1 || d.rc == -400 || d.rc == -413);
        CHECK(d.rc >= 0 || (why && why[0]));
        CHECK(out <= consumed && consumed <= k);
        CHECK(dec.total <= lim.max_body);
        CHECK(d.out + out <= len);
        memcpy(d.data + d.out, piece, out);
        free(piece);
        d.out += out;
        if (d.rc != 0) {
            d.consumed = fed + consumed;
            break;
        }
        CHECK(consumed == k);
        fed += k;
        if (fed == len) {
            d.consumed = fed;
            break;
        }
    }
    CHECK(d.out == dec.total);
    /* once finished or refused, the decoder stays so */
    if (d.rc != 0) {
        char one = 'x';
        size_t consumed = 1, out = 1;
        const char *why = NULL;
        CHECK(sy_chunked_decode(&dec, &one, 1, &consumed, &out, &why) == d.rc);
        CHECK(consumed == 0 && out == 0 && (d.rc > 0 || (why && why[0])));
    }
    return d;
}

/* Decodes a chunked body whole and split; returns its length when complete,
 * or 0 when it is incomplete or refused. */
static size_t check_chunked(const char *body, size_t len, uint64_t seed)
{
    decoded a = decode(body, len, seed, 0);
    for (int round = 0; round < 2; round++) {
        decoded b = decode(body, len, seed + (uint64_t)round * 0x9e3779b97f4a7c15ull,
                           round ? 64 : 1024);
        CHECK(a.rc == b.rc && a.consumed == b.consumed && a.out == b.out);
        CHECK(memcmp(a.data, b.data, a.out) == 0);
        free(b.data);
    }
    free(a.data);
    return a.rc == 1 ? a.consumed : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint64_t seed = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++) seed = (seed ^ data[i]) * 0x100000001b3ull;
    seed |= 1;

    size_t off = 0;
    for (int n = 0; n < 8 && off < size; n++) {
        const char *b = buf + off;
        size_t len = size - off;
        sy_http_req req;
        const char *why = NULL;
        int rc = sy_http_parse_request(b, len, &lim, &req, &why);
        check_request(b, len, rc, &req, why);

        /* prefixes: 0 or the same answer; complete exactly at the head end */
        for (int i = 0; i < 6; i++) {
            size_t k = (size_t)(next_rand(&seed) % (len + 1));
            int prc = parse_prefix(b, k);
            if (rc > 0) CHECK(k < (size_t)rc ? prc == 0 : prc == rc);
            else CHECK(prc == 0 || prc == rc);
        }

        if (rc <= 0) {
            /* not a request but maybe a bare chunked body: fuzz the decoder alone */
            unsigned c0 = len ? data[0] : 0;
            if (n == 0 && rc < 0 && ((c0 | 0x20) - 'a' < 6u || c0 - '0' < 10u))
                check_chunked(b, len, seed);
            break;
        }
        off += (size_t)rc;
        if (req.chunked) {
            size_t used = check_chunked(buf + off, size - off, seed);
            if (!used) break;
            off += used;
        } else if (req.content_length > 0) {
            if ((uint64_t)req.content_length > size - off) break;
            off += (size_t)req.content_length;
        }
    }
    return 0;
}
