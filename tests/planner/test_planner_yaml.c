/*
 * test_planner_yaml.c - the planner on policies loaded from YAML by the real
 * loader (plugins skipped: reg = NULL).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "planner.h"
#include "policy.h"

static const char base_policy[] =
    "version: 1\n"
    "providers:\n"
    "  openai-official:\n"
    "    plugin: openai\n"
    "    endpoints:\n"
    "      - {name: global, base_url: https://api.openai.com/v1}\n"
    "  holysheep:\n"
    "    plugin: holysheep\n"
    "    endpoints:\n"
    "      - {name: us-west,  base_url: https://us-west.holysheep.ai/v1,  priority: 99}\n"
    "      - {name: cn-east,  base_url: https://cn-east.holysheep.ai/v1,  priority: 2}\n"
    "      - {name: cn-south, base_url: https://cn-south.holysheep.ai/v1, priority: 3}\n"
    "      - {name: cn-north, base_url: https://cn-north.holysheep.ai/v1, priority: 1}\n"
    "models:\n"
    "  fallbacks:\n"
    "    gpt-4.1: [gpt-4o, gpt-4o-mini, claude-sonnet-4.5]\n"
    "    claude-sonnet-4.5: [claude-3-5-sonnet, gemini-2.5-flash]\n"
    "migration:\n"
    "  stable: openai-official\n"
    "  canary: holysheep\n"
    "  rollout:\n"
    "%s"
    "    percent: 10\n"
    "    canary_endpoints: [cn-east, cn-north]\n"
    "  fallback_to_stable: %s\n";

static sy_policy *load(const char *rollout_extra, const char *fallback_to_stable)
{
    char text[4096];
    snprintf(text, sizeof text, base_policy, rollout_extra, fallback_to_stable);
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("test.yaml", text, strlen(text), SY_LOAD_VALIDATE,
                                         NULL, &d);
    if (!p) sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    cr_assert_not_null(p, "the test policy must load");
    return p;
}

typedef struct req {
    const char *header_user;
    const char *body_user;
} req;

static const char *get_header(void *ctx, const char *name)
{
    const req *r = ctx;
    return !strcmp(name, "x-user-id") ? r->header_user : NULL;
}

static const char *body_value(void *ctx, const char *key)
{
    const req *r = ctx;
    return !strcmp(key, "user") ? r->body_user : NULL;
}

static void plan_req(const sy_policy *p, const char *model, req *r, double percent, sy_plan *out)
{
    sy_route_input in = {.model = model, .percent = percent};
    in.sticky_key = sy_sticky_pick(p, get_header, body_value, r, &in.sticky_source);
    in.sticky_key_len = in.sticky_key ? strlen(in.sticky_key) : 0;
    sy_plan_build(p, &in, out);
}

/* A user whose bucket under salt is below 10% (canary) or not. */
static const char *find_user(const char *salt, int canary, char *buf, size_t cap)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(buf, cap, "user-%d", i);
        int c = sy_sticky_bucket(salt, buf, strlen(buf)) < 1000;
        if (c == canary) return buf;
    }
    cr_assert_fail("no user found");
    return NULL;
}

#define STEP(plan, i, prov_, ep_, model_, route_)                                        \
    do {                                                                              \
        cr_assert_lt((size_t)(i), (plan).n_steps);                                    \
        cr_expect_str_eq((plan).steps[i].provider->name, prov_, "step %d", i);         \
        cr_expect_str_eq((plan).steps[i].endpoint->name, ep_, "step %d", i);           \
        cr_expect_str_eq((plan).steps[i].model, model_, "step %d", i);               \
        cr_expect_eq((plan).steps[i].route, (unsigned)(route_), "step %d route", i);  \
    } while (0)

Test(planner_yaml, default_rollout_id_and_sources)
{
    sy_policy *p = load("", "true");
    cr_expect_str_eq(sy_rollout_id(p), "openai-official->holysheep");
    cr_expect_eq(p->migration.n_sticky, 2);

    char user[32];
    find_user("openai-official->holysheep", 1, user, sizeof user);
    req r = {.header_user = user};
    sy_plan plan;
    plan_req(p, "gpt-4o", &r, p->migration.percent, &plan);
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    cr_expect_eq(plan.bucket, sy_sticky_bucket("openai-official->holysheep", user, strlen(user)));
    cr_expect_str_eq(plan.sticky_source, "header:x-user-id");
    /* canary_endpoints in priority order, then stable. */
    cr_assert_eq(plan.n_steps, 3);
    STEP(plan, 0, "holysheep", "cn-north", "gpt-4o", 0);
    STEP(plan, 1, "holysheep", "cn-east", "gpt-4o", 0);
    STEP(plan, 2, "openai-official", "global", "gpt-4o", 1);

    req body = {.body_user = user};
    plan_req(p, "gpt-4o", &body, p->migration.percent, &plan);
    cr_expect_eq(plan.arm, SY_ARM_CANARY);
    cr_expect_str_eq(plan.sticky_source, "body:user");

    req none = {0};
    plan_req(p, "gpt-4o", &none, 100, &plan);
    cr_expect_eq(plan.arm, SY_ARM_STABLE);
    cr_expect_eq(plan.has_key, 0);
    sy_policy_unref(p);
}

