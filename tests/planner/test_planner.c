/*
 * test_planner.c - the sticky hash, the arm decision and the attempt plan,
 * on policies built by hand (no loader, no plugins).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner.h"

/* ------------------------------------------------------------ fixtures */

/* A policy shaped like policies/holysheep-migration.yaml. */
typedef struct fixture {
    sy_policy p;
    sy_policy_provider prov[2];
    sy_policy_endpoint official[1];
    sy_policy_endpoint hs[4];
    sy_sticky_source sticky[2];
    char *canary_eps[2];
    sy_fallback_chain chains[2];
    char *chain_gpt41[3];
    char *chain_claude[2];
} fixture;

static void endpoint(sy_policy_endpoint *ep, const char *name, const char *url, int prio)
{
    memset(ep, 0, sizeof *ep);
    ep->name = (char *)name;
    ep->base_url = (char *)url;
    ep->priority = prio;
}

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    endpoint(&f->official[0], "global", "https://api.openai.com/v1", 100);
    endpoint(&f->hs[0], "cn-north", "https://cn-north.holysheep.ai/v1", 1);
    endpoint(&f->hs[1], "cn-east", "https://cn-east.holysheep.ai/v1", 2);
    endpoint(&f->hs[2], "cn-south", "https://cn-south.holysheep.ai/v1", 3);
    endpoint(&f->hs[3], "us-west", "https://us-west.holysheep.ai/v1", 99);
    f->prov[0].name = (char *)"openai-official";
    f->prov[0].endpoints = f->official;
    f->prov[0].n_endpoints = 1;
    f->prov[1].name = (char *)"holysheep";
    f->prov[1].endpoints = f->hs;
    f->prov[1].n_endpoints = 4;
    f->p.providers = f->prov;
    f->p.n_providers = 2;

    f->chain_gpt41[0] = (char *)"gpt-4o";
    f->chain_gpt41[1] = (char *)"gpt-4o-mini";
    f->chain_gpt41[2] = (char *)"claude-sonnet-4.5";
    f->chain_claude[0] = (char *)"claude-3-5-sonnet";
    f->chain_claude[1] = (char *)"gemini-2.5-flash";
    f->chains[0] = (sy_fallback_chain){.model = (char *)"gpt-4.1", .to = f->chain_gpt41, .n_to = 3};
    f->chains[1] = (sy_fallback_chain){
        .model = (char *)"claude-sonnet-4.5", .to = f->chain_claude, .n_to = 2};
    f->p.fallbacks = f->chains;
    f->p.n_fallbacks = 2;

    f->sticky[0] = (sy_sticky_source){SY_STICKY_HEADER, (char *)"x-user-id",
                                      (char *)"header:x-user-id"};
    f->sticky[1] = (sy_sticky_source){SY_STICKY_BODY, (char *)"user", (char *)"body:user"};
    f->canary_eps[0] = (char *)"cn-north";
    f->canary_eps[1] = (char *)"cn-east";

    sy_migration_conf *m = &f->p.migration;
    m->enabled = 1;
    m->stable = 0;
    m->canary = 1;
    m->rollout_id = (char *)"holysheep-2026";
    m->percent = 10;
    m->sticky = f->sticky;
    m->n_sticky = 2;
    m->canary_endpoints = f->canary_eps;
    m->n_canary_endpoints = 2;
    m->fallback_to_stable = 1;
}

/* A request: a few headers and top-level body strings. */
typedef struct req {
    const char *hname[4], *hval[4];
    const char *bkey[4], *bval[4];
} req;

static const char *get_header(void *ctx, const char *name)
{
    req *r = ctx;
    for (int i = 0; i < 4 && r->hname[i]; i++)
        if (!strcmp(r->hname[i], name)) return r->hval[i];
    return NULL;
}

static const char *body_value(void *ctx, const char *key)
{
    req *r = ctx;
    for (int i = 0; i < 4 && r->bkey[i]; i++)
        if (!strcmp(r->bkey[i], key)) return r->bval[i];
    return NULL;
}

/* Plan for model with key as the value of the policy's first sticky source. */
static void plan_for(const sy_policy *p, const char *model, const char *key, double percent,
                     sy_plan *out)
{
    sy_route_input in = {.model = model, .percent = percent};
    if (key) {
        in.sticky_key = key;
        in.sticky_key_len = strlen(key);
        in.sticky_source = "header:x-user-id";
    }
    sy_plan_build(p, &in, out);
}

