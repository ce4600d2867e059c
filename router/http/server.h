/*
 * server.h - the HTTP front: listening sockets, worker threads, lifecycle.
 *
 * One worker thread per core by default, each with its own libevent base,
 * its own SO_REUSEPORT listening socket (the kernel spreads connections), its
 * own handler state (sy_handler: the gateway puts its upstream there), and no locks on the request path. The main thread
 * only handles signals: SIGHUP reloads the policy, SIGTERM/SIGINT drain.
 *
 * Out of descriptors, a worker stops accepting for a moment instead of
 * spinning on its listener (counted in switchyard_accept_refused_total and
 * logged at most every few seconds); the connections wait in the backlog.
 */
#ifndef SY_SERVER_H
#define SY_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "http_parser.h"

struct event_base;

/* What the front calls. The front knows nothing of routing and owns no
 * upstream: it parses requests, hands each complete one to request(), and
 * gives each worker's loop to the handler once, before it runs. */
typedef struct sy_handler {
    /* A complete request. body is decoded and NUL-terminated; it and req's
     * pointers are valid only during the call (copy what an asynchronous
     * answer needs). Answer on c as conn.h says. */
    void (*request)(void *ctx, sy_conn *c, const sy_http_req *req, char *body, size_t body_len);
    /* Per worker, from sy_server_new (main thread, before the worker runs):
     * the handler's state for that worker's loop (sy_worker_state). NULL
     * fails the server's start. */
    void *(*worker_init)(void *ctx, sy_worker *w, struct event_base *base);
    /* Frees it, after the worker stopped and its connections closed. */
    void (*worker_free)(void *ctx, void *state);
    void *ctx;
} sy_handler;

typedef struct sy_server_opts {
    const char *listen;       /* "host:port" */
    int workers;              /* >= 1 */
    size_t max_head;
    uint64_t max_body;
    int64_t idle_timeout_ms;
    int64_t header_timeout_ms;
    int64_t shutdown_grace_ms;
    sy_handler handler;
} sy_server_opts;

typedef struct sy_server sy_server;

/* Bind and prepare; nothing runs yet. NULL with a message on failure. */
sy_server *sy_server_new(const sy_server_opts *o, char *err, size_t errlen);
/* Run the workers until sy_server_stop; blocks the calling thread, which
 * handles SIGHUP/SIGTERM/SIGINT through reload_fn/the drain. Returns 0 on a
 * clean stop. */
int sy_server_run(sy_server *s, void (*reload_fn)(void *ctx), void *ctx);
/* A function the main thread runs every interval_ms while serving (flushing
 * the access log). Set before sy_server_run. */
void sy_server_set_tick(sy_server *s, void (*tick_fn)(void *ctx), void *ctx, int64_t interval_ms);
/* Work for the main thread's loop (health probes): start(ctx, base) runs
 * on it before it serves, stop(ctx) after it stopped (SIGTERM) and before it
 * is freed. Reloads run on that thread too. Set before sy_server_run. */
void sy_server_set_main(sy_server *s, void (*start)(void *ctx, struct event_base *base),
                        void (*stop)(void *ctx), void *ctx);
/* Start draining from any thread (also done by SIGTERM). */
void sy_server_stop(sy_server *s);
void sy_server_free(sy_server *s);
/* The address actually bound ("127.0.0.1:8080"). */
const char *sy_server_address(const sy_server *s);
/* Update limits from a reloaded policy (applies to new requests).
 * header_timeout_ms is a deadline for a whole request, head and body, counted
 * from its first byte; a client that misses it gets 408 and is closed. */
void sy_server_set_limits(sy_server *s, size_t max_head, uint64_t max_body,
                          int64_t idle_timeout_ms, int64_t header_timeout_ms);
/* Time a drain gives requests in flight (also settable after a reload; a
 * drain already under way keeps the value it started with). */
void sy_server_set_shutdown_grace(sy_server *s, int64_t grace_ms);
/* Worker threads running (fixed at sy_server_new). */
int sy_server_workers(const sy_server *s);

/* Per-worker facilities for handlers. */
struct event_base *sy_worker_base(sy_worker *w);
void *sy_worker_state(sy_worker *w); /* the handler's worker_init result */
int sy_worker_id(const sy_worker *w);
int sy_worker_draining(const sy_worker *w);
int sy_server_draining(void);

#endif
