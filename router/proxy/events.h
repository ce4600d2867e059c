/*
 * events.h - what observers see. Every finished upstream attempt and every
 * finished client request becomes one event, fed to the metrics registry,
 * the access log, and (later) breakers, rollout windows and cost accounting.
 * One event shape, many consumers.
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
    int status;            /* upstream HTTP status; 0 when no answer (transport error) */
    const char *reason;    /* retry reason when it failed: "connect_error", "timeout", "429", "500", ... ; NULL when ok */
    int verdict;           /* sy_verdict */
    uint64_t start_ns;
    uint64_t ttfb_ns;      /* first byte of the answer; 0 when none */
    uint64_t end_ns;
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
    int stream_cut;            /* upstream stream ended without [DONE] */
    uint64_t start_ns;         /* request fully read */
    uint64_t ttfb_ns;          /* first byte sent to the client; 0 when none */
    uint64_t end_ns;
    uint64_t upstream_ns;      /* time spent waiting on upstreams (for overhead = total - upstream) */
    int64_t input_tokens;      /* -1 unknown */
    int64_t output_tokens;
    const char *error;         /* last upstream error summary, or NULL */
} sy_request_event;

#endif
