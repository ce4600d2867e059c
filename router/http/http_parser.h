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
 *
 * NOTE: the parsed client request is sy_http_req (not sy_http_request, which is
 * the plugin ABI's upstream request in switchyard/plugin.h).
 *
 * Details (the parser's own decisions where the RFCs leave a choice):
 *  - limits: lim may be NULL, and a zero field takes its default: max_head
 *    16 KiB, max_headers SY_HTTP_MAX_HEADERS, max_body 8 MiB. max_headers is
 *    capped at SY_HTTP_MAX_HEADERS and max_head at INT_MAX. A line is limited
 *    only by max_head. Only the first max_head bytes are ever read; once that
 *    many bytes are there without a complete head the answer is 431 at once.
 *  - empty lines before the request line are skipped (RFC 9112 2.2) and
 *    counted in head_len; exactly one SP between the request-line parts.
 *  - method: a token, compared case-sensitively (SY_HTTP_OTHER otherwise).
 *  - request target: visible ASCII except '#' (no controls, space, DEL or
 *    bytes >= 0x80). Forms: origin "/path?query"; "*" with OPTIONS only;
 *    absolute "http://authority/path?query" (scheme case-insensitive, non-empty
 *    authority without userinfo, then a path): path then points at "/path" in
 *    the target and the authority is ignored (the router does not route by
 *    host). https://, authority-form (CONNECT) and anything else give 400.
 *  - field values: HT, SP, VCHAR and obs-text; NUL, other controls and DEL give
 *    400. A CR anywhere in the head must be followed by LF.
 *  - Host: required in HTTP/1.1, at most one, host/authority characters only.
 *  - Transfer-Encoding: exactly "chunked" (case-insensitive, OWS trimmed) is
 *    accepted. Two Transfer-Encoding headers, one in an HTTP/1.0 request, an
 *    empty or malformed value, or a list where chunked is not once and last
 *    ("chunked, gzip", "chunked, chunked") give 400; any other well-formed
 *    coding list ("gzip, chunked", "xchunked", "identity") gives 501.
 *  - Content-Length overflowing int64 gives 400, like any other malformed one.
 *  - Connection is read as a case-insensitive token list ("close" wins over
 *    "keep-alive"); Expect: 100-continue counts only in HTTP/1.1.
 *  - Errors found in the head as far as it has arrived are reported at once;
 *    checks that need the whole head (missing Host, CL with TE, 413) run at
 *    the blank line. So every prefix of a buffer parses to 0 or to exactly
 *    what the whole buffer parses to.
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

typedef struct sy_http_req {
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
} sy_http_req;

/* Parse result codes: > 0 is the head length consumed; 0 means more bytes are
 * needed; < 0 is minus the HTTP status to answer with (-400, -413, -431, -501,
 * -505). When an error is returned, *why (if not NULL) points at a static
 * message for the error body.
 * No state is kept between calls: after 0, call again with the same buffer
 * grown (req is rewritten; its contents are meaningful only after a result
 * > 0). Each call reads the head from its start, so a caller that gets the
 * head in many small pieces may skip the call until a new LF has arrived.
 * The body (content_length bytes, or chunked) starts at buf + head_len; a
 * pipelined next request starts after it. */
int sy_http_parse_request(const char *buf, size_t len, const sy_http_limits *lim,
                          sy_http_req *req, const char **why);

/* The first header with this name (case-insensitive), or NULL. */
const sy_http_header *sy_http_find_header(const sy_http_req *req, const char *name);

/* Incremental, in-place decoder for a chunked body. The framing must use
 * CRLF (a bare LF or CR is 400). Chunk sizes are hex with overflow checks;
 * extensions are skipped but a size line (digits, BWS, extensions) is limited
 * to SY_CHUNKED_LINE_MAX bytes; trailer fields are skipped, the whole trailer
 * section limited to SY_CHUNKED_TRAILER_MAX bytes. All framing bytes together
 * may not exceed SY_CHUNKED_OVERHEAD_BASE + 8 * decoded bytes (so endless
 * extensions or leading zeros around tiny chunks are refused with 400). */
#define SY_CHUNKED_LINE_MAX 1024
#define SY_CHUNKED_TRAILER_MAX 8192
#define SY_CHUNKED_OVERHEAD_BASE 16384

typedef struct sy_chunked_decoder {
    int state;              /* internal; negative (-status) once refused */
    uint64_t chunk_left;
    uint64_t total;         /* decoded bytes so far */
    uint64_t max_body;
    size_t line_len;        /* bytes seen of the current size line / trailer section */
    uint64_t overhead;      /* framing bytes seen so far */
} sy_chunked_decoder;

void sy_chunked_init(sy_chunked_decoder *d, uint64_t max_body);
/* Decode from buf[0..len). Decoded data is moved to the front of buf;
 * *out_len is how many decoded bytes are there; *consumed how many input bytes
 * were used. Returns 1 when the last chunk and trailers are complete, 0 when
 * more input is needed, or a negative HTTP status (-400 bad chunking, -413
 * too large) with *why set.
 * Clarifications: max_body 0 in sy_chunked_init means the 8 MiB default.
 * With 0, all input is consumed (*consumed == len): partial size lines are
 * kept in the decoder, so the next call gets only new bytes, and the caller
 * may put them right after the decoded data (buf + *out_len). With 1,
 * *consumed ends just after the final CRLF; bytes after it (a pipelined
 * request) are untouched. On error, *consumed is the position just after the
 * offending byte and *out_len the data decoded before it. Out of
 * buf[*out_len..*consumed) nothing is meaningful. Feeding the body in any
 * split gives the same data and result as one call. After 1, further calls
 * return 1 consuming nothing; after an error, they return the same error. */
int sy_chunked_decode(sy_chunked_decoder *d, char *buf, size_t len, size_t *consumed,
                      size_t *out_len, const char **why);

#endif
