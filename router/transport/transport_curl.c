/* transport_curl.c - the network transport on libcurl (see transport_curl.h). */
#include "transport_curl.h"

#include <stdio.h>
#include <stdlib.h>

#include "upstream.h"

/* curl's own overall limit is only a backstop: the engine's timers decide. */
#define BACKSTOP_MS (24 * 3600 * 1000LL)

typedef struct curl_tp {
    sy_transport base;
    sy_upstream *up;
} curl_tp;

struct sy_exchange_io {
    sy_transfer *t;
    const sy_io_cbs *cbs;
    void *ctx;
};

static void on_headers(void *ctx, sy_transfer *t, int status)
{
    (void)t;
    sy_exchange_io *x = ctx;
    x->cbs->on_headers(x->ctx, status);
}

static size_t on_data(void *ctx, sy_transfer *t, const char *p, size_t n)
{
    (void)t;
    sy_exchange_io *x = ctx;
    size_t r = x->cbs->on_data(x->ctx, p, n);
    return r == SY_IO_PAUSE ? SY_XFER_PAUSE : r;
}

static void on_done(void *ctx, sy_transfer *t, sy_xfer_error err, int status, const char *msg)
{
    (void)t;
    sy_exchange_io *x = ctx;
    sy_io_error e = err == SY_XFER_OK ? SY_IO_OK
                    : err == SY_XFER_CONNECT ? SY_IO_CONNECT
                    : err == SY_XFER_TIMEOUT ? SY_IO_TIMEOUT
                    : err == SY_XFER_IO ? SY_IO_BROKEN
                    : err == SY_XFER_ABORTED ? SY_IO_TOO_LARGE : SY_IO_OTHER;
    x->cbs->on_done(x->ctx, e, status, msg);
    free(x);
}

static const sy_transfer_cbs transfer_cbs = {on_headers, on_data, on_done};

static sy_exchange_io *curl_start(sy_transport *tp, const sy_io_request *r, const sy_io_cbs *cbs,
                                  void *ctx, char *msg, size_t msglen)
{
    int get = r->req == NULL; /* a health probe (transport.h) */
    sy_exchange_io *x = malloc(sizeof *x);
    if (!x) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    x->cbs = cbs;
    x->ctx = ctx;
    int64_t connect_ms = r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 10000;
    x->t = get ? sy_upstream_get(((curl_tp *)tp)->up, r->http, BACKSTOP_MS, connect_ms,
                                 &transfer_cbs, x, msg, msglen)
               : sy_upstream_post(((curl_tp *)tp)->up, r->http, BACKSTOP_MS, connect_ms,
                                  &transfer_cbs, x, msg, msglen);
    if (!x->t) {
        free(x);
        return NULL;
    }
    return x;
}

static void curl_resume(sy_exchange_io *x) { sy_transfer_resume(x->t); }

static void curl_cancel(sy_exchange_io *x)
{
    sy_transfer_cancel(x->t);
    free(x);
}

static const char *curl_header(sy_exchange_io *x, const char *name)
{
    return sy_transfer_header(x->t, name);
}

static const sy_transport_ops curl_ops = {curl_start, curl_resume, curl_cancel, curl_header, NULL, NULL};

sy_transport *sy_transport_curl_new(sy_upstream *up)
{
    curl_tp *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base.ops = &curl_ops;
    t->up = up;
    return &t->base;
}

void sy_transport_curl_free(sy_transport *t) { free(t); }
