/*
 * retry_budget.h - retries may add at most `ratio` load on top of the
 * requests, plus a floor of `min_per_second` retries (retry.budget).
 *
 * Kept as a sliding window of one-second buckets (SY_RETRY_BUDGET_SECONDS of
 * them) counting requests and retries. A retry is allowed when
 *   retries_in_window + 1 <= ratio * requests_in_window
 *                            + min_per_second * SY_RETRY_BUDGET_SECONDS
 * So at 200 requests/s, ratio 0.2 and a floor of 10/s, a storm in which every
 * attempt fails sends at most about 1.25x the requests upstream, not
 * max_attempts times. (Finagle's RetryBudget and Envoy's retry budget make the
 * same trade: a ratio, and a floor so that a quiet service may still retry.)
 *
 * The caller passes "now". Thread-safe without a lock: each bucket is one
 * atomic word holding its second and its count, so a request is counted by
 * one compare-and-swap on the request path. Two workers taking the last
 * retry of a window at the same instant may both get it: the budget can be
 * overdrawn by one retry per worker racing, never more.
 */
#ifndef SY_RETRY_BUDGET_H
#define SY_RETRY_BUDGET_H

#include <stdatomic.h>
#include <stdint.h>

#define SY_RETRY_BUDGET_SECONDS 10

typedef struct sy_retry_budget {
    /* per bucket: the second (now / 1e9, low 32 bits) << 32 | its count */
    _Atomic uint64_t requests[SY_RETRY_BUDGET_SECONDS];
    _Atomic uint64_t retries[SY_RETRY_BUDGET_SECONDS];
    _Atomic uint64_t exhausted; /* retries refused, ever */
} sy_retry_budget;

void sy_retry_budget_init(sy_retry_budget *b);
/* A new client request (its first attempt is not a retry). */
void sy_retry_budget_request(sy_retry_budget *b, uint64_t now_ns);
/* May one retry be made now? On yes it is counted as made. */
int sy_retry_budget_take(sy_retry_budget *b, double ratio, double min_per_second,
                         uint64_t now_ns);

#endif
