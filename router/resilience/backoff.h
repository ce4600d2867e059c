/*
 * backoff.h - the shared retry timing: exponential backoff with jitter, and
 * Retry-After / retry-after-ms parsing. Pure functions; randomness from rng.h.
 */
#ifndef SY_BACKOFF_H
#define SY_BACKOFF_H

#include <stdint.h>
#include "policy.h"

/* Delay before retry number `retry` (1 = the first retry):
 * cap = min(max, base * 2^(retry-1)); full jitter: uniform [0, cap];
 * equal: cap/2 + uniform [0, cap/2]; none: cap. */
int64_t sy_backoff_delay_ms(const sy_retry_conf *rc, int retry);

/* Parse Retry-After (delta seconds or an HTTP date, relative to now_wall_s)
 * or retry-after-ms. Returns milliseconds >= 0, or -1 when absent/invalid. */
int64_t sy_retry_after_ms(const char *retry_after, const char *retry_after_ms,
                          int64_t now_wall_s);

/* The delay to wait before retrying the same route: the backoff, raised to
 * the server's Retry-After when honoured. Returns SY_RETRY_NO_WAIT when the
 * honoured Retry-After is longer than retry_after.max: the caller must not
 * wait that long (nor a shortened time, which the server asked not to); it
 * moves on to the next route instead. */
#define SY_RETRY_NO_WAIT (-1)
int64_t sy_retry_delay_ms(const sy_retry_conf *rc, int retry, int64_t retry_after_ms);

#endif
