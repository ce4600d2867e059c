/*
 * ratelimit.h - the local rate limit (policy rate_limit: rps, burst) as a
 * token bucket, kept as GCRA (the generic cell rate algorithm): one atomic
 * "theoretical arrival time", moved forward by 1/rps per request taken and
 * compared with now. It is the same bucket (burst requests at once, rps
 * refill) without a lock: any thread takes a token with one compare-and-swap,
 * so the request path holds no mutex. The caller passes "now"; the router
 * context holds the process's one bucket (sy_router_rate_limit), so a
 * refused request gets 429 with Retry-After and never reaches an upstream.
 *
 * With shared_state, the router uses the fleet's bucket instead
 * (router/shared/fleet_limit.h), and this one only while Redis is away.
 */
#ifndef SY_RATELIMIT_H
#define SY_RATELIMIT_H

#include <stdatomic.h>
#include <stdint.h>
#include "policy.h"

typedef struct sy_ratelimit {
    _Atomic uint64_t tat; /* ns: when the bucket is full again; 0 = full */
} sy_ratelimit;

/* Take one token. Returns 0 when allowed; else the milliseconds until a
 * token will be there (>= 1). A policy without rate_limit always allows.
 * Any thread. */
int64_t sy_ratelimit_take(sy_ratelimit *b, const sy_rate_limit_conf *rl, uint64_t now_ns);

#endif
