/*
 * redis_client.h - one connection to Redis, asynchronous on the main
 * thread's libevent loop (hiredis and its libevent adapter).
 *
 * Only the main thread talks to Redis: workers never call this, so no
 * request ever waits on it. The client connects, sends AUTH and SELECT as
 * the URL says, and then takes commands; a reply (or its failure) comes back
 * through a callback on the same loop.
 *
 * Failure handling, in one place:
 * - Connect, AUTH or SELECT failed, the connection broke, or a command went
 *   unanswered for `timeout` (hiredis 0.14 has no command timeout of its own:
 *   a watch timer here checks the oldest unanswered command): the connection
 *   is dropped, every pending callback gets NULL, and a reconnect is tried
 *   after a backoff (100 ms doubling up to 5 s, with jitter).
 * - Each change between up and down is logged once (not every failed retry),
 *   counted (switchyard_shared_state_errors_total counts every failure) and
 *   shown in the gauge switchyard_shared_state_up and in /admin/status.
 * - The password is never printed: messages name the URL without it.
 *
 * A blocking variant (sy_redis_sync_connect) serves `serve`'s start, before
 * any worker runs, to read the fleet's state before the first request.
 */
#ifndef SY_REDIS_CLIENT_H
#define SY_REDIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "redis_url.h"

struct event_base;
struct redisReply;
struct redisContext;
struct cJSON;
typedef struct sy_redis sy_redis;

/* A reply: NULL when the command failed (Redis away, the connection
 * dropped, timed out, or the client is being freed); else the reply, which
 * may be an error reply (REDIS_REPLY_ERROR). Borrowed for the call. */
typedef void (*sy_redis_reply_fn)(void *ctx, struct redisReply *reply);

/* Connects at once (and keeps reconnecting). url is copied (and wiped at
 * free). NULL when out of memory. Main thread. */
sy_redis *sy_redis_new(struct event_base *base, const sy_redis_url *url, int64_t timeout_ms);
/* Drops the connection; pending callbacks get NULL first. Main thread. */
void sy_redis_free(sy_redis *r);

/* Called on the main thread whenever the client comes up (1) or goes down (0). */
void sy_redis_set_listener(sy_redis *r, void (*fn)(void *ctx, int up), void *ctx);

/* Connected and ready (AUTH and SELECT done). Any thread. */
int sy_redis_up(const sy_redis *r);

/* Send a command. 0 when sent (fn will be called exactly once), -1 when
 * Redis is not up (fn is not called). Main thread. */
int sy_redis_command(sy_redis *r, sy_redis_reply_fn fn, void *ctx, int argc, const char **argv,
                     const size_t *lens);
/* The same with NUL-terminated arguments. */
int sy_redis_commandv(sy_redis *r, sy_redis_reply_fn fn, void *ctx, int argc, const char **argv);

/* Count a failure the caller saw in a reply (an error reply to a script):
 * the error counter and last_error, without dropping the connection. */
void sy_redis_note_error(sy_redis *r, const char *what);

/* The "shared_state" object of /admin/status: url (without password),
 * connected, since (Unix seconds of the last change), last_error (or null),
 * errors. Any thread. */
void sy_redis_status(sy_redis *r, struct cJSON *obj);

/* Blocking: connect, AUTH, SELECT within timeout_ms. NULL with a message
 * (never the password) in err. For serve's start only. */
struct redisContext *sy_redis_sync_connect(const sy_redis_url *url, int64_t timeout_ms, char *err,
                                           size_t errlen);

#endif
