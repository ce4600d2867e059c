/*
 * runtime.h - state that outlives one policy snapshot: the current snapshot
 * itself, the live rollout (percent and state), and counters the admin API
 * shows. Keyed by names, so a reload keeps it.
 *
 * The current policy is swapped under a mutex; a request takes a reference at
 * its start (sy_runtime_acquire) and finishes on that snapshot even if a
 * reload swaps in another meanwhile.
 */
#ifndef SY_RUNTIME_H
#define SY_RUNTIME_H

#include <stdint.h>
#include "policy.h"

struct sy_plugin_registry;

typedef enum sy_rollout_state {
    SY_ROLLOUT_ACTIVE = 0,
    SY_ROLLOUT_PAUSED,
    SY_ROLLOUT_ROLLED_BACK,
} sy_rollout_state;
const char *sy_rollout_state_name(sy_rollout_state s);

/* Load the first policy (SY_LOAD_SERVE). Prints diagnostics to stderr.
 * Returns 0 when it loaded. */
int sy_runtime_init(const char *policy_path);
void sy_runtime_shutdown(void);

/* Reload from the same path; an invalid policy is refused and logged, and the
 * old one keeps serving. Returns 0 when the new one took over. */
int sy_runtime_reload(void);

sy_policy *sy_runtime_acquire(void); /* a reference; sy_policy_unref when done */
uint64_t sy_runtime_generation(void); /* bumps on every successful (re)load */
int64_t sy_runtime_loaded_at(void);   /* wall seconds */

/* The live rollout. */
double sy_runtime_percent(void);
sy_rollout_state sy_runtime_rollout_state(void);
/* Admin actions; return 0 or -1 with a message. */
int sy_runtime_rollout_action(const char *action, double percent, char *err, size_t errlen);

#endif