static int is_canary(const char *salt, const char *key, double percent)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.rollout_id = (char *)salt;
    sy_plan plan;
    plan_for(&f.p, "gpt-4.1", key, percent, &plan);
    return plan.arm == SY_ARM_CANARY;
}

/* Find a key "k<N>" whose bucket is exactly b. */
static void key_with_bucket(const char *salt, uint32_t b, char *buf, size_t cap)
{
    for (unsigned i = 0; i < 10000000u; i++) {
        snprintf(buf, cap, "k%u", i);
        if (sy_sticky_bucket(salt, buf, strlen(buf)) == b) return;
    }
    cr_assert_fail("no key found with bucket %u", b);
}

static void expect_step(const sy_plan *p, size_t i, const char *prov, const char *ep,
                        const char *model, unsigned route, sy_arm arm)
{
    cr_assert_lt(i, p->n_steps, "step %zu missing (n_steps %zu)", i, p->n_steps);
    const sy_plan_step *s = &p->steps[i];
    cr_expect_str_eq(s->provider->name, prov, "step %zu provider", i);
    cr_expect_str_eq(s->endpoint->name, ep, "step %zu endpoint", i);
    cr_expect_str_eq(s->model, model, "step %zu model", i);
    cr_expect_eq(s->route, route, "step %zu route %u, want %u", i, s->route, route);
    cr_expect_eq(s->arm, arm, "step %zu arm", i);
}

/* ------------------------------------------------------------ the hash */

/* These values are part of the user contract: a user's arm must not change
 * when switchyard is upgraded. They were computed once (and cross-checked by
 * an independent Python implementation of FNV-1a 64 + murmur3 fmix64) and
 * must NEVER be changed to make a test pass. */
Test(planner, hash_vectors_are_pinned)
{
    static const struct {
        const char *salt;
        const char *key;
        size_t key_len;
        uint64_t hash;
        uint32_t bucket;
    } v[] = {
        {"", "", 0, 0xb9034ad37056f5fbull, 2267},
        {"holysheep-2026", "user-1", 6, 0x9dfc736a12e0df9bull, 6075},
        {"holysheep-2026", "user-2", 6, 0xb73683a1aadae5beull, 3406},
        {"openai-official->holysheep", "alice", 5, 0x7bb2622c03e44676ull, 7862},
        {"ab", "c", 1, 0xc87d91e7dc16f99dull, 5309},
        {"a", "bc", 2, 0xdf52f2b01fb62dc7ull, 2375},
        /* high bytes and an embedded NUL: byte-wise, length-delimited */
        {"salt", "\xff\x80\x00z", 4, 0x21e8d34390a9f5d1ull, 1265},
        /* UTF-8 user id */
        {"holysheep-2026", "\xe7\x94\xa8\xe6\x88\xb7-42", 9, 0xf3802efd7b35fd3aull, 1802},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint64_t h = sy_sticky_hash(v[i].salt, v[i].key, v[i].key_len);
        cr_expect_eq(h, v[i].hash, "vector %zu: hash 0x%016llx, pinned 0x%016llx", i,
                     (unsigned long long)h, (unsigned long long)v[i].hash);
        cr_expect_eq(sy_sticky_bucket(v[i].salt, v[i].key, v[i].key_len), v[i].bucket,
                     "vector %zu bucket", i);
    }
}

Test(planner, hash_separates_salt_and_key_and_uses_key_len)
{
    /* "ab"+"c" and "a"+"bc" must differ: the 0 byte separates them. */
    cr_expect_neq(sy_sticky_hash("ab", "c", 1), sy_sticky_hash("a", "bc", 2));
    /* key_len, not strlen, bounds the key. */
    cr_expect_eq(sy_sticky_hash("s", "user-1xyz", 6), sy_sticky_hash("s", "user-1", 6));
    cr_expect_neq(sy_sticky_hash("s", "a\0b", 3), sy_sticky_hash("s", "a", 1));
    /* NULL salt hashes like the empty salt. */
    cr_expect_eq(sy_sticky_hash(NULL, "k", 1), sy_sticky_hash("", "k", 1));
    cr_expect_eq(sy_sticky_bucket(NULL, NULL, 0), 2267u);
}

