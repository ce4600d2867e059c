/*
 * simulate.h - one simulation: a policy's traffic through the real engine
 * (engine.h), breakers, health checks and rollout controller, on a
 * simulated clock (loop.h, loop_sim.c) with the scenario's upstreams
 * (outcomes.h on the scripted transport). What `switchyard simulate` runs.
 *
 * The pieces are serve's: the router context with its breakers, cooldowns
 * and retry budgets (router.h), the local rate limit, the prober for
 * endpoints with health_check (prober.h), the plugins' own build_request /
 * parse_response / stream_event, the rollout controller ticking every
 * 200 ms. What a simulation leaves out: sockets and the HTTP front (so
 * nothing about slow clients, body limits or keep-alive), the access log,
 * metrics, the state file and the budget.
 *
 * Time starts at 0 and runs for the scenario's duration (or the replay's
 * span); requests still in flight then are run to their end. Everything
 * random comes from the seeded generator (rng.h), so a seed gives one run.
 */
#ifndef SY_SIMULATE_H
#define SY_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "replay.h"
#include "report.h"
#include "scenario.h"

typedef struct sy_sim_input {
    sy_policy *policy;            /* borrowed; a reference is taken per request */
    const sy_scenario *scenario;
    const sy_replay *replay;      /* NULL: the scenario's traffic */
    uint64_t seed;
} sy_sim_input;

typedef struct sy_sim_output {
    sy_report *report;            /* the caller frees it (sy_report_free) */
    double start_share, final_share;
    int64_t duration_ms;          /* the traffic's span */
    uint64_t arrivals;            /* requests sent (= requests the report counted) */
} sy_sim_output;

/* Run it. Returns 0, or -1 with a message in err (out of memory). */
int sy_simulate(const sy_sim_input *in, sy_sim_output *out, char *err, size_t errlen);

/* The timeline's row length for a run of duration_ms: 1m, or longer so a
 * long run has at most about 120 rows. */
int64_t sy_simulate_row_ms(int64_t duration_ms);

#endif
