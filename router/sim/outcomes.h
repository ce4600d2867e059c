/*
 * outcomes.h - what an upstream answers in `simulate`: the scenario's
 * `outcomes` turned into the scripted transport's picker
 * (transport_script.h, sy_script_set_picker).
 *
 * The conditions of an attempt on provider/endpoint at time t: the defaults
 * (scenario.h), then every piece of the provider's list that started by t,
 * in order, each changing what it names; then the same with the endpoint's
 * own list, whose values win. An outage (of the provider or of the endpoint)
 * that covers t makes every attempt fail to connect.
 *
 * One attempt, drawn from the seeded generator (rng.h) in this order:
 *   outage                 -> a connect error after 1 ms;
 *   u < timeout_rate       -> connected, never answers (the attempt's
 *                             first_byte_timeout or the request's deadline ends it);
 *   u < + error_rate       -> `status` with an OpenAI error body (and Retry-After
 *                             when `retry_after` is set and the status is 429 or 503);
 *   else                   -> 200: a chat completion with usage, or for a stream
 *                             its SSE chunks, usage and [DONE]; with chance
 *                             cut_rate the answer breaks off after its first part.
 * The time to the status line is log-normal, fitted to p50 and p95
 * (mu = ln p50, sigma = ln(p95/p50) / 1.645), at least 1 ms; the rest of the
 * answer follows at once. A health probe (a GET with no request) is drawn
 * the same way and answered 200 with an empty model list.
 */
#ifndef SY_OUTCOMES_H
#define SY_OUTCOMES_H

#include <stdint.h>

#include "scenario.h"
#include "transport_script.h"

/* The conditions at one moment for one endpoint. */
typedef struct sy_conditions {
    double error_rate;
    int status;
    int64_t retry_after_ms;   /* -1: none */
    int64_t p50_ms, p95_ms;
    double timeout_rate, cut_rate;
    int outage;               /* 1: every attempt fails to connect */
} sy_conditions;

typedef struct sy_outcomes sy_outcomes;

/* For scenario s (borrowed: it must outlive the result), times counted from
 * start_ns on the simulated clock. NULL when out of memory. */
sy_outcomes *sy_outcomes_new(const sy_scenario *s, uint64_t start_ns);
void sy_outcomes_free(sy_outcomes *o);

/* The conditions of provider/endpoint at now_ns. */
void sy_outcomes_at(const sy_outcomes *o, const char *provider, const char *endpoint,
                    uint64_t now_ns, sy_conditions *out);

/* Draw one attempt's outcome under c (the order above); stream: the
 * request is a stream; probe: a health probe. The strings in *out point at
 * static text or at o's own buffer, valid until the next draw. */
void sy_outcomes_draw(sy_outcomes *o, const sy_conditions *c, int stream, int probe,
                      sy_script_outcome *out);

/* A latency from the log-normal fitted to p50 and p95, in ms (>= 1). */
int64_t sy_outcomes_latency_ms(int64_t p50_ms, int64_t p95_ms);

/* The picker: ctx is the sy_outcomes. Always scripts the exchange. */
int sy_outcomes_pick(void *ctx, const sy_io_request *r, uint64_t now_ns, sy_script_outcome *out);

#endif
