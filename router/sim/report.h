/*
 * report.h - what `simulate` prints: a timeline, the events, a summary;
 * as text for people or as one JSON object (--json) for machines.
 *
 * It is fed the engine's events (every attempt and every client request, as
 * the router context fans them out), the endpoints' breaker and health
 * changes, and the rollout controller's changes, each with the simulated
 * time. Nothing in it reads a clock or draws a number, and every figure is
 * printed with a fixed format, so one seed gives byte-identical output.
 *
 * The JSON object (spec.md, "Simulate: scenario and output"):
 *   {"policy", "scenario", "replay", "seed", "duration_s",
 *    "summary": {"requests", "client_failures", "upstream_attempts", "retries",
 *                "fallbacks", "final_share", ...},
 *    "events": [{"t", "type", ...}],      time-ordered; t in seconds since the start
 *    "timeline": [{"t", "share", "requests", ...}]}
 * Event types: rollback (reason, value, threshold, requests, failures, from,
 * to; value and threshold null for an operator's rollback), promote (from,
 * to), pause, breaker_open, breaker_close, endpoint_down, endpoint_up
 * (provider, endpoint); and, only from a scenario's `actions`, resume and
 * set (from, to). A success_rate value is a percentage, a p95 value
 * milliseconds.
 */
#ifndef SY_REPORT_H
#define SY_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "events.h"
#include "router.h"

typedef enum sy_sim_event_type {
    SY_SIM_ROLLBACK,
    SY_SIM_PROMOTE,
    SY_SIM_PAUSE,
    SY_SIM_BREAKER_OPEN,
    SY_SIM_BREAKER_CLOSE,
    SY_SIM_ENDPOINT_DOWN,
    SY_SIM_ENDPOINT_UP,
    SY_SIM_RESUME,              /* a scenario's `actions` only */
    SY_SIM_SET,
} sy_sim_event_type;
const char *sy_sim_event_name(sy_sim_event_type t);

typedef struct sy_sim_event {
    uint64_t t_ns;              /* since the start */
    sy_sim_event_type type;
    char provider[64], endpoint[64];  /* breaker and endpoint events */
    char reason[16];            /* rollback: success_rate | p95 | admin */
    int figures;                /* rollback: value .. samples are the canary's window */
    double value, threshold;    /* rollback */
    uint64_t requests, failures, samples; /* rollback: the canary's window */
    double from, to;            /* the share before and after (rollback, promote) */
    char text[512];             /* one line, for the text report */
} sy_sim_event;

/* Who ran what: printed at the top. Strings borrowed. */
typedef struct sy_report_meta {
    const char *policy, *scenario, *replay; /* replay NULL: none */
    uint64_t seed;
    int64_t duration_ms;        /* the traffic's span */
    const char *latency_kind;   /* "ttfb" | "total": the latency the arms' P95 measures */
    const char *stable, *canary;/* provider names; canary NULL: no migration */
    double start_share;
} sy_report_meta;

typedef struct sy_report sy_report;

/* start_ns: the simulated clock at the start; row_ns: the timeline's row
 * length; latency_total: arms' latency is total time, else time to first
 * byte. stable/canary: the providers' names (canary NULL when none).
 * NULL when out of memory. */
sy_report *sy_report_new(uint64_t start_ns, uint64_t row_ns, int latency_total,
                         const char *stable, const char *canary);
void sy_report_free(sy_report *r);

/* The engine's events. planned_canary: the request was put on the canary
 * arm by the sticky hash; its first route was that arm's. */
void sy_report_attempt(sy_report *r, const sy_attempt_event *e);
void sy_report_request(sy_report *r, const sy_request_event *e, int planned_canary);
/* A request the local rate limit refused (429) before the engine. */
void sy_report_rate_limited(sy_report *r, int planned_canary);
/* An endpoint's state was created or changed (router.h on_endpoint). */
void sy_report_endpoint(sy_report *r, const sy_endpoint_state *s, uint64_t now_ns);
/* A rollout event (rollback, promote, pause); e->t_ns is absolute here. */
void sy_report_event(sy_report *r, const sy_sim_event *e);
/* Close the timeline row that ends at now_ns, with the share at that time. */
void sy_report_row(sy_report *r, uint64_t now_ns, double share);

void sy_report_print_text(const sy_report *r, const sy_report_meta *m, double final_share,
                          FILE *out);
void sy_report_print_json(const sy_report *r, const sy_report_meta *m, double final_share,
                          FILE *out);

/* Counts, for tests and the caller: requests finished (rate-limited ones
 * included), and the events so far. */
uint64_t sy_report_requests(const sy_report *r);
size_t sy_report_n_events(const sy_report *r);
const sy_sim_event *sy_report_event_at(const sy_report *r, size_t i);

#endif
