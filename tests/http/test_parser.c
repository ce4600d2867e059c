/*
 * test_parser.c - sy_http_parse_request: a table of good requests with what
 * they parse to, a table of bad ones with the status they get (every request
 * smuggling vector the parser guards against is here), limits, pipelining and
 * byte-by-byte feeding.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

/* Small limits so that the limit cases stay readable. */
static const sy_http_limits lim = {.max_head = 1024, .max_headers = 8, .max_body = 1000};

/* Parses a malloc'ed copy of exactly len bytes, so ASan sees any over-read. */
static int parse_copy(const char *raw, size_t len, const sy_http_limits *l,
                      sy_http_req *req, const char **why)
{
    char *b = malloc(len ? len : 1);
    cr_assert(b);
    memcpy(b, raw, len);
    int rc = sy_http_parse_request(b, len, l, req, why);
    free(b);
    return rc;
}

typedef struct good_case {
    const char *name;
    const char *raw;
    size_t body;            /* bytes after the head in raw */
    sy_http_method method;
    const char *path;
    int minor;
    int64_t content_length;
    int chunked, keep_alive, expect;
    size_t n_headers;
} good_case;

static const good_case good[] = {
    {"simple GET", "GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_GET, "/v1/models", 1, -1, 0, 1, 0, 1},
    {"POST with body", "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
     2, SY_HTTP_POST, "/v1/chat/completions", 1, 2, 0, 1, 0, 3},
    {"query split off the path", "GET /v1/models?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_GET, "/v1/models", 1, -1, 0, 1, 0, 1},
    {"HTTP/1.0 without Host, no keep-alive", "GET / HTTP/1.0\r\n\r\n",
     0, SY_HTTP_GET, "/", 0, -1, 0, 0, 0, 0},
    {"HTTP/1.0 keep-alive asked", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     0, SY_HTTP_GET, "/", 0, -1, 0, 1, 0, 1},
    {"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
     0, SY_HTTP_GET, "/", 0, -1, 0, 0, 0, 1},
    {"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
     0, SY_HTTP_GET, "/", 1, -1, 0, 0, 0, 2},
    {"Connection token list, any case", "GET / HTTP/1.1\r\nHost: a\r\n"
     "Connection: Upgrade ,\tCLOSE\r\n\r\n", 0, SY_HTTP_GET, "/", 1, -1, 0, 0, 0, 2},
    {"Connection: keep-alive in 1.1", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
     0, SY_HTTP_GET, "/", 1, -1, 0, 1, 0, 2},
    {"close in a second Connection header", "GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\n"
     "connection: close\r\n\r\n", 0, SY_HTTP_GET, "/", 1, -1, 0, 0, 0, 3},
    {"closed is not close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
     0, SY_HTTP_GET, "/", 1, -1, 0, 1, 0, 2},
    {"chunked", "POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     0, SY_HTTP_POST, "/v1/embeddings", 1, -1, 1, 1, 0, 2},
    {"CHUNKED any case, OWS trimmed", "POST / HTTP/1.1\r\nHost: a\r\n"
     "transfer-encoding:  ChUnKeD \t\r\n\r\n", 0, SY_HTTP_POST, "/", 1, -1, 1, 1, 0, 2},
    {"Expect: 100-continue", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
     "Expect: 100-Continue\r\n\r\n", 0, SY_HTTP_POST, "/", 1, 10, 0, 1, 1, 3},
    {"Expect ignored in HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 1\r\n"
     "Expect: 100-continue\r\n\r\nx", 1, SY_HTTP_POST, "/", 0, 1, 0, 0, 0, 2},
    {"other expectation ignored", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
     0, SY_HTTP_POST, "/", 1, -1, 0, 1, 0, 2},
    {"bare LF line ends", "GET /a HTTP/1.1\nHost: a\nX: y\n\n",
     0, SY_HTTP_GET, "/a", 1, -1, 0, 1, 0, 2},
    {"empty lines before the request line", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_GET, "/", 1, -1, 0, 1, 0, 1},
    {"absolute-form http", "GET hTTp://example.com:8080/v1/models?q HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_GET, "/v1/models", 1, -1, 0, 1, 0, 1},
    {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_OPTIONS, "*", 1, -1, 0, 1, 0, 1},
    {"empty value, obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n"
     "X-Text: caf\xc3\xa9 \t\r\n\r\n", 0, SY_HTTP_GET, "/", 1, -1, 0, 1, 0, 3},
    {"Content-Length 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
     0, SY_HTTP_POST, "/", 1, 0, 0, 1, 0, 2},
    {"Content-Length leading zeros", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0007\r\n\r\n",
     0, SY_HTTP_PUT, "/x", 1, 7, 0, 1, 0, 2},
    {"Content-Length exactly max_body",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n",
     0, SY_HTTP_POST, "/", 1, 1000, 0, 1, 0, 2},
    {"other methods", "PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_OTHER, "/x", 1, -1, 0, 1, 0, 1},
    {"methods are case-sensitive", "get / HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_OTHER, "/", 1, -1, 0, 1, 0, 1},
    {"DELETE, empty Host", "DELETE /a HTTP/1.1\r\nHost:\r\n\r\n",
     0, SY_HTTP_DELETE, "/a", 1, -1, 0, 1, 0, 1},
    {"IPv6 Host", "PATCH /a HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
     0, SY_HTTP_PATCH, "/a", 1, -1, 0, 1, 0, 1},
    {"HEAD", "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
     0, SY_HTTP_HEAD, "/healthz", 1, -1, 0, 1, 0, 1},
    {"exactly max_headers", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
     "E: 5\r\nF: 6\r\nG: 7\r\n\r\n", 0, SY_HTTP_GET, "/", 1, -1, 0, 1, 0, 8},
};

typedef struct bad_case {
    const char *name;
    const char *raw;
    size_t len;             /* 0: strlen(raw) */
    int status;
    const char *why_has;    /* when set: a word the reason must contain */
} bad_case;

#define H "GET / HTTP/1.1\r\nHost: a\r\n"
#define P "POST / HTTP/1.1\r\nHost: a\r\n"

static const bad_case bad[] = {
    /* request smuggling: body framing */
    {"CL and TE", P "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400, "both"},
    {"TE and CL", P "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, 400, "both"},
    {"two CL, equal", P "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, 400, "more than one"},
    {"two CL, different", P "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", 0, 400, NULL},
    {"CL with plus sign", P "Content-Length: +5\r\n\r\n", 0, 400, NULL},
    {"CL negative", P "Content-Length: -1\r\n\r\n", 0, 400, NULL},
    {"CL with inner space", P "Content-Length: 1 2\r\n\r\n", 0, 400, NULL},
    {"CL comma list", P "Content-Length: 5,5\r\n\r\n", 0, 400, NULL},
    {"CL comma list with space", P "Content-Length: 5, 5\r\n\r\n", 0, 400, NULL},
    {"CL hex", P "Content-Length: 0x10\r\n\r\n", 0, 400, NULL},
    {"CL non-digits", P "Content-Length: 5a\r\n\r\n", 0, 400, NULL},
    {"CL empty", P "Content-Length:   \r\n\r\n", 0, 400, NULL},
    {"CL overflows int64", P "Content-Length: 9223372036854775808\r\n\r\n", 0, 400, "overflow"},
    {"CL overflows uint64", P "Content-Length: 99999999999999999999999\r\n\r\n", 0, 400, NULL},
    {"CL above max_body", P "Content-Length: 1001\r\n\r\n", 0, 413, "too large"},
    {"CL huge but representable", P "Content-Length: 9223372036854775807\r\n\r\n", 0, 413, NULL},
    {"TE chunked, gzip", P "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, 400, "final"},
    {"TE chunked, chunked", P "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, 400, NULL},
    {"TE gzip, chunked", P "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, 501, NULL},
    {"TE xchunked", P "Transfer-Encoding: xchunked\r\n\r\n", 0, 501, "chunked is implemented"},
    {"TE chunkedx", P "Transfer-Encoding: chunkedx\r\n\r\n", 0, 501, NULL},
    {"TE identity", P "Transfer-Encoding: identity\r\n\r\n", 0, 501, NULL},
    {"TE chunked with parameter", P "Transfer-Encoding: chunked;q=1\r\n\r\n", 0, 501, NULL},
    {"TE empty", P "Transfer-Encoding: \r\n\r\n", 0, 400, NULL},
    {"TE empty list element", P "Transfer-Encoding: ,chunked\r\n\r\n", 0, 400, NULL},
    {"TE chunked + vertical tab", P "Transfer-Encoding: chunked\x0b\r\n\r\n", 0, 400, NULL},
    {"TE quoted", P "Transfer-Encoding: \"chunked\"\r\n\r\n", 0, 400, NULL},
    {"two TE headers", P "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     0, 400, NULL},
    {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400, "HTTP/1.0"},
    {"TE with space before colon", P "Transfer-Encoding : chunked\r\n\r\n", 0, 400, NULL},
    {"TE header obs-folded", P "Transfer-Encoding:\r\n chunked\r\n\r\n", 0, 400, NULL},
    /* header syntax */
    {"obs-fold", H "X: a\r\n b\r\n\r\n", 0, 400, "folding"},
    {"obs-fold with tab", H "X: a\r\n\tb\r\n\r\n", 0, 400, "folding"},
    {"space before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, 400, NULL},
    {"space before colon", H "X-A : b\r\n\r\n", 0, 400, "colon"},
    {"tab before colon", H "X-A\t: b\r\n\r\n", 0, 400, "colon"},
    {"NUL in header value", H "X: a\0b\r\n\r\n", sizeof(H "X: a\0b\r\n\r\n") - 1, 400, NULL},
    {"control char in header value", H "X: a\x01" "b\r\n\r\n", 0, 400, NULL},
    {"DEL in header value", H "X: a\x7f\r\n\r\n", 0, 400, NULL},
    {"bare CR in header value", H "X: a\rb\r\n\r\n", 0, 400, "bare CR"},
    {"bare CR line end", H "X: a\r\r\n\r\n", 0, 400, "bare CR"},
    {"CR CR LF at end of head", H "\r\r\n", 0, 400, NULL},
    {"header without colon", H "Foo\r\n\r\n", 0, 400, NULL},
    {"empty header name", H ": b\r\n\r\n", 0, 400, NULL},
    {"invalid header name char", H "X(Y): b\r\n\r\n", 0, 400, NULL},
    {"non-ASCII header name", H "X\xc3\xa9: b\r\n\r\n", 0, 400, NULL},
    /* Host */
    {"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 0, 400, "Host"},
    {"two Host headers", H "Host: b\r\n\r\n", 0, 400, "Host"},
    {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400, NULL},
    {"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, 400, NULL},
    /* request line */
    {"invalid method token", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n",
     sizeof("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n") - 1, 400, NULL},
    {"control char in target", "GET /a\x1b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"relative target", "GET v1/models HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"https absolute-form", "GET https://h/a HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"absolute-form without path", "GET http://h HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"absolute-form query, no path", "GET http://h?x HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"absolute-form empty authority", "GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"absolute-form userinfo", "GET http://u@h/a HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"* with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"HTTP/0.9 request line", "GET /\r\n\r\n", 0, 400, NULL},
    {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"short version", "GET / HTTP/1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"long version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"bare CR after version", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, 400, NULL},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, 505, "not supported"},
    {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, 505, NULL},
    {"HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 0, 505, NULL},
    {"bare CR before request line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400, NULL},
    {"TLS handshake on the plain port", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400,
     NULL},
    /* limits */
    {"one header too many", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
     "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n", 0, 431, "too many"},
};

static size_t bad_len(const bad_case *c)
{
    return c->len ? c->len : strlen(c->raw);
}

Test(http_parser, good_requests)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const good_case *c = &good[i];
        size_t len = strlen(c->raw);
        sy_http_req req;
        const char *why = NULL;
        char *b = malloc(len);
        memcpy(b, c->raw, len);
        int rc = sy_http_parse_request(b, len, &lim, &req, &why);
        cr_assert_eq(rc, (int)(len - c->body), "%s: rc %d (%s), want %zu", c->name, rc,
                     rc < 0 ? why : "", len - c->body);
        cr_expect_eq(req.head_len, (size_t)rc, "%s: head_len", c->name);
        cr_expect_eq(req.method, c->method, "%s: method", c->name);
        cr_expect_eq(req.path_len, strlen(c->path), "%s: path_len", c->name);
        cr_expect(memcmp(req.path, c->path, req.path_len) == 0, "%s: path", c->name);
        cr_expect(req.path >= req.target && req.path + req.path_len <= req.target +
                  req.target_len, "%s: path inside target", c->name);
        cr_expect_eq(req.minor_version, c->minor, "%s: minor", c->name);
        cr_expect_eq(req.content_length, c->content_length, "%s: content_length", c->name);
        cr_expect_eq(req.chunked, c->chunked, "%s: chunked", c->name);
        cr_expect_eq(req.keep_alive, c->keep_alive, "%s: keep_alive", c->name);
        cr_expect_eq(req.expect_continue, c->expect, "%s: expect_continue", c->name);
        cr_expect_eq(req.n_headers, c->n_headers, "%s: n_headers", c->name);
        free(b);
    }
}

Test(http_parser, bad_requests)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const bad_case *c = &bad[i];
        sy_http_req req;
        const char *why = NULL;
        int rc = parse_copy(c->raw, bad_len(c), &lim, &req, &why);
        cr_expect_eq(rc, -c->status, "%s: got %d, want %d", c->name, rc, -c->status);
        if (rc < 0) cr_expect(why && why[0], "%s: no reason given", c->name);
        if (rc < 0 && c->why_has)
            cr_expect(strstr(why, c->why_has), "%s: reason \"%s\" lacks \"%s\"", c->name, why,
                      c->why_has);
    }
}

/* Every prefix parses to "need more" or to exactly the whole buffer's answer,
 * so feeding a request one byte at a time ends where a single call does. */
static void feed_bytewise(const char *name, const char *raw, size_t len)
{
    sy_http_req whole, part;
    const char *why = NULL;
    int want = parse_copy(raw, len, &lim, &whole, &why);
    int first = 0;
    size_t at = 0;
    for (size_t k = 0; k <= len; k++) {
        int rc = parse_copy(raw, k, &lim, &part, &why);
        cr_assert(rc == 0 || rc == want, "%s: prefix %zu gives %d, whole gives %d",
                  name, k, rc, want);
        if (rc != 0 && !first) {
            first = rc;
            at = k;
        }
    }
    if (want > 0) cr_expect_eq(at, (size_t)want, "%s: complete only with the blank line", name);
}

Test(http_parser, byte_by_byte)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        feed_bytewise(good[i].name, good[i].raw, strlen(good[i].raw));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        feed_bytewise(bad[i].name, bad[i].raw, bad_len(&bad[i]));
}

Test(http_parser, errors_reported_before_the_head_ends)
{
    sy_http_req req;
    const char *why;
    /* a client speaking TLS or garbage is answered at once, not after 16 KiB */
    cr_expect_eq(parse_copy("\x16\x03\x01", 3, &lim, &req, &why), -400);
    const char *ctl = "GET / HTTP/1.1\r\nHost: a\r\nX: \x01";
    cr_expect_eq(parse_copy(ctl, strlen(ctl), &lim, &req, &why), -400);
    cr_expect_eq(parse_copy("GET / HTTP/x", 12, &lim, &req, &why), -400);
    cr_expect_eq(parse_copy("GET / HTTP/3", 12, &lim, &req, &why), 0, "may become HTTP/3.0");
    /* ...while a good prefix waits */
    cr_expect_eq(parse_copy("GET / HTTP/1.1\r\nHost: a\r\n\r", 26, &lim, &req, &why), 0);
    cr_expect_eq(parse_copy("", 0, &lim, &req, &why), 0);
}

Test(http_parser, pipelined_requests)
{
    const char *raw = "POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                      "GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    size_t len = strlen(raw), off = 0;
    sy_http_req req;
    const char *why;
    const char *paths[] = {"/v1/embeddings", "/v1/models", "/healthz"};
    for (int n = 0; n < 3; n++) {
        int rc = sy_http_parse_request(raw + off, len - off, &lim, &req, &why);
        cr_assert_gt(rc, 0, "request %d", n);
        cr_expect_eq(req.path_len, strlen(paths[n]));
        cr_expect(memcmp(req.path, paths[n], req.path_len) == 0);
        cr_expect_eq(req.keep_alive, n < 2);
        off += req.head_len + (req.content_length > 0 ? (size_t)req.content_length : 0);
    }
    cr_expect_eq(off, len);
}

Test(http_parser, head_size_limit)
{
    /* a head of exactly max_head bytes is fine, one byte more is 431 */
    char buf[1100];
    const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    size_t s = strlen(start);
    memcpy(buf, start, s);
    memset(buf + s, 'p', sizeof buf - s);
    size_t pad = lim.max_head - s - 4;
    memcpy(buf + s + pad, "\r\n\r\n", 4);
    sy_http_req req;
    const char *why = NULL;
    cr_expect_eq(sy_http_parse_request(buf, lim.max_head, &lim, &req, &why), (int)lim.max_head);
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, &lim, &req, &why), (int)lim.max_head);
    memcpy(buf + s + pad, "p\r\n\r\n", 5);
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, &lim, &req, &why), -431);
    cr_expect(why && strstr(why, "too large"));

    /* no blank line yet: 431 as soon as max_head bytes are there, not later */
    memset(buf + s, 'p', sizeof buf - s);
    cr_expect_eq(sy_http_parse_request(buf, lim.max_head - 1, &lim, &req, &why), 0);
    cr_expect_eq(sy_http_parse_request(buf, lim.max_head, &lim, &req, &why), -431);
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, &lim, &req, &why), -431);
    /* the cut falling between CR and LF */
    memcpy(buf + lim.max_head - 2, "\r\n", 2);
    cr_expect_eq(sy_http_parse_request(buf, lim.max_head, &lim, &req, &why), -431);
}

Test(http_parser, default_and_capped_limits)
{
    char buf[20000];
    const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    size_t s = strlen(start);
    memcpy(buf, start, s);
    memset(buf + s, 'p', sizeof buf - s);
    memcpy(buf + 16000, "\r\n\r\n", 4);
    sy_http_req req;
    const char *why;
    /* NULL limits and zero fields: 16 KiB head */
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, NULL, &req, &why), 16004);
    sy_http_limits zero = {0};
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, &zero, &req, &why), 16004);
    memset(buf + 16000, 'p', 4);
    memcpy(buf + 16380, "\r\n\r\n", 4);
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, NULL, &req, &why), 16384);
    memset(buf + 16380, 'p', 4);
    memcpy(buf + 16382, "\r\n\r\n", 4);
    cr_expect_eq(sy_http_parse_request(buf, sizeof buf, NULL, &req, &why), -431);

    /* default max_body 8 MiB */
    const char *big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8388609\r\n\r\n";
    const char *ok = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8388608\r\n\r\n";
    cr_expect_eq(sy_http_parse_request(big, strlen(big), NULL, &req, &why), -413);
    cr_expect_gt(sy_http_parse_request(ok, strlen(ok), NULL, &req, &why), 0);

    /* max_headers above the array size is capped at SY_HTTP_MAX_HEADERS */
    sy_http_limits many = {.max_head = 8192, .max_headers = 1000, .max_body = 10};
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < SY_HTTP_MAX_HEADERS; i++) n += (size_t)sprintf(buf + n, "H%d: v\r\n", i);
    size_t before_last = n;
    n += (size_t)sprintf(buf + n, "\r\n");
    cr_expect_eq(sy_http_parse_request(buf, n, &many, &req, &why), (int)n);
    cr_expect_eq(req.n_headers, SY_HTTP_MAX_HEADERS);
    n = before_last + (size_t)sprintf(buf + before_last, "Extra: v\r\n\r\n");
    cr_expect_eq(sy_http_parse_request(buf, n, &many, &req, &why), -431);
}

