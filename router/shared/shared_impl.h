/*
 * shared_impl.h - what the parts of router/shared/ have in common: the
 * connection, the key prefix, this instance's name. Private to router/shared.
 *
 * Keys (all under shared_state.prefix, "switchyard:" by default):
 *   rollout:ID            hash {version, state, record}: the fleet's rollout
 *   windows:ID            sorted set: instances publishing windows, by last time
 *   window:ID:INSTANCE    string (short expiry): that instance's window slots
 *   ratelimit             hash {tokens, ts}: the fleet's token bucket
 *   budget:YYYY-MM        integer: the month's spend, nano-dollars
 *   resp:ID               string (expiry = responses.map_ttl): where a response lives
 *   resp-log              stream: puts and deletes of the response map, in order
 */
#ifndef SY_SHARED_IMPL_H
#define SY_SHARED_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "redis_client.h"
#include "redis_url.h"

struct redisReply;
typedef struct sy_fleet_rollout sy_fleet_rollout;
typedef struct sy_fleet_limit sy_fleet_limit;
typedef struct sy_fleet_budget sy_fleet_budget;
typedef struct sy_fleet_responses sy_fleet_responses;

typedef struct sy_shared_core {
    sy_redis_url url;
    char *prefix;
    int64_t timeout_ms;
    char instance[128];     /* host:pid:random, unique in the fleet */
    sy_redis *redis;        /* NULL before the main loop runs and after it stopped; main thread */
    atomic_int up;          /* Redis connected and ready: what any thread reads */
} sy_shared_core;

/* prefix + the formatted rest, malloc'd; NULL when out of memory. */
char *sy_shared_key(const sy_shared_core *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Redis is up (the main loop runs and the connection is ready). Any thread. */
int sy_shared_up(const sy_shared_core *c);

/* Reply helpers: an integer (also from a string holding one) or a string. */
int sy_reply_int(const struct redisReply *r, long long *out);
/* The string of a string reply (NUL-terminated by hiredis), or NULL. */
const char *sy_reply_str(const struct redisReply *r, size_t *len);

#endif
