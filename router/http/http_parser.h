/*
 * http_parser.h - a small, strict HTTP/1.1 request parser.
 *
 * It parses only what the router needs and refuses anything ambiguous, since
 * an ambiguous request is how request smuggling starts:
 *  - request line "METHOD SP TARGET SP HTTP/1.x CRLF"; bare LF line endings are
 *    accepted only as the whole line terminator, never a lone CR;
 *  - header names are tokens; whitespace before the colon is refused;
 *    obs-fold (a line starting with SP/HT) is refused;
 *  - Content-Length: digits only, no sign, no list; two of them are refused
 *    even when equal; above max_body gives 413;
 *  - Transfer-Encoding: only "chunked" (case-insensitive) is accepted, and
 *    together with Content-Length is refused; any other coding gives 501;
 *  - HTTP/1.0 is accepted (keep-alive only when asked for); other versions 505;
 *  - header count, line length and total head size are limited (431).
 * The parser never allocates: the parsed request points into the caller's buffer.
 */
#ifndef SY_HTTP_PARSER_H
#define SY_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define SY_HTTP_MAX_HEADERS 64

typedef enum sy_http_method {
    SY_HTTP_OTHER = 0, SY_HTTP_GET, SY_HTTP_HEAD, SY_HTTP_POST, SY_HTTP_PUT,
    SY_HTTP_DELETE, SY_HTTP_OPTIONS, SY_HTTP_PATCH,
} sy_http_method;

typedef struct sy_http_limits {
    size_t max_head;        /* request line + headers, bytes; default 16 KiB */
    size_t max_headers;     /* <= SY_HTTP_MAX_HEADERS */
    uint64_t max_body;      /* Content-Length / decoded chunked size limit */
} sy_http_limits;

typedef struct sy_http_header {
    const char *name;  size_t name_len;
    const char *value; size_t value_len; /* surrounding whitespace trimmed */
} sy_http_header;

typedef struct sy_http_request {
    sy_http_method method;
    const char *method_str; size_t method_len;
    const char *target;     size_t target_len;  /* as sent, e.g. "/v1/models?x=1" */
    const char *path;       size_t path_len;    /* target without the query */
    int minor_version;      /* 0 or 1 */
    sy_http_header headers[SY_HTTP_MAX_HEADERS];
    size_t n_headers;
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding: chunked */
    int keep_alive;         /* after this request, per version and Connection */
    int expect_continue;    /* Expect: 100-continue */
    size_t head_len;        /* bytes of request line + headers + blank line */
} sy_http_request;

/* Parse result codes: > 0 is the head length consumed; 0 means more bytes are
 * needed; < 0 is minus the HTTP status to answer with (-400, -413, -431, -501,
 * -505). When an error is returned, *why (if not NULL) points at a static
 * message for the error body. */
int sy_http_parse_request(const char *buf, size_t len, const sy_http_limits *lim,
                          sy_http_request *req, const char **why);

/* The first header with this name (case-insensitive), or NULL. */
const sy_http_header *sy_http_find_header(const sy_http_request *req, const char *name);

/* Incremental, in-place decoder for a chunked body. */
typedef struct sy_chunked_decoder {
    int state;
    uint64_t chunk_left;
    uint64_t total;         /* decoded bytes so far */
    uint64_t max_body;
    size_t line_len;        /* bytes seen of the current size/trailer line */
} sy_chunked_decoder;

void sy_chunked_init(sy_chunked_decoder *d, uint64_t max_body);
/* Decode from buf[0..len). Decoded data is moved to the front of buf;
 * *out_len is how many decoded bytes are there; *consumed how many input bytes
 * were used. Returns 1 when the last chunk and trailers are complete, 0 when
 * more input is needed, or a negative HTTP status (-400 bad chunking, -413
 * too large) with *why set. */
int sy_chunked_decode(sy_chunked_decoder *d, char *buf, size_t len, size_t *consumed,
                      size_t *out_len, const char **why);

#endif
