/*
 * ratelimit.h - the local rate limit (policy rate_limit: rps, burst) as a
 * token bucket. Pure: the caller passes "now" and serialises calls; the
 * router context holds the process's one bucket (sy_router_rate_limit), so a
 * refused request gets 429 with Retry-After and never reaches an upstream.
 */
#ifndef SY_RATELIMIT_H
#define SY_RATELIMIT_H

#include <stdint.h>
#include "policy.h"

typedef struct sy_ratelimit {
    double tokens;
    uint64_t last_ns;
    int primed; /* 0: full at the first take */
} sy_ratelimit;

/* Take one token. Returns 0 when allowed; else the milliseconds until a
 * token will be there (>= 1). A policy without rate_limit always allows. */
int64_t sy_ratelimit_take(sy_ratelimit *b, const sy_rate_limit_conf *rl, uint64_t now_ns);

#endif
