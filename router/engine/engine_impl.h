/*
 * engine_impl.h - the engine's insides, shared by its three files (private:
 * nothing outside router/engine/engine*.c includes it).
 *
 *   engine.c         the attempt state machine: plan walking, breakers,
 *                    cooldowns, retries, timeouts, transports' callbacks
 *   engine_reply.c   what the client gets when the engine answers: headers,
 *                    whole answers, the router's own errors; the request's end
 *   engine_stream.c  a committed stream: SSE events through the plugin, one
 *                    write per upstream read, the end (clean or with an error event)
 */
#ifndef SY_ENGINE_IMPL_H
#define SY_ENGINE_IMPL_H

#include <stdint.h>

#include "answer_buf.h"
#include "engine.h"
#include "planner.h"
#include "response_map.h"
#include "sse.h"

#define MAX_SSE_EVENT (4u << 20)
#define MAX_COOL_MS (3600 * 1000) /* a Retry-After cools an endpoint for at most an hour */
#define NS_PER_MS 1000000ull
#define HDRS_CAP 3072 /* x-switchyard-*, passed-through rate-limit headers, Retry-After */

typedef enum timer_use { T_NONE, T_BACKOFF, T_FIRST_BYTE, T_BODY, T_IDLE } timer_use;

struct sy_exec {
    sy_engine_env env;
    sy_sink *sink;
    sy_policy *pol;
    sy_op op;
    int stream;
    char *body;
    size_t body_len;
    char *model;
    char request_id[72];
    const char *method, *path;
    sy_plan plan;
    size_t step;              /* the step of the attempt in flight, or to try next */
    int attempts, route_attempts;
    uint64_t t_start, deadline, upstream_ns, attempt_start, attempt_ttfb, client_ttfb, last_data;
    sy_request preq;
    void *body_owned;         /* the plugin's rewritten body of the attempt in flight */
    /* the attempt in flight */
    sy_transport *tp;
    sy_exchange_io *io;
    sy_endpoint_state *eps;
    sy_breaker_permit permit;
    int permit_held;
    sy_answer_buf resp;       /* a non-streamed answer being received */
    int refused;              /* sy_answer_buf_rc: the answer was cut off on purpose */
    int resp_status;
    int committed, saw_done, stream_error, paused, deadline_hit;
    sy_sse_splitter sse;
    sy_usage usage;
    char last_error[384];
    char why[1024];           /* each route given up, and why: for the final 502 */
    size_t why_len;
    const sy_plan_step *answered, *last;
    sy_timer *timer;
    timer_use timer_use;
    uint64_t skip_providers;  /* providers (by index, < 64) that refused their key */
    uint64_t soonest_usable;  /* soonest end of a cooldown or open breaker seen, ns; 0 none */
    int back_status;          /* 429 or 503: an endpoint asked to be called back later
                               * (Retry-After), or was skipped while it cools */
    size_t pick_from;         /* where the next pick starts, after a backoff */
    int io_finishing;         /* x->io is inside its on_done: the transport frees it */
    int no_route_told;        /* the rollout heard this request found no canary route */
    int timer_is_deadline;    /* the attempt's T_FIRST_BYTE timer is request_timeout's */
    char *out;                /* what one upstream read produced, for one sink write */
    size_t out_len, out_cap;
    /* The Responses API */
    char *upstream_path;      /* what preq.path carries */
    int body_checked;         /* preq.body_checked (sy_engine_request) */
    int body_spans_known;     /* preq.body_spans_known, and the spans it vouches for */
    sy_body_span model_span, stream_options_span;
    char *pin_id;             /* the stored response the request is pinned to, or NULL */
    int64_t reasoning_tokens; /* -1 unknown */
    unsigned sse_events;      /* events passed to the client (sequence numbers) */
};

/* ------------------------------------------------------------ helpers */

/* A span of the body as sy_request carries it: a pointer into x->body, NULL when absent. */
static inline const char *ex_body_at(const sy_exec *x, sy_body_span sp)
{
    return sp.len ? x->body + sp.at : NULL;
}

static inline uint64_t now(const sy_exec *x) { return sy_loop_now(x->env.loop); }

static inline int64_t ms_left(const sy_exec *x)
{
    uint64_t t = now(x);
    return t >= x->deadline ? 0 : (int64_t)((x->deadline - t) / NS_PER_MS);
}

static inline const char *step_provider(const sy_plan_step *s) { return s ? s->provider->name : ""; }
static inline const char *step_endpoint(const sy_plan_step *s) { return s ? s->endpoint->name : ""; }
static inline size_t provider_index(const sy_exec *x, const sy_plan_step *s)
{
    return (size_t)(s->provider - x->pol->providers);
}
static inline int provider_skipped(const sy_exec *x, const sy_plan_step *s)
{
    size_t i = provider_index(x, s);
    return i < 64 && (x->skip_providers >> i & 1u);
}

/* engine.c */
void ex_timer_set(sy_exec *x, timer_use use, int64_t ms);
void ex_timer_clear(sy_exec *x);
/* Hand the breaker permit back and feed the endpoint's latency. */
void ex_attempt_release(sy_exec *x, sy_breaker_outcome outcome);
/* One attempt event (retried: a retry of the same route follows it). */
void ex_emit_attempt(sy_exec *x, int status, const char *failure, int retried);

/* engine_reply.c */
/* x-request-id and x-switchyard-* (and, with upstream, the answering
 * upstream's passed-through headers) into buf. */
void ex_answer_headers(const sy_exec *x, int upstream, int status, char *buf, size_t cap);
/* The request is over: its one request event, then x is freed. cut: why a
 * committed stream was cut ("upstream", "idle", "shutdown"), or NULL. */
void ex_free(sy_exec *x, int client_aborted, const char *cut);
/* An OpenAI error envelope the router writes itself (secrets scrubbed). */
void ex_respond_error(sy_exec *x, int status, const char *type, const char *code,
                      const char *extra, const char *msg);
/* sy_engine_new found no step: say why (a stored response's endpoint gone,
 * no provider serving the op, no provider for the model). Does not free x. */
void ex_respond_no_plan(sy_exec *x, const sy_engine_request *r);
/* A Responses answer created the stored response id: remember where. */
void ex_remember_response(sy_exec *x, const char *id, size_t len);
/* No route is left: 504, 429/503 with Retry-After, 503 or 502; frees x. */
void ex_fail_final(sy_exec *x);
/* Pass a whole answer on (non-2xx bodies scrubbed); frees x. */
void ex_answer_whole(sy_exec *x, int status, const char *body, size_t len);
/* The answer was cut off on purpose (max_response, max_response_memory); frees x. */
void ex_refuse_answer(sy_exec *x, int status);

/* engine_stream.c */
void ex_stream_commit(sy_exec *x, int status);
/* Upstream bytes of a committed stream; -1 when an event is too large. */
int ex_stream_feed(sy_exec *x, const char *p, size_t n);
void ex_out_flush(sy_exec *x);
/* End the stream: clean when [DONE] came, else an error event; frees x. */
void ex_stream_finish(sy_exec *x, const char *why, const char *code, const char *cut_reason);

#endif