Test(http_parser, headers_point_into_the_buffer)
{
    const char *raw = "POST /v1/chat/completions?a=b HTTP/1.1\r\nHost:  api.example \r\n"
                      "Authorization: Bearer sk-x\r\nX-Request-Id:\tabc\t\r\n"
                      "Content-Length: 0\r\n\r\n";
    size_t len = strlen(raw);
    sy_http_req req;
    const char *why;
    cr_assert_eq(sy_http_parse_request(raw, len, &lim, &req, &why), (int)len);
    cr_expect_eq(req.method_len, 4);
    cr_expect(memcmp(req.method_str, "POST", 4) == 0);
    cr_expect_eq(req.target_len, strlen("/v1/chat/completions?a=b"));
    cr_expect(memcmp(req.target, "/v1/chat/completions?a=b", req.target_len) == 0);
    cr_assert_eq(req.n_headers, 4);
    for (size_t i = 0; i < req.n_headers; i++) {
        const sy_http_header *h = &req.headers[i];
        cr_expect(h->name >= raw && h->name + h->name_len <= raw + len);
        cr_expect(h->value >= raw && h->value + h->value_len <= raw + len);
    }
    const sy_http_header *h = sy_http_find_header(&req, "host");
    cr_assert(h);
    cr_expect_eq(h->value_len, strlen("api.example"));
    cr_expect(memcmp(h->value, "api.example", h->value_len) == 0);
    h = sy_http_find_header(&req, "x-request-id");
    cr_assert(h);
    cr_expect_eq(h->value_len, 3);
    cr_expect(memcmp(h->value, "abc", 3) == 0);
    h = sy_http_find_header(&req, "AUTHORIZATION");
    cr_assert(h);
    cr_expect(memcmp(h->name, "Authorization", h->name_len) == 0);
    cr_expect_null(sy_http_find_header(&req, "Authorizatio"));
    cr_expect_null(sy_http_find_header(&req, "x-missing"));
}

Test(http_parser, find_header_returns_the_first)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
    sy_http_req req;
    const char *why;
    cr_assert_gt(sy_http_parse_request(raw, strlen(raw), &lim, &req, &why), 0);
    const sy_http_header *h = sy_http_find_header(&req, "X-a");
    cr_assert(h);
    cr_expect_eq(h->value[0], '1');
}

Test(http_parser, why_may_be_null)
{
    const char *raw = "GET / HTTP/1.1\r\n\r\n";
    sy_http_req req;
    cr_expect_eq(sy_http_parse_request(raw, strlen(raw), &lim, &req, NULL), -400);
}
