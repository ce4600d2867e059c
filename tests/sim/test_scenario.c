/*
 * test_scenario.c - the simulate scenario reader (router/sim/scenario.h):
 * spec.md's example and the extensions read as written; every mistake is an
 * error at its FILE:LINE:COL, unknown keys named with the valid ones, all of
 * a file's problems in one run; the policy's names are checked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "scenario.h"

static const char SPEC[] =
    "# scenario.yaml\n"
    "duration: 30m\n"
    "traffic: {rate: 50, users: 5000, models: {gpt-4.1: 0.8, gpt-4o-mini: 0.2}, stream_share: 0.5}\n"
    "outcomes:\n"
    "  openai-official: [{from: 0m, error_rate: 0.001, latency: {p50: 400ms, p95: 900ms}}]\n"
    "  holysheep:\n"
    "    - {from: 0m,  error_rate: 0.002, status: 503, latency: {p50: 120ms, p95: 300ms}}\n"
    "    - {from: 10m, error_rate: 0.05}\n"
    "  holysheep/cn-east: [{from: 20m, outage: 5m}]\n";

typedef struct loaded {
    sy_scenario *s;
    sy_diags d;
} loaded;

static void load(loaded *l, const char *text)
{
    sy_diags_init(&l->d);
    l->s = sy_scenario_load_buffer("s.yaml", text, strlen(text), &l->d);
}

static void unload(loaded *l)
{
    sy_scenario_free(l->s);
    sy_diags_free(&l->d);
}

static const sy_scn_target *target(const sy_scenario *s, const char *prov, const char *ep)
{
    for (size_t i = 0; i < s->n_targets; i++) {
        const sy_scn_target *t = &s->targets[i];
        if (strcmp(t->provider, prov)) continue;
        if (ep ? t->endpoint && !strcmp(t->endpoint, ep) : !t->endpoint) return t;
    }
    return NULL;
}

/* An error whose message holds msg, at line:col. */
static int has_error(const sy_diags *d, unsigned line, unsigned col, const char *msg)
{
    for (size_t i = 0; i < d->n; i++) {
        const sy_diag *g = &d->items[i];
        if (g->level == SY_DIAG_ERROR && g->line == line && g->col == col && strstr(g->msg, msg))
            return 1;
    }
    return 0;
}

static void dump(const sy_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  %u:%u: %s\n", d->items[i].line, d->items[i].col, d->items[i].msg);
}

#define EXPECT_ERROR(l, line, col, msg)                                                       \
    do {                                                                                      \
        if (!has_error(&(l)->d, line, col, msg)) dump(&(l)->d);                               \
        cr_expect(has_error(&(l)->d, line, col, msg), "no error %u:%u \"%s\"", line, col, msg); \
    } while (0)

Test(scenario, spec_example_reads_as_written)
{
    loaded l;
    load(&l, SPEC);
    cr_assert(l.s);
    cr_assert_eq(l.d.n_errors, 0);
    cr_assert_eq(l.d.n_warnings, 0);
    const sy_scenario *s = l.s;
    cr_expect_eq(s->errors, 0);
    cr_expect_eq(s->duration_ms, 30 * 60 * 1000);
    cr_expect(s->has_traffic);
    cr_expect_float_eq(s->rate, 50.0, 1e-9);
    cr_expect_eq(s->users, 5000);
    cr_assert_eq(s->n_models, 2);
    cr_expect_str_eq(s->models[0].name, "gpt-4.1");
    cr_expect_float_eq(s->models[0].weight, 0.8, 1e-9);
    cr_expect_str_eq(s->models[1].name, "gpt-4o-mini");
    cr_expect_float_eq(s->stream_share, 0.5, 1e-9);
    cr_assert_eq(s->n_targets, 3);

    const sy_scn_target *hs = target(s, "holysheep", NULL);
    cr_assert(hs);
    cr_assert_eq(hs->n_pieces, 2);
    cr_expect_eq(hs->pieces[0].from_ms, 0);
    cr_expect_eq(hs->pieces[0].set,
                 SY_SCN_ERROR_RATE | SY_SCN_STATUS | SY_SCN_P50 | SY_SCN_P95);
    cr_expect_eq(hs->pieces[0].status, 503);
    cr_expect_eq(hs->pieces[0].p50_ms, 120);
    cr_expect_eq(hs->pieces[0].p95_ms, 300);
    cr_expect_eq(hs->pieces[1].from_ms, 10 * 60 * 1000);
    cr_expect_eq(hs->pieces[1].set, SY_SCN_ERROR_RATE, "the second piece names only error_rate");
    cr_expect_float_eq(hs->pieces[1].error_rate, 0.05, 1e-12);
    cr_expect_eq(hs->pieces[1].loc.line, 8);

    const sy_scn_target *east = target(s, "holysheep", "cn-east");
    cr_assert(east);
    cr_assert_eq(east->n_pieces, 1);
    cr_expect_eq(east->pieces[0].from_ms, 20 * 60 * 1000);
    cr_expect_eq(east->pieces[0].outage_ms, 5 * 60 * 1000);
    cr_expect_eq(east->pieces[0].set, 0);
    cr_expect_str_eq(east->loc.file, "s.yaml");
    unload(&l);
}