Test(planner, buckets_are_in_range)
{
    char key[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "%d", i);
        cr_assert_lt(sy_sticky_bucket("r", key, strlen(key)), SY_BUCKETS);
    }
}

/* ------------------------------------------------------------ the arm */

Test(planner, ten_percent_puts_close_to_ten_percent_on_canary)
{
    const char *salts[] = {"holysheep-2026", "openai-official->holysheep", ""};
    for (size_t s = 0; s < 3; s++) {
        int canary = 0, n = 20000;
        unsigned deciles[10] = {0};
        char key[32];
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "user-%d", i);
            canary += is_canary(salts[s], key, 10);
            deciles[sy_sticky_bucket(salts[s], key, strlen(key)) / 1000]++;
        }
        double share = (double)canary / n;
        cr_expect(share >= 0.09 && share <= 0.11, "salt '%s': canary share %.4f", salts[s],
                  share);
        /* Every tenth of the bucket space gets its share too (2000 +- 15%). */
        for (int d = 0; d < 10; d++)
            cr_expect(deciles[d] > 1700 && deciles[d] < 2300, "salt '%s' decile %d: %u",
                      salts[s], d, deciles[d]);
    }
}

Test(planner, raising_the_percent_only_adds_canary_users)
{
    const double steps[] = {0, 0.01, 1, 10, 25, 50, 99.99, 100};
    const size_t n_steps = sizeof steps / sizeof steps[0];
    char key[32];
    int at10 = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "u%d@example.com", i);
        int was = 0;
        for (size_t s = 0; s < n_steps; s++) {
            int c = is_canary("holysheep-2026", key, steps[s]);
            if (steps[s] == 0) cr_assert_eq(c, 0, "%s canary at 0%%", key);
            if (steps[s] == 100) cr_assert_eq(c, 1, "%s not canary at 100%%", key);
            cr_assert(!(was && !c), "%s left the canary going to %g%%", key, steps[s]);
            if (steps[s] == 10) at10 += c;
            was = c;
        }
    }
    cr_expect(at10 > 400 && at10 < 600, "canary at 10%%: %d of 5000", at10);
}

