/*
 * metrics.h - the Prometheus metrics registry (written by helper "metrics").
 *
 * What it exports (names fixed by spec.md, "Metrics"; upstream_attempts_total
 * and build_info are additions):
 *   switchyard_requests_total{arm,provider,endpoint,model,code} counter
 *   switchyard_request_duration_seconds{arm,provider,endpoint} histogram
 *   switchyard_upstream_ttfb_seconds{provider,endpoint}   histogram
 *   switchyard_overhead_seconds                           histogram
 *   switchyard_upstream_attempts_total{provider,endpoint,code} counter
 *   switchyard_retries_total{provider,endpoint,reason}    counter
 *   switchyard_fallbacks_total{from_model,to_model}       counter
 *   switchyard_breaker_state{provider,endpoint}           gauge (0 closed, 1 half-open, 2 open)
 *   switchyard_breaker_opens_total{provider,endpoint}     counter
 *   switchyard_endpoint_healthy{provider,endpoint}        gauge (0/1)
 *   switchyard_rollout_percent                            gauge
 *   switchyard_rollbacks_total{reason}                    counter
 *   switchyard_tokens_total{model,kind}                   counter (kind input|output)
 *   switchyard_cost_usd_total{model}                      counter
 *   switchyard_rate_limited_total                         counter
 *   switchyard_build_info{version}                        gauge, always 1
 *
 * Who calls what:
 *   - sy_metrics_observe_request / _attempt: every worker thread, for every
 *     finished request / upstream attempt (events.h). Strings are borrowed for
 *     the call only.
 *   - the gauge setters and the rare counters (breaker, health, rollout,
 *     rollbacks): any thread, rarely. They take a mutex.
 *   - sy_metrics_render: the /metrics handler, any thread.
 *
 * Hot-path rules (observe_request, observe_attempt, add_cost, inc_rate_limited):
 *   - No global lock per call. Each thread owns a shard (a thread-local pointer,
 *     registered once per thread in a global list under a mutex). A shard holds
 *     one small open-addressing hash table per metric, keyed by the hash of the
 *     borrowed label strings, and the series values.
 *   - Values are plain uint64 counters written only by the owning thread with
 *     relaxed atomic load+store (no lock prefix); histogram sums are kept in
 *     integer nanoseconds. The scraper reads them with relaxed loads.
 *   - A label set seen for the first time by a thread takes the metric's
 *     mutex once to intern it in a global table; the label strings are copied
 *     only the first time any thread sees that set. After warm-up there is no
 *     allocation and no lock.
 *   - sy_metrics_render walks every shard under the list mutex and merges.
 *     Shards of exited threads stay in the list (marked dead) so nothing they
 *     counted is lost; a new thread adopts a dead shard instead of growing the
 *     list.
 *   - Out of memory on the slow path drops that one sample (never aborts).
 *
 * Cardinality: each metric holds at most SY_METRICS_MAX_SERIES label sets.
 * Beyond that every new label set folds into one series whose labels are all
 * "other", so random label values cannot grow memory without bound; a label
 * value longer than SY_METRICS_MAX_LABEL_LEN bytes is replaced by "other".
 * Even so, the router must pass only bounded values: the model labels
 * (model_asked / model_served, from_model / to_model, tokens and cost model)
 * are policy-known model names or the literal "other", never a raw
 * client-supplied string; provider, endpoint, arm and reason come from the
 * policy or from fixed lists.
 *
 * Label values are escaped per the text exposition format (backslash, double
 * quote, newline); bytes that are not valid UTF-8 are rendered as U+FFFD.
 */
#ifndef SY_METRICS_H
#define SY_METRICS_H

#include <stddef.h>

#include "events.h"

#define SY_METRICS_MAX_SERIES 10000  /* label sets per metric, plus the "other" series */
#define SY_METRICS_MAX_LABEL_LEN 256 /* bytes; longer values become "other" */

/* Content-Type for the /metrics answer. */
#define SY_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A finished client request: requests_total (model = model_served, or
 * model_asked when none answered; code = status sent to the client),
 * request_duration_seconds (end - start), overhead_seconds
 * (end - start - upstream_ns, floored at 0), fallbacks_total (model_served
 * non-empty and different from model_asked), tokens_total (each count >= 0,
 * labelled with the same model as requests_total). Timestamps are monotonic
 * ns; a timestamp before start_ns counts as 0. */
void sy_metrics_observe_request(const sy_request_event *ev);

/* A finished upstream attempt: upstream_attempts_total (code = upstream
 * status, "0" for a transport error), upstream_ttfb_seconds (ttfb_ns -
 * start_ns, only when ttfb_ns != 0), retries_total (only when reason != NULL:
 * a failed attempt the executor classified as retryable). */
void sy_metrics_observe_attempt(const sy_attempt_event *ev);

/* Rare setters; take a mutex. NULL strings count as "". */
void sy_metrics_set_rollout_percent(double percent);
/* state: 0 closed, 1 half-open, 2 open. A change into 2 from any other value
 * (or the first set, when it is 2) also increments breaker_opens_total, so
 * the breaker calls only this, on every transition. */
void sy_metrics_set_breaker_state(const char *provider, const char *endpoint, int state);
void sy_metrics_set_endpoint_healthy(const char *provider, const char *endpoint, int healthy);
void sy_metrics_inc_rollbacks(const char *reason);

/* Hot-path counters (sharded like observe_*). usd that is negative or not
 * finite is ignored. */
void sy_metrics_add_cost(const char *model, double usd);
void sy_metrics_inc_rate_limited(void);

/* Prometheus text exposition (format 0.0.4), NUL-terminated; *len (if not
 * NULL) gets its length. Caller frees with free(). NULL when out of memory. */
char *sy_metrics_render(size_t *len);

/* Tests only: forget every series and gauge. No observer may run concurrently
 * and every thread that observed before must be idle or gone. */
void sy_metrics_reset_for_tests(void);

#endif
