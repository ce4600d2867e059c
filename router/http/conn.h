/*
 * conn.h - one client connection on a worker's event loop, and the ways a
 * handler answers on it.
 *
 * A connection reads and parses one request at a time (pipelined requests wait
 * in the input buffer), hands it to sy_route_request(), and moves on to the
 * next request once the handler has finished its answer (sy_conn_respond or
 * sy_conn_stream_end). A handler that answers later (a proxied request) sets
 * sy_conn_set_pending() with an abort callback, called if the client goes away
 * first; after the abort callback the handler must not touch the connection.
 */
#ifndef SY_CONN_H
#define SY_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "http_parser.h"

typedef struct sy_conn sy_conn;
typedef struct sy_worker sy_worker;

/* Called by the connection once a request is complete. body is decoded and
 * NUL-terminated; it and req's pointers are valid only during the call (copy
 * what an asynchronous answer needs). */
void sy_route_request(sy_conn *c, const sy_http_req *req, char *body, size_t body_len);

/* Answer in one go. extra_headers: preformatted "Name: value\r\n" lines or NULL. */
void sy_conn_respond(sy_conn *c, int status, const char *content_type, const char *extra_headers,
                     const char *body, size_t body_len);
/* An OpenAI error envelope {"error":{"message","type","code"}} with this status. */
void sy_conn_respond_error(sy_conn *c, int status, const char *type, const char *code,
                           const char *extra_headers, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Streaming answers (chunked for HTTP/1.1, close-delimited for HTTP/1.0). */
void sy_conn_stream_begin(sy_conn *c, int status, const char *content_type,
                          const char *extra_headers);
void sy_conn_stream_write(sy_conn *c, const char *data, size_t len);
void sy_conn_stream_end(sy_conn *c);

/* The request in progress will be answered later. abort(ctx) runs if the
 * client disconnects (or the server stops) before the answer is finished;
 * drained(ctx) runs when buffered output falls below the low-water mark. */
void sy_conn_set_pending(sy_conn *c, void (*abort_fn)(void *ctx), void (*drained_fn)(void *ctx),
                         void *ctx);
/* Bytes of answer buffered but not yet written to the client. */
size_t sy_conn_out_pending(const sy_conn *c);
/* High-water mark: above it a streaming handler should pause its upstream. */
#define SY_CONN_OUT_HIGH (256u * 1024u)
#define SY_CONN_OUT_LOW (64u * 1024u)

sy_worker *sy_conn_worker(const sy_conn *c);
/* Monotonic ns when the current request was completely read. */
uint64_t sy_conn_request_start(const sy_conn *c);
/* Monotonic ns of the first answer byte queued, 0 when none yet. */
uint64_t sy_conn_first_byte(const sy_conn *c);
/* HTTP status of the answer started on this request (0 when none yet). */
int sy_conn_status(const sy_conn *c);

#endif
