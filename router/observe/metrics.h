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
 *   switchyard_endpoint_healthy{provider,endpoint}        gauge (0/1; 1 without health_check)
 *   switchyard_rollout_percent                            gauge
 *   switchyard_rollbacks_total{reason}                    counter (success_rate|p95|admin)
 *   switchyard_tokens_total{model,kind}                   counter (kind input|output)
 *   switchyard_cost_usd_total{model}                      counter
 *   switchyard_rate_limited_total                         counter
 *   switchyard_accept_refused_total                       counter (accept() out of fds/memory)
 *   switchyard_retry_budget_exhausted_total{provider}     counter
 *   switchyard_requests_without_usage_total{provider,model} counter
 *   switchyard_budget_spent_usd                           gauge (this month, UTC)
 *   switchyard_budget_limit_usd                           gauge (0: no budget)
 *   switchyard_build_info{version}                        gauge, always 1
 *   switchyard_shared_state_up                            gauge (1 connected; only with shared_state)
 *   switchyard_shared_state_errors_total                  counter (Redis failures seen)
 *
 * A gauge or rare counter family that nothing has set (breaker_* before the
 * breakers call in) is left out of the exposition entirely: no HELP, no TYPE,
 * no made-up 0. docs/metrics.md lists every metric and what is exported when.
 *
 * Series at 0 before their first event: metrics_seed.c declares, from the
 * policy, the label sets traffic will use (sy_metrics_declare_*), so rate() and
 * increase() see the first request and dashboards show every endpoint and arm.
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

/* Declare series at 0 (start-up and reload; any thread, takes mutexes).
 * Idempotent; a series already counting keeps its value. The same cardinality
 * cap applies. code is an HTTP status as in observe_*.
 *   declare_request: requests_total{arm,provider,endpoint,model,code} and
 *                    request_duration_seconds{arm,provider,endpoint}
 *   declare_attempt: upstream_attempts_total{provider,endpoint,code} and
 *                    upstream_ttfb_seconds{provider,endpoint}
 *   declare_fallback: fallbacks_total{from_model,to_model}
 *   declare_model:   tokens_total{model,kind} for both kinds, and
 *                    cost_usd_total{model} when priced
 *   declare_rollbacks: rollbacks_total{reason} */
void sy_metrics_declare_request(const char *arm, const char *provider, const char *endpoint,
                                const char *model, int code);
void sy_metrics_declare_attempt(const char *provider, const char *endpoint, int code);
void sy_metrics_declare_fallback(const char *from_model, const char *to_model);
void sy_metrics_declare_model(const char *model, int priced);
void sy_metrics_declare_rollbacks(const char *reason);
/* breaker_opens_total{provider,endpoint} at 0 (the router context, at bind). */
void sy_metrics_declare_breaker(const char *provider, const char *endpoint);
/* retry_budget_exhausted_total{provider} at 0. */
void sy_metrics_declare_provider(const char *provider);
/* requests_without_usage_total{provider,model} at 0. */
void sy_metrics_declare_without_usage(const char *provider, const char *model);

/* endpoint_healthy for an endpoint without health_check: 1 "by rule". It
 * does not overwrite a value sy_metrics_set_endpoint_healthy gave (a health
 * checker's measurement); a later set_endpoint_healthy replaces it. */
void sy_metrics_assume_endpoint_healthy(const char *provider, const char *endpoint);
/* Drops the endpoint_healthy gauge of every endpoint for which keep() returns
 * 0 (assumed: the value is the by-rule 1, not a measurement), so endpoints a
 * reload removed, or that now have a health_check nobody measured, vanish
 * rather than stay "healthy". keep runs under the family mutex: it must not
 * call back into this registry. */
void sy_metrics_sweep_endpoint_health(int (*keep)(void *ctx, const char *provider,
                                                  const char *endpoint, int assumed),
                                      void *ctx);

/* Hot-path counters (sharded like observe_*). usd that is negative or not
 * finite is ignored. */
void sy_metrics_add_cost(const char *model, double usd);
void sy_metrics_inc_rate_limited(void);
/* A worker's accept() failed for want of descriptors or memory (server.c). */
void sy_metrics_inc_accept_refused(void);
/* A retry was not made: the provider's retry budget was spent (the engine). */
void sy_metrics_inc_retry_budget_exhausted(const char *provider);
/* An upstream answered (2xx) and reported no usage: the request is not
 * priced (observers.c). model is a policy-known name or "other". */
void sy_metrics_inc_without_usage(const char *provider, const char *model);

/* The shared state's Redis (router/shared/redis_client.c, main thread). */
void sy_metrics_set_shared_state_up(int up);
void sy_metrics_inc_shared_state_errors(void);

/* The monthly budget's gauges (budget.c, on the main thread's tick). */
void sy_metrics_set_budget(double spent_usd, double limit_usd);

/* Prometheus text exposition (format 0.0.4), NUL-terminated; *len (if not
 * NULL) gets its length. Caller frees with free(). NULL when out of memory. */
char *sy_metrics_render(size_t *len);

/* Tests only: forget every series and gauge. No observer may run concurrently
 * and every thread that observed before must be idle or gone. */
void sy_metrics_reset_for_tests(void);

#endif
