/* transport_local.c - local replies played back on the loop (see transport_local.h). */
#include "transport_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct local_tp {
    sy_transport base;
    sy_loop *loop;
} local_tp;

struct sy_exchange_io {
    sy_loop *loop;
    sy_timer *timer;
    const sy_io_cbs *cbs;
    void *ctx;
    sy_local_reply reply;
    const sy_host_api *host;
    int stream, headers_sent, paused, cancelled;
    int in_cb; /* inside one of the engine's callbacks */
    size_t off;
    int64_t tick_ms;
};

static void x_free(sy_exchange_io *x)
{
    sy_timer_free(x->timer);
    free(x->reply.body);
    free(x);
}

/* Deliver the next piece: the status, then the body (whole, or one SSE event
 * per tick), then the end. */
static void x_tick(void *arg)
{
    sy_exchange_io *x = arg;
    int st = x->reply.status;
    if (!x->headers_sent) {
        x->headers_sent = 1;
        x->in_cb = 1;
        x->cbs->on_headers(x->ctx, st);
        x->in_cb = 0;
        if (x->cancelled) return x_free(x);
    }
    const char *b = x->reply.body ? x->reply.body : "";
    size_t len = x->reply.body_len;
    if (!(x->stream && st >= 200 && st < 300)) {
        x->in_cb = 1;
        size_t took = len ? x->cbs->on_data(x->ctx, b, len) : 0;
        x->in_cb = 0;
        if (x->cancelled) return x_free(x);
        if (took != len) {
            x->cbs->on_done(x->ctx, SY_IO_TOO_LARGE, st, "the answer is too large");
            return x_free(x);
        }
        x->cbs->on_done(x->ctx, SY_IO_OK, st, NULL);
        return x_free(x);
    }
    if (x->off < len) {
        const char *end = strstr(b + x->off, "\n\n");
        size_t n = end ? (size_t)(end + 2 - (b + x->off)) : len - x->off;
        x->in_cb = 1;
        size_t took = x->cbs->on_data(x->ctx, b + x->off, n);
        x->in_cb = 0;
        if (x->cancelled) return x_free(x);
        if (took == SY_IO_PAUSE) {
            x->paused = 1;
            return;
        }
        if (took != n) {
            x->cbs->on_done(x->ctx, SY_IO_TOO_LARGE, st, "a stream event is too large");
            return x_free(x);
        }
        x->off += n;
    }
    if (x->off >= len) {
        if (x->reply.truncate_stream)
            x->cbs->on_done(x->ctx, SY_IO_BROKEN, st, "the mock provider cut the stream");
        else
            x->cbs->on_done(x->ctx, SY_IO_OK, st, NULL);
        return x_free(x);
    }
    sy_timer_arm_ms(x->timer, x->tick_ms);
}

static sy_exchange_io *local_start(sy_transport *t, const sy_io_request *r, const sy_io_cbs *cbs,
                                   void *ctx, char *msg, size_t msglen)
{
    local_tp *tp = (local_tp *)t;
    if (!r->req) {
        /* A local reply answers a request; there is no upstream to probe. */
        snprintf(msg, msglen, "plugin %s answers requests only", r->plugin->name);
        return NULL;
    }
    sy_exchange_io *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    x->loop = tp->loop;
    x->cbs = cbs;
    x->ctx = ctx;
    x->stream = r->req->stream;
    x->reply.usage.input_tokens = x->reply.usage.output_tokens = -1;
    x->timer = sy_timer_new(tp->loop, x_tick, x);
    if (!x->timer ||
        r->plugin->local_reply(r->instance, r->endpoint, r->req, &x->reply) != 0) {
        snprintf(msg, msglen, "plugin %s could not answer", r->plugin->name);
        x_free(x);
        return NULL;
    }
    int64_t first = x->stream ? x->reply.ttfb_ms : x->reply.delay_ms;
    if (first < 0) first = 0;
    size_t events = 0;
    for (const char *p = x->reply.body; p && (p = strstr(p, "\n\n")); p += 2) events++;
    int64_t rest = x->reply.delay_ms - x->reply.ttfb_ms;
    x->tick_ms = events > 1 && rest > 0 ? rest / (int64_t)(events - 1) : 0;
    sy_timer_arm_ms(x->timer, first);
    return x;
}

static void local_resume(sy_exchange_io *x)
{
    if (!x->paused) return;
    x->paused = 0;
    sy_timer_arm_ms(x->timer, 0);
}

static void local_cancel(sy_exchange_io *x)
{
    /* Inside one of our own callbacks: x_tick frees it when the callback
     * returns. Otherwise free now. */
    x->cancelled = 1;
    if (x->in_cb) return;
    x_free(x);
}

static const char *local_header(sy_exchange_io *x, const char *name)
{
    if (strcasecmp(name, "content-type") == 0)
        return x->stream && x->reply.status >= 200 && x->reply.status < 300 ? "text/event-stream"
                                                                           : "application/json";
    return NULL;
}

static int local_usage(sy_exchange_io *x, sy_usage *out)
{
    if (x->reply.usage.input_tokens < 0) return -1;
    *out = x->reply.usage;
    return 0;
}

static const sy_transport_ops local_ops = {local_start, local_resume, local_cancel, local_header,
                                            local_usage, NULL};

sy_transport *sy_transport_local_new(sy_loop *loop)
{
    local_tp *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base.ops = &local_ops;
    t->loop = loop;
    return &t->base;
}

void sy_transport_local_free(sy_transport *t) { free(t); }