Test(planner, threshold_is_bucket_below_percent_basis_points)
{
    char key[32];
    sy_plan plan;
    fixture f;
    fixture_init(&f);
    const char *salt = f.p.migration.rollout_id;

    key_with_bucket(salt, 999, key, sizeof key);
    plan_for(&f.p, "gpt-4.1", key, 10, &plan);
    cr_expect_eq(plan.bucket, 999u);
    cr_expect_eq(plan.arm, SY_ARM_CANARY, "bucket 999 < 1000");

    key_with_bucket(salt, 1000, key, sizeof key);
    plan_for(&f.p, "gpt-4.1", key, 10, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE, "bucket 1000 is not < 1000");
    plan_for(&f.p, "gpt-4.1", key, 10.01, &plan); /* threshold 1001 */
    cr_expect_eq(plan.arm, SY_ARM_CANARY);

    key_with_bucket(salt, 0, key, sizeof key);
    plan_for(&f.p, "gpt-4.1", key, 0.01, &plan); /* threshold 1 */
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    plan_for(&f.p, "gpt-4.1", key, 0.004, &plan); /* rounds to 0 */
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    plan_for(&f.p, "gpt-4.1", key, 0, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);

    key_with_bucket(salt, 1249, key, sizeof key);
    plan_for(&f.p, "gpt-4.1", key, 12.5, &plan); /* threshold 1250 */
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    plan_for(&f.p, "gpt-4.1", key, 12.49, &plan); /* threshold 1249 */
    cr_expect_eq(plan.arm, SY_ARM_STABLE);

    key_with_bucket(salt, SY_BUCKETS - 1, key, sizeof key);
    plan_for(&f.p, "gpt-4.1", key, 99.99, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    plan_for(&f.p, "gpt-4.1", key, 100, &plan);
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    /* Out of range percentages clamp; NaN is 0. */
    plan_for(&f.p, "gpt-4.1", key, 250, &plan);
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    plan_for(&f.p, "gpt-4.1", key, NAN, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    plan_for(&f.p, "gpt-4.1", key, -5, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
}

Test(planner, no_sticky_key_goes_to_stable)
{
    fixture f;
    fixture_init(&f);
    sy_plan plan;
    plan_for(&f.p, "gpt-4.1", NULL, 100, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    cr_expect_eq(plan.has_key, 0);
    cr_expect_null(plan.sticky_source);
    cr_expect_str_eq(plan.steps[0].provider->name, "openai-official");

    /* An empty key handed in directly is no key either. */
    sy_route_input in = {.model = "gpt-4o", .percent = 100, .sticky_key = "",
                         .sticky_key_len = 0, .sticky_source = "header:x-user-id"};
    sy_plan_build(&f.p, &in, &plan);
    cr_expect_eq(plan.has_key, 0);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    cr_expect_null(plan.sticky_source);
}

Test(planner, migration_disabled_is_always_stable)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.enabled = 0;
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        sy_plan plan;
        plan_for(&f.p, "gpt-4o", key, 100, &plan);
        cr_assert_eq(plan.arm, SY_ARM_STABLE);
        cr_assert_eq(plan.has_key, 1, "the bucket is still reported");
        for (size_t s = 0; s < plan.n_steps; s++)
            cr_assert_str_eq(plan.steps[s].provider->name, "openai-official");
    }
}

Test(planner, arm_name)
{
    cr_expect_str_eq(sy_arm_name(SY_ARM_STABLE), "stable");
    cr_expect_str_eq(sy_arm_name(SY_ARM_CANARY), "canary");
}

Test(planner, rollout_id)
{
    fixture f;
    fixture_init(&f);
    cr_expect_str_eq(sy_rollout_id(&f.p), "holysheep-2026");
    f.p.migration.rollout_id = NULL;
    cr_expect_str_eq(sy_rollout_id(&f.p), "");
    cr_expect_str_eq(sy_rollout_id(NULL), "");
}

/* ------------------------------------------------------------ sticky pick */

Test(planner, sticky_pick_first_present_source_wins)
{
    fixture f;
    fixture_init(&f);
    const char *src;

    req both = {.hname = {"x-user-id"}, .hval = {"hdr-user"},
                .bkey = {"model", "user"}, .bval = {"gpt-4.1", "body-user"}};
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, body_value, &both, &src), "hdr-user");
    cr_expect_str_eq(src, "header:x-user-id");

    req body_only = {.bkey = {"user"}, .bval = {"body-user"}};
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, body_value, &body_only, &src),
                     "body-user");
    cr_expect_str_eq(src, "body:user");

    /* Body listed first: the body wins over the header. */
    sy_sticky_source rev[2] = {f.sticky[1], f.sticky[0]};
    f.p.migration.sticky = rev;
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, body_value, &both, &src), "body-user");
    cr_expect_str_eq(src, "body:user");
}

Test(planner, sticky_pick_none_present)
{
    fixture f;
    fixture_init(&f);
    const char *src = "junk";
    req other = {.hname = {"x-tenant"}, .hval = {"t1"}, .bkey = {"model"}, .bval = {"m"}};
    cr_expect_null(sy_sticky_pick(&f.p, get_header, body_value, &other, &src));
    cr_expect_null(src);
    /* Empty values are no key: they would all land in one bucket. */
    req empty = {.hname = {"x-user-id"}, .hval = {""}, .bkey = {"user"}, .bval = {""}};
    cr_expect_null(sy_sticky_pick(&f.p, get_header, body_value, &empty, &src));
    /* Missing callbacks and a NULL source pointer are fine. */
    cr_expect_null(sy_sticky_pick(&f.p, NULL, NULL, &other, NULL));
    req hdr = {.hname = {"x-user-id"}, .hval = {"u"}};
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, NULL, &hdr, NULL), "u");
    cr_expect_null(sy_sticky_pick(NULL, get_header, body_value, &hdr, &src));
}

Test(planner, sticky_pick_defaults_without_sources)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.sticky = NULL;
    f.p.migration.n_sticky = 0;
    const char *src;
    req body_only = {.bkey = {"user"}, .bval = {"b"}};
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, body_value, &body_only, &src), "b");
    cr_expect_str_eq(src, "body:user");
}

Test(planner, sticky_pick_without_label_names_the_source)
{
    fixture f;
    fixture_init(&f);
    f.sticky[0].label = NULL;
    const char *src;
    req hdr = {.hname = {"x-user-id"}, .hval = {"u"}};
    cr_expect_str_eq(sy_sticky_pick(&f.p, get_header, body_value, &hdr, &src), "u");
    cr_expect_str_eq(src, "x-user-id");
}

