/*
 * counting.h - what the rollout counts, in one place for `serve`
 * (router/proxy/rollout_live.c) and `simulate` (router/sim/rollout_sim.c):
 * the controller's settings from a policy, and how one attempt event goes
 * into an arm's window.
 *
 * Counted, per arm (the arm the attempt's provider serves): an attempt that
 * got an answer (a success) or failed on the provider's side: a 429, a 5xx
 * or another upstream error status, a timeout, a connect or I/O error, a cut
 * or idle stream, and "no_route" (a canary request found no usable canary
 * endpoint). Not counted: the client's own 4xx ("client_error"), the client
 * going away, our shutdown, a plugin that could not build the request, an
 * answer over server.max_response, and the retry budget's pseudo-events.
 * Latency is of the successful attempts: to the first byte (ttfb) or to the
 * end (total), per migration.rollback.latency.
 */
#ifndef SY_COUNTING_H
#define SY_COUNTING_H

#include <stdint.h>

#include "controller.h"
#include "events.h"
#include "policy.h"

/* serve's defaults when migration.rollback is absent (steps still need a window). */
#define SY_RO_DEFAULT_WINDOW_MS (5 * 60 * 1000)
#define SY_RO_DEFAULT_MIN_REQUESTS 200

/* The controller's settings from p's migration section (p has a canary).
 * The strings and steps are p's: configure copies them. */
void sy_ro_conf_from_policy(const sy_policy *p, sy_ro_conf *c);

/* How e counts: 1 with *arm (0 stable, 1 canary), *failed and *latency_ns
 * set; 0 when it does not count. latency_total: migration.rollback.latency
 * is total. */
int sy_ro_count_attempt(const sy_attempt_event *e, int latency_total, int *arm, int *failed,
                        uint64_t *latency_ns);

#endif