Test(scenario, extensions_and_defaults)
{
    loaded l;
    load(&l, "duration: 1h\n"
             "timeline: 5m\n"
             "traffic: {rate: 0.5, models: {m: 1}}\n"
             "outcomes:\n"
             "  p: [{from: 0s, error_rate: 2%, status: 429, retry_after: 1500ms,\n"
             "       timeout_rate: 0.01, cut_rate: 10%}]\n");
    cr_assert(l.s);
    cr_assert_eq(l.d.n_errors, 0);
    cr_expect_eq(l.s->users, SY_SCN_DEFAULT_USERS);
    cr_expect_float_eq(l.s->stream_share, 0.0, 1e-12);
    cr_expect_eq(l.s->timeline_ms, 5 * 60 * 1000);
    const sy_scn_piece *p = &l.s->targets[0].pieces[0];
    cr_expect_float_eq(p->error_rate, 0.02, 1e-12);
    cr_expect_eq(p->status, 429);
    cr_expect_eq(p->retry_after_ms, 1500);
    cr_expect_float_eq(p->timeout_rate, 0.01, 1e-12);
    cr_expect_float_eq(p->cut_rate, 0.10, 1e-12);
    cr_expect_eq(p->set, SY_SCN_ERROR_RATE | SY_SCN_STATUS | SY_SCN_RETRY_AFTER |
                             SY_SCN_TIMEOUT_RATE | SY_SCN_CUT_RATE);
    unload(&l);
}

Test(scenario, every_mistake_at_its_place)
{
    loaded l;
    load(&l, "duration: 30x\n"                                                     /* 1 */
             "traffic: {rate: -5, modles: {a: 1}, stream_share: 1.5, users: 0}\n"  /* 2 */
             "outcomes:\n"                                                         /* 3 */
             "  p:\n"                                                              /* 4 */
             "    - {from: 5m, eror_rate: 0.1, status: 703}\n"                     /* 5 */
             "    - {from: 1m, error_rate: 5, latency: {p50: 300ms, p95: 100ms}}\n" /* 6 */
             "    - {error_rate: 0.1, outage: 0s}\n"                               /* 7 */
             "  q/: [{from: 0m}]\n"                                                /* 8 */
             "  r: []\n"                                                           /* 9 */
             "extra: 1\n");                                                        /* 10 */
    cr_assert(l.s, "a well-formed YAML file gives a scenario, with its errors counted");
    cr_expect_gt(l.s->errors, 0);
    EXPECT_ERROR(&l, 1, 11, "`duration`: `30x` is not a duration");
    EXPECT_ERROR(&l, 2, 17, "`traffic.rate`: `-5` must be a number above 0");
    EXPECT_ERROR(&l, 2, 21, "unknown key `modles`; did you mean `models`? Valid keys here: rate, "
                            "users, models, stream_share");
    EXPECT_ERROR(&l, 2, 51, "`traffic.stream_share`: `1.5` is not a share");
    EXPECT_ERROR(&l, 2, 63, "`traffic.users`: `0` must be a whole number from 1");
    EXPECT_ERROR(&l, 5, 18, "`outcomes.p[0]`: unknown key `eror_rate`; did you mean `error_rate`?");
    EXPECT_ERROR(&l, 5, 42, "`outcomes.p[0].status`: `703` must be a whole number from 400 to 599");
    EXPECT_ERROR(&l, 6, 7, "pieces go by `from`, ascending");
    EXPECT_ERROR(&l, 6, 30, "`outcomes.p[1].error_rate`: `5` is not a share");
    EXPECT_ERROR(&l, 6, 7, "`outcomes.p[1].latency`: p95 (100ms) is below p50 (300ms)");
    EXPECT_ERROR(&l, 7, 7, "`outcomes.p[2]` needs `from`");
    EXPECT_ERROR(&l, 7, 33, "an outage lasts longer than 0");
    EXPECT_ERROR(&l, 8, 3, "`q/` is not a provider or provider/endpoint name");
    EXPECT_ERROR(&l, 9, 6, "`outcomes.r`: expected a list of pieces");
    EXPECT_ERROR(&l, 10, 1, "unknown key `extra`; valid keys here: duration, traffic, outcomes, "
                            "timeline");
    unload(&l);
}