Test(planner, picked_key_feeds_the_plan)
{
    fixture f;
    fixture_init(&f);
    req r = {.hname = {"x-user-id"}, .hval = {"user-1"}};
    sy_route_input in = {.model = "gpt-4.1", .percent = 100};
    in.sticky_key = sy_sticky_pick(&f.p, get_header, body_value, &r, &in.sticky_source);
    in.sticky_key_len = strlen(in.sticky_key);
    sy_plan plan;
    sy_plan_build(&f.p, &in, &plan);
    cr_expect_eq(plan.has_key, 1);
    cr_expect_eq(plan.bucket, 6075u); /* pinned above */
    cr_expect_str_eq(plan.sticky_source, "header:x-user-id");
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
}

/* ------------------------------------------------------------ the plan */

Test(planner, stable_plan_walks_the_fallback_chain)
{
    fixture f;
    fixture_init(&f);
    sy_plan plan;
    plan_for(&f.p, "gpt-4.1", NULL, 10, &plan);
    cr_assert_eq(plan.n_steps, 4);
    cr_expect_eq(plan.n_routes, 4);
    cr_expect_eq(plan.truncated, 0);
    expect_step(&plan, 0, "openai-official", "global", "gpt-4.1", 0, SY_ARM_STABLE);
    expect_step(&plan, 1, "openai-official", "global", "gpt-4o", 1, SY_ARM_STABLE);
    expect_step(&plan, 2, "openai-official", "global", "gpt-4o-mini", 2, SY_ARM_STABLE);
    /* Only the requested model's chain: claude-sonnet-4.5's own chain is not followed. */
    expect_step(&plan, 3, "openai-official", "global", "claude-sonnet-4.5", 3, SY_ARM_STABLE);
}

Test(planner, canary_plan_filters_endpoints_then_falls_back_to_stable)
{
    fixture f;
    fixture_init(&f);
    /* Listed out of priority order: the plan still follows priority. */
    f.canary_eps[0] = (char *)"cn-east";
    f.canary_eps[1] = (char *)"cn-north";
    sy_plan plan;
    plan_for(&f.p, "claude-sonnet-4.5", "someone", 100, &plan);
    cr_assert_eq(plan.arm, SY_ARM_CANARY);
    cr_assert_eq(plan.n_steps, 9);
    cr_expect_eq(plan.n_routes, 6);
    expect_step(&plan, 0, "holysheep", "cn-north", "claude-sonnet-4.5", 0, SY_ARM_CANARY);
    expect_step(&plan, 1, "holysheep", "cn-east", "claude-sonnet-4.5", 0, SY_ARM_CANARY);
    expect_step(&plan, 2, "openai-official", "global", "claude-sonnet-4.5", 1, SY_ARM_STABLE);
    expect_step(&plan, 3, "holysheep", "cn-north", "claude-3-5-sonnet", 2, SY_ARM_CANARY);
    expect_step(&plan, 4, "holysheep", "cn-east", "claude-3-5-sonnet", 2, SY_ARM_CANARY);
    expect_step(&plan, 5, "openai-official", "global", "claude-3-5-sonnet", 3, SY_ARM_STABLE);
    expect_step(&plan, 6, "holysheep", "cn-north", "gemini-2.5-flash", 4, SY_ARM_CANARY);
    expect_step(&plan, 7, "holysheep", "cn-east", "gemini-2.5-flash", 4, SY_ARM_CANARY);
    expect_step(&plan, 8, "openai-official", "global", "gemini-2.5-flash", 5, SY_ARM_STABLE);
}

Test(planner, canary_without_fallback_to_stable_stays_on_canary)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.fallback_to_stable = 0;
    sy_plan plan;
    plan_for(&f.p, "gpt-4o", "someone", 100, &plan);
    cr_assert_eq(plan.arm, SY_ARM_CANARY);
    cr_assert_eq(plan.n_steps, 2);
    cr_expect_eq(plan.n_routes, 1);
    expect_step(&plan, 0, "holysheep", "cn-north", "gpt-4o", 0, SY_ARM_CANARY);
    expect_step(&plan, 1, "holysheep", "cn-east", "gpt-4o", 0, SY_ARM_CANARY);
}

