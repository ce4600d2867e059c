/*
 * server.h - the HTTP front: listening sockets, worker threads, lifecycle.
 *
 * One worker thread per core by default, each with its own libevent base,
 * its own SO_REUSEPORT listening socket (the kernel spreads connections), its
 * own upstream multi handle, and no locks on the request path. The main thread
 * only handles signals: SIGHUP reloads the policy, SIGTERM/SIGINT drain.
 */
#ifndef SY_SERVER_H
#define SY_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "http_parser.h"

struct event_base;
struct sy_upstream;

typedef struct sy_server_opts {
    const char *listen;       /* "host:port" */
    int workers;              /* >= 1 */
    size_t max_head;
    uint64_t max_body;
    int64_t idle_timeout_ms;
    int64_t header_timeout_ms;
    int64_t shutdown_grace_ms;
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
/* Start draining from any thread (also done by SIGTERM). */
void sy_server_stop(sy_server *s);
void sy_server_free(sy_server *s);
/* The address actually bound ("127.0.0.1:8080"). */
const char *sy_server_address(const sy_server *s);
/* Update limits from a reloaded policy (applies to new requests). */
void sy_server_set_limits(sy_server *s, size_t max_head, uint64_t max_body,
                          int64_t idle_timeout_ms, int64_t header_timeout_ms);

/* Per-worker facilities for handlers. */
struct event_base *sy_worker_base(sy_worker *w);
struct sy_upstream *sy_worker_upstream(sy_worker *w);
int sy_worker_id(const sy_worker *w);
int sy_worker_draining(const sy_worker *w);
int sy_server_draining(void);

#endif
