/*
 * metrics_seed.h - the series a policy implies, declared at 0 before traffic.
 *
 * Called at start-up and after every reload, so that every provider,
 * endpoint and arm of the policy is on /metrics from the first scrape:
 * rate() and increase() then count the very first request (a counter series
 * that appears at 1 loses that increment), and dashboards list idle arms and
 * endpoints instead of leaving holes. docs/metrics.md says which label sets
 * are declared; in short:
 *   - requests_total with code="200" and request_duration_seconds, for each
 *     arm the policy can route (stable: the stable provider's endpoints;
 *     canary: the canary provider's rollout.canary_endpoints) and each model
 *     label the router can use (every model the policy names, and "other");
 *   - upstream_attempts_total with code="200" and upstream_ttfb_seconds for
 *     every endpoint of every provider;
 *   - endpoint_healthy 1 for every endpoint without health_check (spec.md);
 *     endpoints with a health_check get a value only from a health checker,
 *     and endpoints a reload removed lose theirs;
 *   - fallbacks_total for every pair of models.fallbacks, tokens_total for
 *     every model, cost_usd_total for every model with a price;
 *   - rollbacks_total{reason="admin"} (POST /admin/rollout is live).
 * Nothing here is a measurement: only zeros of counters that have seen no
 * event yet, and the health rule spec.md gives.
 */
#ifndef SY_METRICS_SEED_H
#define SY_METRICS_SEED_H

#include "policy.h"

void sy_metrics_seed_policy(const sy_policy *p);

#endif