Test(planner, no_canary_endpoints_means_every_canary_endpoint)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.canary_endpoints = NULL;
    f.p.migration.n_canary_endpoints = 0;
    sy_plan plan;
    plan_for(&f.p, "gpt-4o", "someone", 100, &plan);
    cr_assert_eq(plan.n_steps, 5);
    expect_step(&plan, 0, "holysheep", "cn-north", "gpt-4o", 0, SY_ARM_CANARY);
    expect_step(&plan, 1, "holysheep", "cn-east", "gpt-4o", 0, SY_ARM_CANARY);
    expect_step(&plan, 2, "holysheep", "cn-south", "gpt-4o", 0, SY_ARM_CANARY);
    expect_step(&plan, 3, "holysheep", "us-west", "gpt-4o", 0, SY_ARM_CANARY);
    expect_step(&plan, 4, "openai-official", "global", "gpt-4o", 1, SY_ARM_STABLE);
}

Test(planner, stable_arm_uses_every_stable_endpoint_unfiltered)
{
    fixture f;
    fixture_init(&f);
    /* Swap roles: holysheep stable, openai canary. canary_endpoints must not
     * filter the stable provider. */
    f.p.migration.stable = 1;
    f.p.migration.canary = 0;
    sy_plan plan;
    plan_for(&f.p, "gpt-4o", "someone", 0, &plan);
    cr_assert_eq(plan.arm, SY_ARM_STABLE);
    cr_assert_eq(plan.n_steps, 4);
    expect_step(&plan, 3, "holysheep", "us-west", "gpt-4o", 0, SY_ARM_STABLE);
}

Test(planner, fallback_chain_is_deduplicated)
{
    fixture f;
    fixture_init(&f);
    char *chain[] = {(char *)"gpt-4o", (char *)"gpt-4.1", (char *)"gpt-4o-mini",
                     (char *)"gpt-4o", (char *)"", NULL};
    f.chains[0].to = chain;
    f.chains[0].n_to = 6;
    sy_plan plan;
    plan_for(&f.p, "gpt-4.1", NULL, 0, &plan);
    cr_assert_eq(plan.n_steps, 3);
    expect_step(&plan, 0, "openai-official", "global", "gpt-4.1", 0, SY_ARM_STABLE);
    expect_step(&plan, 1, "openai-official", "global", "gpt-4o", 1, SY_ARM_STABLE);
    expect_step(&plan, 2, "openai-official", "global", "gpt-4o-mini", 2, SY_ARM_STABLE);
}

Test(planner, same_provider_twice_adds_nothing)
{
    fixture f;
    fixture_init(&f);
    f.p.migration.canary = 0; /* stable == canary: the stable fallback repeats */
    f.p.migration.canary_endpoints = NULL;
    f.p.migration.n_canary_endpoints = 0;
    sy_plan plan;
    plan_for(&f.p, "gpt-4o", "someone", 100, &plan);
    cr_assert_eq(plan.n_steps, 1);
    cr_expect_eq(plan.n_routes, 1);
}

Test(planner, model_without_chain_is_one_model)
{
    fixture f;
    fixture_init(&f);
    sy_plan plan;
    plan_for(&f.p, "text-embedding-3-small", NULL, 10, &plan);
    cr_assert_eq(plan.n_steps, 1);
    expect_step(&plan, 0, "openai-official", "global", "text-embedding-3-small", 0,
                SY_ARM_STABLE);
}

Test(planner, plan_truncates_at_max)
{
    fixture f;
    fixture_init(&f);
    /* 40 canary endpoints x 4 models + stable: far more than SY_PLAN_MAX. */
    sy_policy_endpoint many[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "r%02d", i);
        endpoint(&many[i], names[i], "http://127.0.0.1:1/v1", i);
    }
    f.prov[1].endpoints = many;
    f.prov[1].n_endpoints = 40;
    f.p.migration.canary_endpoints = NULL;
    f.p.migration.n_canary_endpoints = 0;
    sy_plan plan;
    plan_for(&f.p, "gpt-4.1", "someone", 100, &plan);
    cr_assert_eq(plan.n_steps, SY_PLAN_MAX);
    cr_expect_eq(plan.truncated, 1);
    /* route 0: 40 canary, route 1: stable, route 2: 23 of the next 40 */
    cr_expect_eq(plan.n_routes, 3);
    expect_step(&plan, 40, "openai-official", "global", "gpt-4.1", 1, SY_ARM_STABLE);
    expect_step(&plan, SY_PLAN_MAX - 1, "holysheep", "r22", "gpt-4o", 2, SY_ARM_CANARY);
}

