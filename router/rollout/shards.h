/*
 * shards.h - both arms' windows as serve keeps them: one shard per thread
 * that records attempts, merged when read.
 *
 * A worker records each finished attempt in its own shard and takes no lock
 * to do it. A shard has one writer, its owner, and a sequence counter (a
 * seqlock): the owner makes it odd before it changes the shard and even
 * after. The main thread's tick merges the shards: it copies what it needs
 * of a shard's window (each slot's counts, and only the histogram buckets in
 * use) and keeps the copy only if the counter was even and unchanged around
 * it, else it tries again. An owner recording without pause could spoil
 * every try, so after two the reader asks it for a copy, which the owner
 * makes after its next add; a reader whose owner was put aside in the middle
 * of an add yields, then sleeps, until the add is done. So recording never
 * waits on anyone; only the merge may retry or wait.
 *
 * A new window length (set_window) starts a new generation: the merge skips
 * a shard made for an older one, without changing it, until its owner's next
 * add starts it over at the new length.
 *
 * Not plain atomics: a slot's reset (when the window slides on) and its
 * counts and latency histogram must change together. The copy reads what the
 * owner may be writing: a data race by the letter of C11, as in every seqlock
 * over plain data (a thread sanitizer reports it); a torn copy is thrown away,
 * and made in bounds whatever it read (shards.c, copy_window).
 *
 * Measured with tests/rollout/bench_shards.c on the 2-core build machine
 * (busy with other builds; CPU time; the medians of two sessions of 8 runs
 * each, interleaved with the mutex-per-shard version this replaced):
 * recording one attempt costs 42-44 ns with one thread recording and 42-43
 * ns with two (a mutex per shard: 49-54 and 46-52 ns; a window of the
 * thread's own and no lock at all: 31-33 ns; one window behind one shared
 * mutex: 44-51 ns, and 50-130 ns with two threads fighting over it). A
 * merge of one arm costs 0.3 µs per shard when nobody records (the mutex
 * version: 0.1 µs); while the bench's threads record without pause, 5-19 µs
 * with one and 26-30 µs with two (the mutex version: 5 and 7-9 µs), the
 * reader now retrying and waiting instead of the writers. serve's workers
 * record once per request, so a copy is seldom spoilt, and its tick merges
 * every 200 ms. A window is 27,728 bytes; a shard holds three (both arms,
 * and the copy it hands a reader that asked).
 *
 * Shards rather than one window for every thread: one writer per shard is
 * what lets recording go without a lock, and their cost does not grow with
 * the number of workers (as for the metrics registry, metrics.h).
 *
 * Thread-safe. A shard, once made for a thread, lives until the set is freed
 * (serve frees it after every worker stopped). The list of shards keeps a
 * mutex: taken once per thread, when its shard is made, and by each merge,
 * which it also makes take turns.
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

/* A new window length: every shard starts over empty (also when the length
 * is set back to one it had). One thread sets it. */
void sy_arm_shards_set_window(sy_arm_shards *s, uint64_t window_ns);
uint64_t sy_arm_shards_window(const sy_arm_shards *s);

/* Record one attempt of arm (0 or 1) that ended at t, in the calling
 * thread's shard (window.h, sy_window_add); takes no lock (the first call of
 * a thread makes its shard). Dropped when out of memory. */
void sy_arm_shards_add(sy_arm_shards *s, int arm, uint64_t t, int failed, uint64_t latency_ns);

/* Add to *out what every shard holds for arm in the window ending at now,
 * from the slots that began at or after since (sy_window_collect), each
 * shard as its owner left it between two adds. */
void sy_arm_shards_collect(sy_arm_shards *s, int arm, uint64_t now, uint64_t since,
                           sy_window_sum *out);

#endif
