/* runtime.c - the live policy snapshot and rollout state (see runtime.h). */
#include "runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "metrics_seed.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sy_policy *current;
static char *policy_path;
static sy_plugin_registry registry;
static int registry_ready;
static _Atomic uint64_t generation;
static _Atomic int64_t loaded_at;
/* The canary share in basis points, so the request path reads it without a
 * lock. The rollout (rollout_live.c) decides it and publishes it here. */
static _Atomic int32_t percent_bp;

void sy_runtime_set_percent(double p)
{
    atomic_store(&percent_bp, (int32_t)(p * 100.0 + 0.5));
    sy_metrics_set_rollout_percent(p);
}

static sy_policy *load(sy_diags *d)
{
    sy_policy *p = sy_policy_load(policy_path, SY_LOAD_SERVE, &registry, d);
    return p;
}

int sy_runtime_init(const char *path)
{
    policy_path = strdup(path);
    sy_plugin_registry_init(&registry, NULL, 0);
    registry_ready = 1;
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = load(&d);
    sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    if (!p) return -1;
    current = p;
    atomic_store(&generation, 1);
    atomic_store(&loaded_at, (int64_t)time(NULL));
    sy_runtime_set_percent(0); /* until the rollout publishes the share */
    sy_metrics_seed_policy(p);
    return 0;
}

void sy_runtime_shutdown(void)
{
    pthread_mutex_lock(&lock);
    if (current) sy_policy_unref(current);
    current = NULL;
    pthread_mutex_unlock(&lock);
    if (registry_ready) sy_plugin_registry_free(&registry);
    registry_ready = 0;
    free(policy_path);
    policy_path = NULL;
}

int sy_runtime_reload(void)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = load(&d);
    if (!p) {
        sy_log_error("reload of %s refused; the running policy keeps serving:", policy_path);
        sy_diags_print(&d, stderr);
        sy_diags_free(&d);
        return -1;
    }
    if (d.n) sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    sy_metrics_seed_policy(p); /* still ours alone: no request sees it yet */
    pthread_mutex_lock(&lock);
    sy_policy *old = current;
    current = p;
    pthread_mutex_unlock(&lock);
    if (old) sy_policy_unref(old); /* requests in flight hold their own references */
    atomic_fetch_add(&generation, 1);
    atomic_store(&loaded_at, (int64_t)time(NULL));
    sy_log_info("reloaded %s (generation %llu)", policy_path, (unsigned long long)atomic_load(&generation));
    return 0;
}

sy_policy *sy_runtime_acquire(void)
{
    pthread_mutex_lock(&lock);
    sy_policy *p = current ? sy_policy_ref(current) : NULL;
    pthread_mutex_unlock(&lock);
    return p;
}

sy_policy *sy_runtime_acquire_cached(sy_runtime_cache *c)
{
    uint64_t g = atomic_load_explicit(&generation, memory_order_acquire);
    if (!c->policy || c->gen != g) {
        /* The generation is read before the snapshot: if a reload lands in
         * between, the cache holds the new policy under the old number and
         * refreshes once more next time, never the other way round. */
        sy_policy *p = sy_runtime_acquire();
        if (c->policy) sy_policy_unref(c->policy);
        c->policy = p;
        c->gen = g;
    }
    return c->policy ? sy_policy_ref(c->policy) : NULL;
}

void sy_runtime_cache_release(sy_runtime_cache *c)
{
    if (c->policy) sy_policy_unref(c->policy);
    c->policy = NULL;
    c->gen = 0;
}

uint64_t sy_runtime_generation(void) { return atomic_load(&generation); }
int64_t sy_runtime_loaded_at(void) { return atomic_load(&loaded_at); }
double sy_runtime_percent(void) { return atomic_load(&percent_bp) / 100.0; }