Test(planner, plan_exactly_full_is_not_truncated)
{
    fixture f;
    fixture_init(&f);
    sy_policy_endpoint many[SY_PLAN_MAX];
    char names[SY_PLAN_MAX][16];
    for (int i = 0; i < SY_PLAN_MAX; i++) {
        snprintf(names[i], sizeof names[i], "r%02d", i);
        endpoint(&many[i], names[i], "http://127.0.0.1:1/v1", i);
    }
    f.prov[0].endpoints = many;
    f.prov[0].n_endpoints = SY_PLAN_MAX;
    sy_plan plan;
    plan_for(&f.p, "no-chain-model", NULL, 0, &plan);
    cr_expect_eq(plan.n_steps, SY_PLAN_MAX);
    cr_expect_eq(plan.truncated, 0);
    cr_expect_eq(plan.n_routes, 1);
    plan_for(&f.p, "gpt-4o-mini", NULL, 0, &plan);
    cr_expect_eq(plan.truncated, 0);
    /* One more model: truncated. */
    plan_for(&f.p, "gpt-4.1", NULL, 0, &plan);
    cr_expect_eq(plan.n_steps, SY_PLAN_MAX);
    cr_expect_eq(plan.truncated, 1);
}

Test(planner, nothing_usable_gives_an_empty_plan)
{
    fixture f;
    fixture_init(&f);
    sy_plan plan;
    plan_for(&f.p, NULL, "someone", 100, &plan);
    cr_expect_eq(plan.n_steps, 0);
    cr_expect_eq(plan.arm, SY_ARM_CANARY, "the arm is still decided");
    plan_for(&f.p, "", NULL, 0, &plan);
    cr_expect_eq(plan.n_steps, 0);

    sy_policy empty;
    memset(&empty, 0, sizeof empty);
    plan_for(&empty, "gpt-4o", "someone", 100, &plan);
    cr_expect_eq(plan.n_steps, 0);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);

    sy_route_input in = {.model = "gpt-4o"};
    sy_plan_build(NULL, &in, &plan);
    cr_expect_eq(plan.n_steps, 0);
    sy_plan_build(&f.p, NULL, &plan);
    cr_expect_eq(plan.n_steps, 0);

    /* A provider index out of range (never from the loader) is not a crash. */
    f.p.migration.canary = 7;
    plan_for(&f.p, "gpt-4o", "someone", 100, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    cr_expect_eq(plan.n_steps, 1);
}

Test(planner, canary_threshold_in_basis_points)
{
    cr_expect_eq(sy_canary_threshold(0), 0u);
    cr_expect_eq(sy_canary_threshold(0.01), 1u);
    cr_expect_eq(sy_canary_threshold(0.004), 0u);
    cr_expect_eq(sy_canary_threshold(10), 1000u);
    cr_expect_eq(sy_canary_threshold(12.5), 1250u);
    cr_expect_eq(sy_canary_threshold(33.333), 3333u);
    cr_expect_eq(sy_canary_threshold(99.99), 9999u);
    cr_expect_eq(sy_canary_threshold(100), SY_BUCKETS);
    cr_expect_eq(sy_canary_threshold(1e300), SY_BUCKETS);
    cr_expect_eq(sy_canary_threshold(-1), 0u);
    cr_expect_eq(sy_canary_threshold(NAN), 0u);
    cr_expect_eq(sy_canary_threshold(INFINITY), SY_BUCKETS);
}

/* ------------------------------------------- ops and pinned plans (ABI 1.3) */

static const sy_plugin classic_plugin = {.abi_major = 1, .abi_minor = 3,
                                         .size = sizeof(sy_plugin), .name = "classic"};
static const sy_plugin responses_plugin = {.abi_major = 1, .abi_minor = 3,
                                           .size = sizeof(sy_plugin), .name = "full",
                                           .ops = SY_OPS_CLASSIC | SY_OPS_RESPONSES};
/* Built against 1.2: its descriptor ends before .ops, whatever lies after. */
static const sy_plugin old_plugin = {.abi_major = 1, .abi_minor = 2,
                                     .size = offsetof(sy_plugin, ops), .name = "old",
                                     .ops = SY_OPS_RESPONSES};

