/*
 * upstream.h - HTTP transfers to upstream providers: libcurl's multi-socket
 * interface driven by a worker's libevent base. One sy_upstream per worker
 * thread; nothing here is shared between threads.
 *
 * Connection reuse: one multi handle keeps every upstream connection cached
 * (CURLMOPT_MAXCONNECTS large, no per-host cap); idle sockets stay registered
 * with the event loop until curl closes them, so a reused connection costs no
 * epoll_ctl; easy handles are pooled.
 *
 * Callbacks run on the worker's loop, never inside another transfer's
 * callback chain in a way that could free the multi handle. A cancelled
 * transfer gets no further callbacks.
 */
#ifndef SY_UPSTREAM_H
#define SY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <switchyard/plugin.h>

struct event_base;
typedef struct sy_upstream sy_upstream;
typedef struct sy_transfer sy_transfer;

/* on_data's return value to pause the transfer (resume with sy_transfer_resume). */
#define SY_XFER_PAUSE ((size_t)-1)

typedef enum sy_xfer_error {
    SY_XFER_OK = 0,
    SY_XFER_CONNECT,  /* could not connect / resolve / TLS handshake */
    SY_XFER_TIMEOUT,  /* the transfer's time ran out */
    SY_XFER_IO,       /* the connection broke mid-answer */
    SY_XFER_ABORTED,  /* on_data refused the data */
    SY_XFER_OTHER,
} sy_xfer_error;

typedef struct sy_transfer_cbs {
    /* The status line and headers are in; first call before any on_data. */
    void (*on_headers)(void *ctx, sy_transfer *t, int status);
    /* Body bytes. Return n to go on, SY_XFER_PAUSE to pause, anything else aborts. */
    size_t (*on_data)(void *ctx, sy_transfer *t, const char *p, size_t n);
    /* The transfer ended. status is the HTTP status (0 when none came); msg a
     * short, secret-free reason when err != SY_XFER_OK. Response headers of
     * more than 64 KiB (or one line over curl's own limit) end it as
     * SY_XFER_IO, "upstream header too large". The transfer is freed right
     * after this returns. */
    void (*on_done)(void *ctx, sy_transfer *t, sy_xfer_error err, int status, const char *msg);
} sy_transfer_cbs;

sy_upstream *sy_upstream_new(struct event_base *base);
/* Cancels every transfer still running (without callbacks) and frees. */
void sy_upstream_free(sy_upstream *u);

/* Start a POST. hr (URL, headers, body) must stay valid until on_done or
 * cancel. timeout_ms bounds the whole transfer; connect_timeout_ms the connect.
 * Returns NULL (with msg) when the transfer could not even be started. */
sy_transfer *sy_upstream_post(sy_upstream *u, const sy_http_request *hr, int64_t timeout_ms,
                              int64_t connect_timeout_ms, const sy_transfer_cbs *cbs, void *ctx,
                              char *msg, size_t msglen);
/* Start a GET of hr->url with hr's headers (hr's body is not sent), as sy_upstream_post
 * otherwise: health probes. */
sy_transfer *sy_upstream_get(sy_upstream *u, const sy_http_request *hr, int64_t timeout_ms,
                             int64_t connect_timeout_ms, const sy_transfer_cbs *cbs, void *ctx,
                             char *msg, size_t msglen);
void sy_transfer_cancel(sy_transfer *t);
void sy_transfer_resume(sy_transfer *t);

/* A response header (case-insensitive), or NULL. Valid until on_done returns. */
const char *sy_transfer_header(const sy_transfer *t, const char *name);

/* Number of transfers running. */
size_t sy_upstream_active(const sy_upstream *u);

#endif
