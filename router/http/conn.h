/*
 * conn.h - one client connection on a worker's event loop, and the ways a
 * handler answers on it.
 *
 * A connection reads and parses one request at a time (pipelined requests wait
 * in the input buffer), hands it to the server's handler (server.h), and moves on to the
 * next request once the handler has finished its answer (sy_conn_respond or
 * sy_conn_stream_end). A handler that answers later (a proxied request) sets
 * sy_conn_set_pending() with an abort callback, called if the client goes away
 * first; after the abort callback the handler must not touch the connection.
 *
 * A client that shuts its sending side (shutdown(SHUT_WR)) after a complete
 * request still gets its answer; the connection closes once it is written.
 * Read EOF alone does not abort a request: a client that is really gone
 * shows up when a write to it fails. A half-close inside an incomplete
 * request just closes the connection.
 */
#ifndef SY_CONN_H
#define SY_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "http_parser.h"

typedef struct sy_conn sy_conn;
typedef struct sy_worker sy_worker;

struct sy_sink;
/* The connection as the engine's sink (sink.h): whole answers and streams
 * for the request being handled. Lives as long as the connection. */
struct sy_sink *sy_conn_sink(sy_conn *c);

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
/* Optional, after sy_conn_set_pending: shutdown(ctx) runs instead of abort
 * when the server stops (shutdown_grace ran out) with the answer unfinished.
 * The handler may still write: it should end its answer now (an error event
 * and the end of a stream, or an error response); that goes out as far as
 * the socket takes it, then the connection closes. Should the handler not
 * finish, abort follows. Cleared when the answer is finished. */
void sy_conn_set_shutdown(sy_conn *c, void (*shutdown_fn)(void *ctx));
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
