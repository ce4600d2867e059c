/*
 * planner.h - from a policy and one request, the ordered attempt plan.
 *
 * Pure: no I/O, no clock, no randomness. `explain` prints exactly what this
 * returns, and `serve` walks it.
 *
 * Arm: the first sticky source present (migration.rollout.sticky_by) is hashed
 * with the rollout identity into one of SY_BUCKETS buckets; the request is on
 * the canary when bucket < percent * SY_BUCKETS / 100. Raising the percentage
 * therefore only adds users to the canary. No sticky key: stable.
 *
 * Plan: for the requested model and then each fallback model in order, the
 * arm's provider (canary: only rollout.canary_endpoints) and, on the canary arm
 * with fallback_to_stable, the stable provider; each provider's endpoints in
 * priority order. Steps of one (provider, model) form one route. A provider
 * with `balance: latency` orders the endpoints of each priority by the
 * latency snapshot in the input, lowest first (no sample yet counts as 0, so
 * a new endpoint gets measured); the engine then takes the first usable one.
 *
 * Details (planner.c): only the requested model's own fallback chain is
 * followed, not the chains of its fallback models (the chain a user writes
 * for a model is the whole list of what may answer for it); a model listed
 * twice is tried once, and a (endpoint, model) pair already in the plan is not
 * added again. An empty sticky value counts as absent. Routes are numbered
 * from 0 in the order they first appear; a route whose endpoints were all
 * filtered out gets no number.
 */
#ifndef SY_PLANNER_H
#define SY_PLANNER_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"

#define SY_BUCKETS 10000u
#define SY_PLAN_MAX 64

typedef enum sy_arm { SY_ARM_STABLE = 0, SY_ARM_CANARY = 1 } sy_arm;
const char *sy_arm_name(sy_arm a); /* "stable" | "canary" */

typedef struct sy_plan_step {
    const sy_policy_provider *provider;
    const sy_policy_endpoint *endpoint;
    const char *model;
    unsigned route;    /* steps with the same route share (provider, model) */
    sy_arm arm;        /* the arm this step's provider serves (canary or stable) */
    double latency_ms; /* balance: latency: the peak-EWMA figure the order used; -1 none */
} sy_plan_step;

typedef struct sy_plan {
    sy_arm arm;
    int has_key;       /* 0: no sticky key was present (stable by rule) */
    uint32_t bucket;   /* 0..SY_BUCKETS-1, valid when has_key */
    const char *sticky_source; /* e.g. "header:x-user-id", or NULL */
    sy_plan_step steps[SY_PLAN_MAX];
    size_t n_steps;
    unsigned n_routes;
    int truncated;     /* 1 when the plan had more than SY_PLAN_MAX steps */
    /* Providers left out because their plugin does not serve the request's
     * op (sy_route_input.op), for explain and for the final error. */
    const sy_policy_provider *unserved[4];
    size_t n_unserved;
} sy_plan;

/* What the planner needs to know about one request. */
typedef struct sy_route_input {
    const char *model;
    /* The sticky key already picked by sy_sticky_pick (NULL: none). */
    const char *sticky_key;
    size_t sticky_key_len;
    const char *sticky_source;
    /* The live rollout percentage (runtime state may differ from the policy
     * after a rollback or a promotion step): 0..100. */
    double percent;
    /* balance: latency. A snapshot of the endpoints' peak-EWMA latency in ms
     * (-1: no sample yet), so the planner stays pure. NULL: every provider is
     * ordered by priority alone. */
    double (*latency_ms)(void *ctx, const sy_policy_provider *prov, const sy_policy_endpoint *ep);
    void *latency_ctx;
    /* The operation (plugin.h sy_op): a provider whose plugin does not serve
     * it is left out (sy_plan.unserved). 0: no filter. */
    int op;
} sy_route_input;

/* Stable 64-bit hash of (salt, key): FNV-1a over salt, a 0 byte and key,
 * finished with a 64-bit avalanche mix. Same answer on every machine. */
uint64_t sy_sticky_hash(const char *salt, const char *key, size_t key_len);
uint32_t sy_sticky_bucket(const char *salt, const char *key, size_t key_len);

/* The canary threshold for a percentage, in buckets: llround(percent * 100),
 * clamped to 0..SY_BUCKETS (NaN: 0). A key is on the canary when its bucket
 * is below this. */
uint32_t sy_canary_threshold(double percent);

/* The rollout identity: migration.rollout.id or "<stable>-><canary>". */
const char *sy_rollout_id(const sy_policy *p);

/* Find the sticky key. get_header returns a header's value (name lower-case)
 * or NULL; body_value returns a top-level string field of the JSON body or
 * NULL. Either callback may be NULL. Returns the key (borrowed from the
 * callbacks' storage) and sets *source to e.g. "header:x-user-id". */
const char *sy_sticky_pick(const sy_policy *p,
                           const char *(*get_header)(void *ctx, const char *name),
                           const char *(*body_value)(void *ctx, const char *key), void *ctx,
                           const char **source);

/* An empty plan (n_steps 0, the stable arm). The steps themselves are left
 * as they are: each is written before it is read, and zeroing their 2.5 KB
 * showed in the request path's profile. */
void sy_plan_reset(sy_plan *out);

/* Build the plan. Always succeeds; a policy with nothing usable gives n_steps 0. */
void sy_plan_build(const sy_policy *p, const sy_route_input *in, sy_plan *out);

/* The plan of a request that must go to one place, whatever the arm: a
 * Responses API request naming a stored response, which exists only at the
 * endpoint that created it. Steps: that endpoint only, for in->model and
 * then its fallback chain (a conversation may continue on another model of
 * the same endpoint); an empty model gives one step with "". The arm is the
 * canary's when the provider is the canary. n_steps 0 when the provider or
 * the endpoint is no longer in the policy (or does not serve in->op). */
void sy_plan_build_pinned(const sy_policy *p, const sy_route_input *in, const char *provider,
                          const char *endpoint, sy_plan *out);

#endif