Test(scenario, latency_carried_over_is_checked_too)
{
    loaded l;
    load(&l, "duration: 1m\ntraffic: {rate: 1, models: {m: 1}}\noutcomes:\n"
             "  p:\n"
             "    - {from: 0m, latency: {p50: 100ms, p95: 200ms}}\n"
             "    - {from: 1m, latency: {p50: 500ms}}\n");
    cr_assert(l.s);
    EXPECT_ERROR(&l, 6, 7, "p95 (200ms) is below p50 (500ms) (a piece keeps the value");
    unload(&l);
}

Test(scenario, not_yaml_or_not_a_mapping)
{
    loaded l;
    load(&l, "duration: [1m\n");
    cr_expect_null(l.s, "malformed YAML gives no scenario");
    cr_expect_gt(l.d.n_errors, 0);
    unload(&l);
    load(&l, "- 1\n- 2\n");
    cr_assert(l.s);
    EXPECT_ERROR(&l, 1, 1, "`the scenario`: expected a mapping");
    unload(&l);
    load(&l, "");
    cr_assert(l.s);
    cr_expect_gt(l.d.n_errors, 0, "an empty scenario is an error");
    unload(&l);
}

/* ------------------------------------------------------ against a policy */

static const char POLICY[] =
    "version: 1\n"
    "providers:\n"
    "  openai-official:\n"
    "    plugin: openai\n"
    "    api_key: sk-test\n"
    "    endpoints: [{name: global, base_url: 'https://api.example.test/v1'}]\n"
    "  holysheep:\n"
    "    plugin: openai\n"
    "    api_key: sk-test\n"
    "    endpoints:\n"
    "      - {name: cn-north, base_url: 'https://n.example.test/v1'}\n"
    "      - {name: cn-east, base_url: 'https://e.example.test/v1'}\n"
    "migration: {stable: openai-official, canary: holysheep}\n";

static sy_policy *policy(sy_diags *d)
{
    sy_policy *p = sy_policy_load_buffer("p.yaml", POLICY, strlen(POLICY), SY_LOAD_VALIDATE, NULL, d);
    cr_assert(p, "the test policy loads");
    return p;
}

Test(scenario, names_checked_against_the_policy)
{
    sy_diags pd;
    sy_diags_init(&pd);
    sy_policy *p = policy(&pd);
    loaded l;
    load(&l, SPEC);
    cr_expect_eq(sy_scenario_check(l.s, p, 0, &l.d), 0, "the spec's example fits the policy");
    unload(&l);

    load(&l, "duration: 1m\ntraffic: {rate: 1, models: {m: 1}}\noutcomes:\n"
             "  holysheeep: [{from: 0m, error_rate: 0.1}]\n"
             "  holysheep/cn-eats: [{from: 0m, error_rate: 0.1}]\n");
    cr_assert(l.s);
    cr_expect_eq(sy_scenario_check(l.s, p, 0, &l.d), 2);
    EXPECT_ERROR(&l, 4, 3, "the policy has no provider `holysheeep`; did you mean `holysheep`?");
    EXPECT_ERROR(&l, 5, 3, "provider `holysheep` has no endpoint `cn-eats`; did you mean "
                           "`holysheep/cn-east`?");
    cr_expect_str_eq(l.d.items[l.d.n - 1].file, "s.yaml");
    unload(&l);
    sy_policy_unref(p);
    sy_diags_free(&pd);
}

