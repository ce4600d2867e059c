/*
 * events.h - what observers see. Every finished upstream attempt and every
 * finished client request becomes one event, fanned out by the router
 * context (router.h) to the metrics registry, the access log, cost
 * accounting and the rollout windows (router/rollout/counting.h). One event
 * shape, many consumers.
 *
 * All strings are borrowed for the duration of the callback.
 */
#ifndef SY_EVENTS_H
#define SY_EVENTS_H

#include <stdint.h>

typedef struct sy_attempt_event {
    const char *provider;
    const char *endpoint;
    const char *model;
    const char *arm;       /* "stable" | "canary": the arm this provider serves */
    int status;            /* upstream HTTP status; 0 when no answer (transport error) */
    /* Why it failed, NULL when it succeeded: "connect_error", "timeout",
     * "io_error", an HTTP status ("429", "503", ...), "stream_cut",
     * "stream_idle", "too_large", "client_error" (the client's own 4xx),
     * "client_gone", "shutdown", "plugin_error"; "no_route" (no_route). */
    const char *failure;
    /* The failure's reason when a retry of the same route follows it, else
     * NULL: retries_total counts these, and only these. */
    const char *reason;
    int retried;
    /* Not an attempt: a retry was wanted and the provider's retry budget
     * refused it (every other field but the names is zero). */
    int budget_exhausted;
    /* Not an attempt: a canary request found no usable endpoint on a canary
     * route (failure "no_route", endpoint ""); the rollout windows count it
     * as a canary failure, other observers skip it. */
    int no_route;
    int verdict;           /* sy_verdict */
    uint64_t start_ns;
    uint64_t ttfb_ns;      /* first byte of the answer; 0 when none */
    uint64_t end_ns;
    int op;                /* plugin.h sy_op */
} sy_attempt_event;

typedef struct sy_request_event {
    const char *request_id;
    const char *method;
    const char *path;
    const char *arm;           /* "stable" | "canary" | "" for non-proxied requests */
    const char *provider;      /* that answered (or last tried); "" when none */
    const char *endpoint;
    const char *model_asked;
    const char *model_served;  /* "" when none answered */
    int status;                /* status sent to the client */
    int attempts;              /* upstream attempts made */
    int stream;
    int client_aborted;        /* client went away before the end */
    int stream_cut;            /* the stream ended without [DONE] */
    const char *cut_reason;    /* when stream_cut: "upstream", "idle", "shutdown" */
    uint64_t start_ns;         /* request fully read */
    uint64_t ttfb_ns;          /* first byte sent to the client; 0 when none */
    uint64_t end_ns;
    uint64_t upstream_ns;      /* time spent waiting on upstreams (for overhead = total - upstream) */
    int64_t input_tokens;      /* -1 unknown */
    int64_t output_tokens;
    double cost_usd;           /* priced by the provider and model that answered; -1 unknown */
    int upstream_ok;           /* an upstream answered 2xx: the provider bills it, whatever the
                                * client then saw (a cut stream, a client gone); with a token
                                * count unknown it is a request without usage */
    const struct sy_policy *policy; /* the snapshot the request ran on (may be NULL) */
    const char *error;         /* last upstream error summary, or NULL */
    int op;                    /* plugin.h sy_op; 0 for requests the router answered itself */
    int64_t reasoning_tokens;  /* part of output_tokens; -1 unknown */
} sy_request_event;

#endif
