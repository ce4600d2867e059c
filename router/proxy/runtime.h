/*
 * runtime.h - state that outlives one policy snapshot: the current snapshot
 * itself, the live canary share, and counters the admin API shows. Keyed
 * by names, so a reload keeps it.
 *
 * The current policy is swapped under a mutex; a request takes a reference at
 * its start (sy_runtime_acquire_cached on a worker: no lock) and finishes on
 * that snapshot even if a reload swaps in another meanwhile.
 */
#ifndef SY_RUNTIME_H
#define SY_RUNTIME_H

#include <stdint.h>
#include "policy.h"

struct sy_plugin_registry;

/* Load the first policy (SY_LOAD_SERVE). Prints diagnostics to stderr.
 * Returns 0 when it loaded. */
int sy_runtime_init(const char *policy_path);
void sy_runtime_shutdown(void);

/* Reload from the same path; an invalid policy is refused and logged, and the
 * old one keeps serving. Returns 0 when the new one took over. */
int sy_runtime_reload(void);

sy_policy *sy_runtime_acquire(void); /* a reference; sy_policy_unref when done */

/* A worker's own reference to the current snapshot, so the request path
 * takes no lock: while the generation is unchanged, acquiring is one atomic
 * increment of the snapshot's count; after a reload, the next acquire
 * refreshes the cache under the lock once. Used by one thread only. */
typedef struct sy_runtime_cache {
    uint64_t gen;
    sy_policy *policy;
} sy_runtime_cache;
sy_policy *sy_runtime_acquire_cached(sy_runtime_cache *c); /* as sy_runtime_acquire */
void sy_runtime_cache_release(sy_runtime_cache *c);
uint64_t sy_runtime_generation(void); /* bumps on every successful (re)load */
int64_t sy_runtime_loaded_at(void);   /* wall seconds */

/* The canary share, in percent: read by every request (an atomic, no lock),
 * set by the rollout (rollout_live.h) on the main thread or an admin call. */
double sy_runtime_percent(void);
void sy_runtime_set_percent(double percent);

#endif
