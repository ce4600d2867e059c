/*
 * engine.h - the executor: one client request walked through its plan.
 *
 * One path for every request, whatever serves it: the engine touches the
 * world only through a loop (time, timers), transports (upstream exchanges)
 * and a sink (the client), and keeps what lives across requests in the
 * router context. So `serve`, `simulate` and the unit tests run the same code.
 *
 * Before each attempt: is the deadline still ahead, does the endpoint's
 * breaker allow a call (not open, not cooling after a 429, a half-open probe
 * slot free), is a retry within the provider's retry budget? Then the plugin
 * builds the upstream request, a transport carries it, the plugin classifies
 * the answer, and the engine decides: answer, back off and retry (on the
 * next usable endpoint of the same route), or move to the next route.
 *
 * Timeouts: connect_timeout (transport) and first_byte_timeout (until the
 * status line) bound each attempt, so a hung region fails over inside the
 * request's deadline; request_timeout bounds everything up to the commit
 * point; after it a stream is bounded by server.stream_idle_timeout.
 *
 * Streams: the first byte sent to the client is the commit point; after it
 * there is no retry or fallback, and an upstream cut becomes an SSE error
 * event, never a silent 200. What one upstream read produced reaches the sink
 * in one write. A slow client pauses the upstream exchange.
 *
 * Every finished attempt and request is one event, fanned out to the router
 * context's observers.
 */
#ifndef SY_ENGINE_H
#define SY_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <switchyard/plugin.h>

#include "loop.h"
#include "policy.h"
#include "router.h"
#include "sink.h"
#include "transport.h"

/* What one worker (one loop thread) gives the engine. */
typedef struct sy_engine_env {
    sy_router *router;
    sy_loop *loop;
    sy_transport *net;   /* plugins that build HTTP requests */
    sy_transport *local; /* plugins that answer themselves (local_reply) */
    sy_transport *fast;  /* optional: tried before net for the URLs it accepts (transport_h1.h) */
} sy_engine_env;

/* Where a top-level value of the body is: body[at, at + len), its raw JSON
 * text (a string's quotes included); len 0: the key is absent. */
typedef struct sy_body_span {
    size_t at, len;
} sy_body_span;

/* One client request, as the front parsed it. Strings are copied. */
typedef struct sy_engine_request {
    sy_policy *policy;         /* a reference the engine takes over */
    sy_op op;
    const char *method, *path; /* for the access log; static strings */
    const char *body;          /* the JSON body as received */
    size_t body_len;
    const char *model;         /* the requested model */
    int stream;
    const char *sticky_key;    /* NULL: none present (stable) */
    size_t sticky_key_len;
    const char *sticky_source;
    double percent;            /* the live rollout share */
    const char *request_id;
    uint64_t start_ns;         /* request fully read */
    /* The Responses API. */
    const char *upstream_path; /* the client's path after /v1 with its query
                                * ("/responses/ID?x"); NULL: the op's own */
    /* A stored response this request names (previous_response_id, or the
     * {id} of /v1/responses/{id}) and where it lives: the request goes only
     * there (sy_plan_build_pinned). pin_id NULL: the plan as usual. */
    const char *pin_id;
    const char *pin_provider, *pin_endpoint;
    int stable_only;           /* an id the router does not know: where traffic
                                * went before switchyard, the stable arm */
    int body_checked;          /* the front checked body is one JSON object (sy_request) */
    /* sy_request.body_spans_known (ABI 1.5): the front's scan found "model"
     * and "stream_options" at most once each at the top level, here. */
    int body_spans_known;
    sy_body_span model_span, stream_options_span;
} sy_engine_request;

typedef struct sy_exec sy_exec;

/* Prepare a request: copy what it needs and build its plan. Returns NULL
 * when it was answered at once (no route: 503; out of memory); then its
 * request event was already emitted. */
sy_exec *sy_engine_new(const sy_engine_env *env, const sy_engine_request *r, sy_sink *sink);

/* Run it: the first attempt starts now. The answer may come before this
 * returns (every route unusable), and x is then gone; the caller registers
 * its abort hook (sy_engine_abort) before calling this. The request event is
 * emitted exactly once, when it ends. */
void sy_engine_run(sy_exec *x);

typedef enum sy_abort_reason {
    SY_ABORT_CLIENT_GONE, /* the client closed: nothing more can be sent */
    SY_ABORT_SHUTDOWN,    /* the drain's grace ran out: end the answer cleanly */
} sy_abort_reason;

/* Stop a running request. For SY_ABORT_SHUTDOWN a stream gets an SSE error
 * event and its end, and a request not yet answered a 503. The request is
 * freed; x must not be used afterwards. */
void sy_engine_abort(sy_exec *x, sy_abort_reason why);

/* The sink drained below its low-water mark: resume a paused stream. */
void sy_engine_drained(sy_exec *x);

#endif
