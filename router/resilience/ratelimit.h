/*
 * ratelimit.h - the local rate limit (policy rate_limit: rps, burst): one
 * token bucket for the whole process, shared by every worker. A refused
 * request gets 429 with Retry-After and never reaches an upstream.
 */
#ifndef SY_RATELIMIT_H
#define SY_RATELIMIT_H

#include <stdint.h>
#include "policy.h"

/* Take one token. Returns 0 when allowed; else the milliseconds until a
 * token will be there (>= 1). A policy without rate_limit always allows. */
int64_t sy_ratelimit_take(const sy_rate_limit_conf *rl, uint64_t now_ns);

/* Forget the bucket (tests). */
void sy_ratelimit_reset(void);

#endif
