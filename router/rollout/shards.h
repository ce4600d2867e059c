/*
 * shards.h - both arms' windows as serve keeps them: one shard per thread
 * that records attempts, merged when read.
 *
 * Every worker records each finished attempt in its own shard, under the
 * shard's own mutex; the main thread's tick merges all
 * shards, taking each shard's mutex in turn. So a worker only ever waits
 * when the merge is reading its shard at that moment (a few microseconds
 * every 200 ms), never on another worker. Measured with
 * tests/rollout/bench_shards.c on the 2-core build machine: about 50-55 ns
 * of CPU per recorded attempt, with one or two threads recording at once;
 * one window behind one shared mutex costs about the same there (45-50 ns),
 * two cores being too few to show contention. Shards were kept because
 * their cost does not grow with the number of workers (a shared mutex is a
 * cache line every core fights over on a larger machine), as for the
 * metrics registry (metrics.h). Not plain atomics: a slot's reset (when the
 * window slides on) and its counts must change together.
 *
 * Thread-safe. A shard, once made for a thread, lives until the set is freed
 * (serve frees it after every worker stopped).
 */
#ifndef SY_SHARDS_H
#define SY_SHARDS_H

#include <stdint.h>

#include "window.h"

#define SY_SHARD_ARMS 2 /* 0: stable, 1: canary */

typedef struct sy_arm_shards sy_arm_shards;

/* NULL when out of memory. */
sy_arm_shards *sy_arm_shards_new(uint64_t window_ns);
void sy_arm_shards_free(sy_arm_shards *s);

/* A new window length: every shard starts over empty. */
void sy_arm_shards_set_window(sy_arm_shards *s, uint64_t window_ns);
uint64_t sy_arm_shards_window(const sy_arm_shards *s);

/* Record one attempt of arm (0 or 1) that ended at t, in the calling
 * thread's shard (window.h, sy_window_add). Dropped when out of memory. */
void sy_arm_shards_add(sy_arm_shards *s, int arm, uint64_t t, int failed, uint64_t latency_ns);

/* Add to *out what every shard holds for arm in the window ending at now,
 * from the slots that began at or after since (sy_window_collect). */
void sy_arm_shards_collect(sy_arm_shards *s, int arm, uint64_t now, uint64_t since,
                           sy_window_sum *out);

#endif
