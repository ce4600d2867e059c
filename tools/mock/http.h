/*
 * http.h - the small HTTP/1.1 request parser of mock-upstream.
 *
 * Parses one request from the front of a buffer: request line, headers,
 * and a body framed by Content-Length or chunked encoding. Everything in
 * mock_req points into the caller's buffer, except a chunked body, which is
 * decoded into the caller's scratch buffer. Limits: head MOCK_MAX_HEAD bytes
 * (431), MOCK_MAX_HEADERS headers (431), body MOCK_MAX_BODY bytes (413).
 */
#ifndef MOCK_HTTP_H
#define MOCK_HTTP_H

#include <stddef.h>

#include "buf.h"

#define MOCK_MAX_HEAD (64 * 1024)
#define MOCK_MAX_HEADERS 100
#define MOCK_MAX_BODY (16 * 1024 * 1024)

typedef struct mock_req {
    const char *method;  size_t method_len;
    const char *path;    size_t path_len;   /* target without the query */
    const char *headers; size_t headers_len;/* raw header lines, request line excluded */
    const char *auth;    size_t auth_len;   /* Authorization value; NULL when absent */
    const char *body;    size_t body_len;
    int minor_version;   /* 0 or 1 */
    int keep_alive;      /* keep the connection after this request */
    int expect_continue; /* Expect: 100-continue was sent */
    int head_done;       /* the head is complete (set even when the body is not) */
} mock_req;

/* Returns the bytes the request used (> 0), 0 when more input is needed, or
 * minus the HTTP status to answer with (-400, -413, -431, -501, -505); *why
 * then names the problem. */
int mock_http_parse(const char *buf, size_t len, mock_req *r, mock_buf *chunked_body,
                    const char **why);

/* Case-insensitive compare of s[0..n) with the NUL-terminated lit. */
int mock_http_ieq(const char *s, size_t n, const char *lit);

#endif
