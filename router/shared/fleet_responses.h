/*
 * fleet_responses.h - the Responses API's map from response id to the
 * provider and endpoint that hold it (state/response_map.h), shared by the
 * fleet, so a conversation continues through any instance.
 *
 * Lookups stay local: every instance keeps the whole map in memory. What is
 * shared is each change: a put made here is queued by the worker
 * that made it (a lock-free list: the request path takes no lock and never
 * waits on Redis) and written by the main thread's tick to
 *   resp:ID     the entry itself, expiring with it (for operators and tools)
 *   resp-log    a stream of every put, trimmed to about
 *               responses.map_size entries
 * and every instance reads the stream from where it stopped, each tick, and
 * applies the others' changes to its own map (as replicas: not shared again).
 * An instance that starts reads the stream from its beginning, so it knows
 * the ids the fleet made before it came (within map_size). Redis away: the
 * changes made meanwhile wait in the queue (up to map_size of them) and the
 * instance reads on from where it stopped when Redis is back.
 */
#ifndef SY_FLEET_RESPONSES_H
#define SY_FLEET_RESPONSES_H

#include "shared_impl.h"

struct sy_response_map;

/* Listens to map's changes (sy_response_map_set_listener): before any worker. */
sy_fleet_responses *sy_fleet_responses_new(sy_shared_core *core, struct sy_response_map *map,
                                           size_t max_queue);
void sy_fleet_responses_free(sy_fleet_responses *f);
void sy_fleet_responses_configure(sy_fleet_responses *f, size_t max_queue);

/* Main thread, every tick: write what is queued, read the others' changes. */
void sy_fleet_responses_tick(sy_fleet_responses *f);

#endif