Test(planner_yaml, rollout_id_and_sticky_order_from_policy)
{
    sy_policy *p = load("    id: holysheep-2026\n    sticky_by: [body:user, header:X-User-Id]\n",
                        "true");
    cr_expect_str_eq(sy_rollout_id(p), "holysheep-2026");
    req both = {.header_user = "hdr", .body_user = "user-1"};
    sy_plan plan;
    plan_req(p, "gpt-4o", &both, 10, &plan);
    cr_expect_str_eq(plan.sticky_source, "body:user");
    cr_expect_eq(plan.bucket, 6075u); /* pinned in test_planner.c */
    /* The header name is matched lower-cased. */
    req hdr = {.header_user = "user-2"};
    plan_req(p, "gpt-4o", &hdr, 10, &plan);
    cr_expect_str_eq(plan.sticky_source, "header:x-user-id");
    cr_expect_eq(plan.bucket, 3406u);
    sy_policy_unref(p);
}

Test(planner_yaml, fallback_chain_and_fallback_to_stable_off)
{
    sy_policy *p = load("", "false");
    char user[32];
    find_user("openai-official->holysheep", 1, user, sizeof user);
    req r = {.header_user = user};
    sy_plan plan;
    plan_req(p, "gpt-4.1", &r, 10, &plan);
    cr_assert_eq(plan.arm, SY_ARM_CANARY);
    cr_assert_eq(plan.n_steps, 8);
    cr_expect_eq(plan.n_routes, 4);
    STEP(plan, 0, "holysheep", "cn-north", "gpt-4.1", 0);
    STEP(plan, 1, "holysheep", "cn-east", "gpt-4.1", 0);
    STEP(plan, 2, "holysheep", "cn-north", "gpt-4o", 1);
    STEP(plan, 4, "holysheep", "cn-north", "gpt-4o-mini", 2);
    STEP(plan, 7, "holysheep", "cn-east", "claude-sonnet-4.5", 3);

    find_user("openai-official->holysheep", 0, user, sizeof user);
    plan_req(p, "gpt-4.1", &r, 10, &plan);
    cr_assert_eq(plan.arm, SY_ARM_STABLE);
    cr_assert_eq(plan.n_steps, 4);
    STEP(plan, 3, "openai-official", "global", "claude-sonnet-4.5", 3);
    sy_policy_unref(p);
}

Test(planner_yaml, share_on_a_loaded_policy)
{
    sy_policy *p = load("    id: holysheep-2026\n", "true");
    int canary = 0;
    char user[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(user, sizeof user, "%d", 1000000 + i * 7);
        req r = {.body_user = user};
        sy_plan plan;
        plan_req(p, "gpt-4o", &r, p->migration.percent, &plan);
        canary += plan.arm == SY_ARM_CANARY;
    }
    cr_expect(canary >= 1800 && canary <= 2200, "canary %d of 20000 at 10%%", canary);
    sy_policy_unref(p);
}

/* balance: latency: the endpoints of each priority ordered by the snapshot. */
static double fake_latency(void *ctx, const sy_policy_provider *prov, const sy_policy_endpoint *ep)
{
    (void)ctx;
    (void)prov;
    if (!strcmp(ep->name, "a")) return 300;
    if (!strcmp(ep->name, "b")) return 40;
    if (!strcmp(ep->name, "c")) return -1; /* no sample yet: tried first */
    return 5;                              /* d: fastest, but a worse priority */
}

Test(planner_yaml, latency_balance_orders_within_a_priority)
{
    static const char text[] =
        "version: 1\n"
        "providers:\n"
        "  p:\n"
        "    plugin: openai\n"
        "    balance: latency\n"
        "    endpoints:\n"
        "      - {name: a, base_url: https://a.example/v1, priority: 1}\n"
        "      - {name: b, base_url: https://b.example/v1, priority: 1}\n"
        "      - {name: c, base_url: https://c.example/v1, priority: 1}\n"
        "      - {name: d, base_url: https://d.example/v1, priority: 2}\n"
        "migration: {stable: p}\n";
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("t.yaml", text, strlen(text), SY_LOAD_VALIDATE, NULL, &d);
    if (!p) sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    cr_assert_not_null(p);
    sy_route_input in = {.model = "m", .latency_ms = fake_latency};
    sy_plan plan;
    sy_plan_build(p, &in, &plan);
    cr_assert_eq(plan.n_steps, 4);
    STEP(plan, 0, "p", "c", "m", 0);
    STEP(plan, 1, "p", "b", "m", 0);
    STEP(plan, 2, "p", "a", "m", 0);
    STEP(plan, 3, "p", "d", "m", 0);
    cr_expect_float_eq(plan.steps[1].latency_ms, 40, 1e-9);
    /* Without a snapshot: priority order as written. */
    in.latency_ms = NULL;
    sy_plan_build(p, &in, &plan);
    STEP(plan, 0, "p", "a", "m", 0);
    STEP(plan, 3, "p", "d", "m", 0);
    cr_expect_float_eq(plan.steps[0].latency_ms, -1, 1e-9);
    sy_policy_unref(p);
}
