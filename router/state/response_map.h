/*
 * response_map.h - where each stored response of the Responses API lives.
 *
 * A response created with store (the default) exists only at the provider,
 * and perhaps only in the region, that made it: a later request naming it
 * (previous_response_id, GET/DELETE /v1/responses/{id}) must go back there,
 * whatever the rollout says now. The map remembers id -> (provider,
 * endpoint, model) for the ids this router saw created.
 *
 * Bounded and expiring: at most max_entries ids (the oldest forgotten first)
 * for at most ttl. Split into shards, each under its own mutex held for a
 * hash lookup, so workers rarely meet. Only Responses API requests touch it.
 *
 * Nothing is deleted before its time: after a DELETE of the response, a later
 * request naming it still goes to the endpoint that held it (and gets its
 * "not found" there), so the id never reaches another provider.
 *
 * Sharing: a listener hears every put made here (not those that came from a
 * replica), so a shared store (issue 11: Redis) can pass them to other
 * instances, which apply them with sy_response_map_put_replica. Lookups
 * always stay local: no request waits on another machine.
 *
 * Times are wall-clock milliseconds given by the caller (an expiry is
 * meaningful to another instance; tests pass their own).
 */
#ifndef SY_RESPONSE_MAP_H
#define SY_RESPONSE_MAP_H

#include <stddef.h>
#include <stdint.h>

#define SY_RESPONSE_ID_MAX 128 /* longest id accepted (OpenAI's are ~50) */

/* Where a response lives. */
typedef struct sy_response_home {
    char provider[128];
    char endpoint[128];
    char model[260];
} sy_response_home;

typedef struct sy_response_map sy_response_map;

/* Called on the thread that made the put, after the shard's lock is released. */
typedef void (*sy_response_map_listener)(void *ctx, const char *id, const sy_response_home *home,
                                         int64_t expires_ms);

sy_response_map *sy_response_map_new(size_t max_entries, int64_t ttl_ms);
void sy_response_map_free(sy_response_map *m);
/* New bounds (a reload): takes effect for later puts; a smaller bound
 * forgets the oldest ids as new ones arrive. */
void sy_response_map_configure(sy_response_map *m, size_t max_entries, int64_t ttl_ms);
/* Set once, before any worker runs. */
void sy_response_map_set_listener(sy_response_map *m, sy_response_map_listener fn, void *ctx);

/* A valid id: 1..SY_RESPONSE_ID_MAX bytes of [A-Za-z0-9_-]. */
int sy_response_id_valid(const char *id, size_t len);

/* Remember id (replacing an older entry). 0, or -1 for an invalid id or no memory. */
int sy_response_map_put(sy_response_map *m, const char *id, size_t len,
                        const sy_response_home *home, int64_t now_ms);
/* 0 and *out when id is known and not expired; 1 when not. */
int sy_response_map_get(sy_response_map *m, const char *id, size_t len, int64_t now_ms,
                        sy_response_home *out);
/* The same, for a put another instance made: no listener call. */
int sy_response_map_put_replica(sy_response_map *m, const char *id, size_t len,
                                const sy_response_home *home, int64_t expires_ms);

/* Ids held (expired ones not yet dropped included). */
size_t sy_response_map_count(sy_response_map *m);

#endif