Test(scenario, traffic_optional_only_with_a_replay)
{
    sy_diags pd;
    sy_diags_init(&pd);
    sy_policy *p = policy(&pd);
    loaded l;
    load(&l, "traffic: {users: 50}\noutcomes: {}\n");
    cr_assert(l.s);
    cr_expect_eq(l.d.n_errors, 0);
    cr_expect_eq(sy_scenario_check(l.s, p, 1, &l.d), 0, "with a replay the log gives the traffic");
    cr_expect_eq(sy_scenario_check(l.s, p, 0, &l.d), 3, "without: duration, rate and models");
    EXPECT_ERROR(&l, 0, 0, "the scenario needs `duration`");
    EXPECT_ERROR(&l, 1, 10, "`traffic` needs `rate`");
    EXPECT_ERROR(&l, 1, 10, "`traffic` needs `models`");
    unload(&l);
    sy_policy_unref(p);
    sy_diags_free(&pd);
}

Test(scenario, actions_the_rollback_drill)
{
    loaded l;
    load(&l, "duration: 30m\ntraffic: {rate: 1, models: {m: 1}}\n"
             "actions:\n"
             "  - {at: 12m, action: rollback}\n"
             "  - {at: 15m, action: resume}\n"
             "  - {at: 20m, action: set, percent: 25%}\n"
             "  - {at: 21m, action: pause}\n");
    cr_assert(l.s);
    cr_assert_eq(l.d.n_errors, 0);
    cr_assert_eq(l.s->n_actions, 4);
    cr_expect_eq(l.s->actions[0].at_ms, 12 * 60 * 1000);
    cr_expect_eq(l.s->actions[0].kind, SY_SCN_ROLLBACK);
    cr_expect_eq(l.s->actions[1].kind, SY_SCN_RESUME);
    cr_expect_eq(l.s->actions[2].kind, SY_SCN_SET);
    cr_expect_float_eq(l.s->actions[2].percent, 25.0, 1e-12);
    cr_expect_str_eq(sy_scn_action_name(l.s->actions[3].kind), "pause");
    unload(&l);

    load(&l, "actions:\n"                                   /* 1 */
             "  - {at: 12m, action: rolback}\n"             /* 2 */
             "  - {at: 15m, action: set}\n"                 /* 3 */
             "  - {at: 16m, action: pause, percent: 5}\n"   /* 4 */
             "  - {at: 17m, action: set, percent: 150}\n"   /* 5 */
             "  - {at: 13m, action: resume}\n"              /* 6 */
             "  - {action: resume}\n");                     /* 7 */
    cr_assert(l.s);
    EXPECT_ERROR(&l, 2, 23, "`actions[0].action`: `rolback` is not one of rollback, pause, resume, "
                            "set; did you mean `rollback`?");
    EXPECT_ERROR(&l, 3, 5, "`actions[1]`: `set` needs `percent`");
    EXPECT_ERROR(&l, 4, 39, "`actions[2].percent`: only `set` takes a percent");
    EXPECT_ERROR(&l, 5, 37, "`actions[3].percent`: `150` is not a percentage from 0 to 100");
    EXPECT_ERROR(&l, 6, 5, "actions go by `at`, ascending");
    EXPECT_ERROR(&l, 7, 5, "`actions[5]` needs `at`");
    unload(&l);
}

Test(scenario, actions_need_a_canary_and_time_to_happen)
{
    sy_diags pd;
    sy_diags_init(&pd);
    static const char no_canary[] =
        "version: 1\nproviders:\n  a:\n    plugin: openai\n    api_key: sk-test\n"
        "    endpoints: [{name: g, base_url: 'https://a.example.test/v1'}]\n";
    sy_policy *p = sy_policy_load_buffer("p.yaml", no_canary, strlen(no_canary), SY_LOAD_VALIDATE,
                                         NULL, &pd);
    cr_assert(p);
    loaded l;
    load(&l, "duration: 10m\ntraffic: {rate: 1, models: {m: 1}}\n"
             "actions: [{at: 12m, action: rollback}]\n");
    cr_assert(l.s);
    cr_expect_eq(sy_scenario_check(l.s, p, 0, &l.d), 1);
    EXPECT_ERROR(&l, 3, 11, "the policy has no migration.canary");
    cr_expect_eq(l.d.n_warnings, 1, "an action after the end never happens: a warning");
    unload(&l);
    sy_policy_unref(p);
    sy_diags_free(&pd);
}