Test(planner_ops, a_provider_that_does_not_serve_the_op_is_skipped_and_named)
{
    fixture f;
    fixture_init(&f);
    f.prov[0].plugin = &responses_plugin;
    f.prov[1].plugin = &classic_plugin;
    sy_route_input in = {.model = "gpt-4o", .sticky_key = "u", .sticky_key_len = 1,
                         .percent = 100, .op = SY_OP_RESPONSES};
    sy_plan plan;
    sy_plan_build(&f.p, &in, &plan);
    cr_assert_eq(plan.arm, SY_ARM_CANARY);
    cr_assert_eq(plan.n_steps, 1, "only the stable route serves /v1/responses");
    cr_assert_str_eq(plan.steps[0].provider->name, "openai-official");
    cr_assert_eq(plan.steps[0].route, 0);
    cr_assert_eq(plan.n_unserved, 1);
    cr_assert_eq(plan.unserved[0], &f.prov[1]);

    in.op = SY_OP_CHAT; /* classic ops: both serve */
    sy_plan_build(&f.p, &in, &plan);
    cr_assert_eq(plan.n_unserved, 0);
    cr_assert_gt(plan.n_steps, 1);
    cr_assert_str_eq(plan.steps[0].provider->name, "holysheep");
}

Test(planner_ops, a_plugin_older_than_1_3_serves_the_classic_ops_only)
{
    fixture f;
    fixture_init(&f);
    f.prov[0].plugin = &old_plugin;
    cr_assert(sy_policy_provider_serves(&f.prov[0], SY_OP_CHAT));
    cr_assert(sy_policy_provider_serves(&f.prov[0], SY_OP_EMBEDDINGS));
    cr_assert_not(sy_policy_provider_serves(&f.prov[0], SY_OP_RESPONSES));
    f.prov[0].plugin = &responses_plugin;
    cr_assert(sy_policy_provider_serves(&f.prov[0], SY_OP_RESPONSE_ITEM));
}

Test(planner_ops, a_pinned_plan_goes_to_one_endpoint_whatever_the_arm)
{
    fixture f;
    fixture_init(&f);
    f.prov[0].plugin = &responses_plugin;
    f.prov[1].plugin = &responses_plugin;
    /* A stable user (percent 0) whose conversation lives on the canary's cn-east. */
    sy_route_input in = {.model = "gpt-4.1", .sticky_key = "u", .sticky_key_len = 1,
                         .percent = 0, .op = SY_OP_RESPONSES};
    sy_plan plan;
    sy_plan_build_pinned(&f.p, &in, "holysheep", "cn-east", &plan);
    cr_assert_eq(plan.arm, SY_ARM_CANARY);
    cr_assert_eq(plan.n_steps, 4, "gpt-4.1 and its three fallbacks, all on cn-east");
    for (size_t i = 0; i < plan.n_steps; i++) {
        cr_assert_str_eq(plan.steps[i].endpoint->name, "cn-east");
        cr_assert_eq(plan.steps[i].route, i);
    }
    cr_assert_str_eq(plan.steps[0].model, "gpt-4.1");
    cr_assert_str_eq(plan.steps[3].model, "claude-sonnet-4.5");

    /* Gone from the policy: nothing to try (the engine says why). */
    sy_plan_build_pinned(&f.p, &in, "holysheep", "eu-west", &plan);
    cr_assert_eq(plan.n_steps, 0);
    sy_plan_build_pinned(&f.p, &in, "gone", "cn-east", &plan);
    cr_assert_eq(plan.n_steps, 0);

    /* No endpoint named: every endpoint of the provider, one route; no model: "". */
    in.model = "";
    sy_plan_build_pinned(&f.p, &in, "openai-official", NULL, &plan);
    cr_assert_eq(plan.arm, SY_ARM_STABLE);
    cr_assert_eq(plan.n_steps, 1);
    cr_assert_str_eq(plan.steps[0].model, "");
    sy_plan_build_pinned(&f.p, &in, "holysheep", NULL, &plan);
    cr_assert_eq(plan.n_steps, 4);
    cr_assert_eq(plan.n_routes, 1);

    /* A provider that does not serve the op is no home for it. */
    f.prov[1].plugin = &classic_plugin;
    in.model = "gpt-4.1";
    sy_plan_build_pinned(&f.p, &in, "holysheep", "cn-east", &plan);
    cr_assert_eq(plan.n_steps, 0);
    cr_assert_eq(plan.n_unserved, 1);
}
