/*
 * test_load.c - good policies: defaults, the spec's example, the shipped
 * policies, migration rules, plugin keys and endpoint resolution, the model
 * list, lookups, and the loader's checks across sections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define HEAD "version: 1\n" TL_PROVIDER

static sy_policy *load_ok(tload *t, const char *yaml, int with_plugins)
{
    tl_load(t, yaml, SY_LOAD_VALIDATE, with_plugins);
    char *all = tl_printed(&t->d);
    cr_assert(t->p, "the policy did not load:\n%s", all);
    cr_assert_eq(t->d.n_errors, 0, "%s", all);
    free(all);
    return t->p;
}

Test(load, defaults)
{
    tload t;
    sy_policy *p = load_ok(&t, HEAD, 0);
    cr_expect_eq(p->version, 1);
    cr_expect_str_eq(p->server.listen, "127.0.0.1:8080");
    cr_expect_eq(p->server.n_client_keys, 0);
    cr_expect_null(p->server.admin_key);
    cr_expect_eq(p->server.max_body, 8u << 20);
    cr_expect_eq(p->server.request_timeout_ms, 120000);
    cr_expect_eq(p->server.idle_timeout_ms, 60000);
    cr_expect_eq(p->server.header_timeout_ms, 10000);
    cr_expect_eq(p->server.shutdown_grace_ms, 30000);
    cr_expect_eq(p->server.workers, 0);
    cr_expect_str_eq(p->server.access_log, "stdout");
    cr_expect_eq(p->n_plugin_paths, 0);

    cr_expect_eq(p->retry.max_attempts, 3);
    cr_expect_eq(p->retry.on_flags, SY_RETRY_ON_CONNECT_ERROR | SY_RETRY_ON_TIMEOUT);
    cr_assert_eq(p->retry.n_on_status, 6);
    int want[] = {408, 429, 500, 502, 503, 504};
    for (int i = 0; i < 6; i++) cr_expect_eq(p->retry.on_status[i], want[i]);
    cr_expect(sy_policy_retry_on_status(p, 503));
    cr_expect_not(sy_policy_retry_on_status(p, 404));
    cr_expect_eq(p->retry.backoff_base_ms, 500);
    cr_expect_eq(p->retry.backoff_max_ms, 8000);
    cr_expect_eq(p->retry.jitter, SY_JITTER_FULL);
    cr_expect_eq(p->retry.retry_after_honor, 1);
    cr_expect_eq(p->retry.retry_after_max_ms, 60000);
    cr_expect_float_eq(p->retry.budget_ratio, 0.2, 1e-9);
    cr_expect_float_eq(p->retry.budget_min_per_second, 10, 1e-9);

    cr_expect_eq(p->breaker.failure_threshold, 5);
    cr_expect_eq(p->breaker.success_threshold, 2);
    cr_expect_eq(p->breaker.open_for_ms, 60000);
    cr_expect_eq(p->breaker.half_open_max_calls, 3);
    cr_expect_eq(p->rate_limit.enabled, 0);
    cr_expect_eq(p->budget.enabled, 0);

    cr_assert_eq(p->n_providers, 1);
    const sy_policy_provider *pr = &p->providers[0];
    cr_expect_str_eq(pr->name, "p");
    cr_expect_str_eq(pr->plugin_name, "mock");
    cr_expect_eq(pr->balance, SY_BALANCE_PRIORITY);
    cr_expect_eq(pr->health.enabled, 0);
    cr_expect_str_eq(pr->health.path, "/models");
    cr_expect_eq(pr->health.interval_ms, 30000);
    cr_assert_eq(pr->n_endpoints, 1);
    cr_expect_eq(pr->endpoints[0].priority, 100);
    cr_expect_null(pr->endpoints[0].base_url); /* no registry: nothing resolved */
    cr_expect_eq(p->n_endpoints_total, 1);

    /* One provider, no migration section: it is stable, no canary. */
    cr_expect_eq(p->migration.enabled, 0);
    cr_expect_eq(p->migration.stable, 0);
    cr_expect_eq(p->migration.fallback_to_stable, 1);
    cr_assert_eq(p->migration.n_sticky, 2);
    cr_expect_eq(p->migration.sticky[0].kind, SY_STICKY_HEADER);
    cr_expect_str_eq(p->migration.sticky[0].name, "x-user-id");
    cr_expect_str_eq(p->migration.sticky[0].label, "header:x-user-id");
    cr_expect_eq(p->migration.sticky[1].kind, SY_STICKY_BODY);
    cr_expect_str_eq(p->migration.sticky[1].label, "body:user");
    cr_expect_eq(p->migration.rollback.enabled, 0);
    cr_expect_eq(p->migration.rollback.window_ms, 300000);
    cr_expect_eq(p->migration.rollback.min_requests, 200);
    cr_expect_eq(p->n_models, 0);

    /* The only warning: an open router. */
    cr_expect_eq(t.d.n_warnings, 1, "%s", tl_printed(&t.d));
    tl_expect(&t.d, SY_DIAG_WARNING, 1, 1, "`server.client_keys` is not set");
    tl_free(&t);
}

Test(load, spec_example)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_plugin_registry reg;
    sy_plugin_registry_init(&reg, NULL, 0);
    const char *path = SOURCE_DIR "/tests/policy/data/spec-example.yaml";
    sy_policy *p = sy_policy_load(path, SY_LOAD_VALIDATE, &reg, &d);
    char *all = tl_printed(&d);
    cr_assert(p, "%s", all);
    cr_expect_eq(d.n_errors, 0, "%s", all);
    free(all);

    cr_expect_str_eq(p->server.listen, "127.0.0.1:8080");
    cr_expect_eq(p->server.request_timeout_ms, 120000);
    cr_assert_eq(p->n_plugin_paths, 1);
    cr_expect_str_eq(p->plugin_paths[0], SOURCE_DIR "/tests/policy/data/build/plugins");
    cr_assert_eq(p->n_providers, 2);
    const sy_policy_provider *oa = sy_policy_provider_by_name(p, "openai-official");
    const sy_policy_provider *hs = sy_policy_provider_by_name(p, "holysheep");
    cr_assert(oa && hs);
    cr_expect_str_eq(oa->endpoints[0].base_url, "https://api.openai.com/v1");
    cr_assert_eq(hs->n_endpoints, 4);
    const char *order[] = {"cn-north", "cn-east", "cn-south", "us-west"};
    for (int i = 0; i < 4; i++) cr_expect_str_eq(hs->endpoints[i].name, order[i]);
    cr_expect_eq(hs->endpoints[3].priority, 99);
    cr_expect_eq(hs->health.enabled, 1);
    cr_expect_eq(hs->health.timeout_ms, 5000);
    cr_expect_eq(p->n_endpoints_total, 5);
    /* The ABI view of an endpoint. */
    cr_expect_str_eq(hs->endpoints[1].view.provider, "holysheep");
    cr_expect_str_eq(hs->endpoints[1].view.name, "cn-east");
    cr_expect_str_eq(hs->endpoints[1].view.base_url, "https://cn-east.holysheep.ai/v1");
    cr_expect(oa->instance && hs->instance);

    cr_expect_eq(p->retry.backoff_max_ms, 8000);
    cr_expect_eq(p->rate_limit.enabled, 1);
    cr_expect_float_eq(p->rate_limit.rps, 100, 1e-9);

    const sy_fallback_chain *ch = sy_policy_fallbacks(p, "gpt-4.1");
    cr_assert(ch);
    cr_assert_eq(ch->n_to, 3);
    cr_expect_str_eq(ch->to[2], "claude-sonnet-4.5");
    const sy_price *pr = sy_policy_price(p, "gpt-4.1");
    cr_assert(pr);
    cr_expect_float_eq(pr->output_per_m, 8.0, 1e-9);
    const char *models[] = {"claude-sonnet-4.5", "gpt-4.1", "gpt-4o", "gpt-4o-mini"};
    cr_assert_eq(p->n_models, 4);
    for (int i = 0; i < 4; i++) cr_expect_str_eq(p->models[i], models[i]);

    const sy_migration_conf *m = &p->migration;
    cr_expect_eq(m->enabled, 1);
    cr_expect_str_eq(p->providers[m->stable].name, "openai-official");
    cr_expect_str_eq(p->providers[m->canary].name, "holysheep");
    cr_expect_str_eq(m->rollout_id, "holysheep-2026");
    cr_expect_float_eq(m->percent, 10, 1e-9);
    cr_assert_eq(m->n_canary_endpoints, 2);
    cr_expect_str_eq(m->canary_endpoints[1], "cn-east");
    cr_assert_eq(m->n_steps, 4);
    cr_expect_float_eq(m->steps[3], 100, 1e-9);
    cr_expect_eq(m->step_after_ms, 30 * 60 * 1000);
    cr_expect_eq(m->fallback_to_stable, 1);
    cr_expect_eq(m->rollback.enabled, 1);
    cr_expect_float_eq(m->rollback.success_rate_below, 99.5, 1e-9);
    cr_expect_eq(m->rollback.p95_above_ms, 500);
    cr_expect_eq(m->rollback.latency, SY_LATENCY_TTFB);
    cr_expect_str_eq(m->rollback.state_file, SOURCE_DIR "/tests/policy/data/switchyard.state");
    cr_expect_eq(p->budget.enabled, 1);
    cr_expect_float_eq(p->budget.monthly_usd, 10000, 1e-9);
    cr_expect_eq(p->budget.on_exceed, SY_BUDGET_ALERT);

    /* Locations outlive the YAML document. */
    cr_expect_str_eq(hs->loc.file, path);
    cr_expect_eq(hs->loc.line, 17);
    sy_policy_unref(p);
    sy_plugin_registry_free(&reg);
    sy_diags_free(&d);
}

Test(load, shipped_policies)
{
    const char *files[] = {"demo.yaml", "holysheep-migration.yaml"};
    for (size_t i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/policies/%s", SOURCE_DIR, files[i]);
        sy_diags d;
        sy_diags_init(&d);
        sy_plugin_registry reg;
        sy_plugin_registry_init(&reg, NULL, 0);
        sy_policy *p = sy_policy_load(path, SY_LOAD_VALIDATE, &reg, &d);
        char *all = tl_printed(&d);
        cr_assert(p, "%s:\n%s", path, all);
        free(all);
        cr_expect_eq(p->migration.enabled, 1);
        cr_expect_float_eq(p->migration.percent, 10, 1e-9);
        cr_expect_eq(p->migration.n_canary_endpoints, 2);
        for (size_t j = 0; j < p->n_providers; j++)
            for (size_t k = 0; k < p->providers[j].n_endpoints; k++)
                cr_expect(p->providers[j].endpoints[k].base_url);
        if (i == 1) {
            const sy_policy_provider *hs = sy_policy_provider_by_name(p, "holysheep");
            const sy_policy_provider *oa = sy_policy_provider_by_name(p, "openai-official");
            cr_assert(hs && oa);
            /* region: names only, the plugin gives the URL */
            cr_expect_str_eq(hs->endpoints[0].base_url, "https://cn-north.holysheep.ai/v1");
            cr_expect_float_eq(p->migration.rollback.success_rate_below, 99.5, 1e-9);
            cr_expect_eq(p->migration.rollback.p95_above_ms, 500);
            cr_expect(p->migration.fallback_to_stable);
            /* the chains of issue 2 */
            const sy_fallback_chain *c1 = sy_policy_fallbacks(p, "claude-sonnet-4.5");
            cr_assert(c1 && c1->n_to == 2);
            cr_expect_str_eq(c1->to[0], "claude-3-5-sonnet");
            const sy_fallback_chain *c2 = sy_policy_fallbacks(p, "gemini-2.5-flash");
            cr_assert(c2 && c2->n_to == 2);
            cr_expect_str_eq(c2->to[0], "deepseek-v3.2");
            /* prices: HolySheep's by default, the official API's own for gpt-4o */
            cr_expect_float_eq(sy_policy_price(p, "gpt-4.1")->output_per_m, 8.0, 1e-9);
            cr_expect_float_eq(sy_policy_price(p, "claude-sonnet-4.5")->output_per_m, 15.0,
                               1e-9);
            cr_expect_float_eq(sy_policy_price(p, "gemini-2.5-flash")->output_per_m, 2.5, 1e-9);
            cr_expect_float_eq(sy_policy_price(p, "deepseek-v3.2")->output_per_m, 0.42, 1e-9);
            const sy_price *hs4o = sy_policy_price_at(p, hs, "gpt-4o");
            const sy_price *oa4o = sy_policy_price_at(p, oa, "gpt-4o");
            cr_expect_float_eq(hs4o->input_per_m, 2.0, 1e-9);
            cr_expect_float_eq(hs4o->output_per_m, 8.0, 1e-9);
            cr_expect_float_eq(oa4o->input_per_m, 2.5, 1e-9);
            cr_expect_float_eq(oa4o->output_per_m, 10.0, 1e-9);
            cr_expect_eq(sy_policy_price_at(p, oa, "gpt-4.1"), sy_policy_price(p, "gpt-4.1"));
        }
        sy_policy_unref(p);
        sy_plugin_registry_free(&reg);
        sy_diags_free(&d);
    }
}

Test(load, every_key_of_the_tables)
{
    /* Every key the tables know, written once, with values other than the
     * defaults: nothing is unknown, and each lands in its field. */
    setenv("T_CLIENTS", " k1 , k2,,k3 ", 1);
    setenv("T_ADMIN", "adm", 1);
    tload t;
    sy_policy *p = load_ok(&t,
        "version: 1\n"
        "server:\n"
        "  listen: '[::1]:9090'\n"
        "  client_keys: ${T_CLIENTS}\n"
        "  admin_key: ${T_ADMIN}\n"
        "  max_body: 512KiB\n"
        "  request_timeout: 1m\n"
        "  idle_timeout: 2m\n"
        "  header_timeout: 3s\n"
        "  shutdown_grace: 0s\n"
        "  workers: 4\n"
        "  access_log: logs/access.jsonl\n"
        "plugins: {path: plug}\n"
        "providers:\n"
        "  a:\n"
        "    plugin: mock\n"
        "    balance: latency\n"
        "    health_check: {path: /health, interval: 10s, timeout: 1s, unhealthy_after: 4, "
        "healthy_after: 5}\n"
        "    prices: {m1: {input: 1}}\n"
        "    endpoints:\n"
        "      - {name: z, base_url: 'http://h:1/v1/', priority: 7}\n"
        "      - {name: y, base_url: 'https://h/v1', priority: 3}\n"
        "  b:\n"
        "    plugin: mock\n"
        "    endpoints: [{name: e1}, {name: e2}]\n"
        "retry:\n"
        "  max_attempts: 5\n"
        "  on: [timeout, 503]\n"
        "  backoff: {base: 1s, max: 1s, jitter: equal}\n"
        "  retry_after: {honor: false, max: 5s}\n"
        "  budget: {ratio: 0.5, min_per_second: 1}\n"
        "breaker: {failure_threshold: 9, success_threshold: 4, open_for: 1h, "
        "half_open_max_calls: 4}\n"
        "rate_limit: {rps: 2.5}\n"
        "models:\n"
        "  fallbacks: {m1: [m2]}\n"
        "  prices: {m2: {output: 0.5}}\n"
        "migration:\n"
        "  stable: b\n"
        "  canary: a\n"
        "  rollout:\n"
        "    sticky_by: [header:X-Team, body:account]\n"
        "    canary_endpoints: [y]\n"
        "    steps: [5, 50]\n"
        "    step_after: 1h\n"
        "  fallback_to_stable: no\n"
        "  rollback: {success_rate_below: 90, p95_above: 2s, latency: total, window: 1m, "
        "min_requests: 10, state_file: /tmp/x.state}\n"
        "budget: {monthly_usd: 5, on_exceed: reject}\n",
        0);
    cr_expect_str_eq(p->server.listen, "[::1]:9090");
    cr_assert_eq(p->server.n_client_keys, 3);
    cr_expect_str_eq(p->server.client_keys[0], "k1");
    cr_expect_str_eq(p->server.client_keys[2], "k3");
    cr_expect_str_eq(p->server.admin_key, "adm");
    cr_expect_eq(p->server.max_body, 512u * 1024);
    cr_expect_eq(p->server.request_timeout_ms, 60000);
    cr_expect_eq(p->server.idle_timeout_ms, 120000);
    cr_expect_eq(p->server.header_timeout_ms, 3000);
    cr_expect_eq(p->server.shutdown_grace_ms, 0);
    cr_expect_eq(p->server.workers, 4);
    cr_expect_str_eq(p->server.access_log, "logs/access.jsonl"); /* "test.yaml" is in "." */
    cr_assert_eq(p->n_plugin_paths, 1);
    cr_expect_str_eq(p->plugin_paths[0], "plug");

    const sy_policy_provider *a = &p->providers[0];
    cr_expect_eq(a->balance, SY_BALANCE_LATENCY);
    cr_expect_eq(a->health.enabled, 1);
    cr_expect_str_eq(a->health.path, "/health");
    cr_expect_eq(a->health.interval_ms, 10000);
    cr_expect_eq(a->health.unhealthy_after, 4);
    cr_expect_eq(a->health.healthy_after, 5);
    cr_assert_eq(a->n_prices, 1);
    /* sorted by priority; the trailing slash goes */
    cr_expect_str_eq(a->endpoints[0].name, "y");
    cr_expect_str_eq(a->endpoints[1].base_url, "http://h:1/v1");
    cr_expect_eq(a->endpoints[0].global_index, 0);
    cr_expect_eq(p->providers[1].endpoints[1].global_index, 3);
    cr_expect_eq(p->n_endpoints_total, 4);

    cr_expect_eq(p->retry.max_attempts, 5);
    cr_expect_eq(p->retry.on_flags, SY_RETRY_ON_TIMEOUT);
    cr_expect_eq(p->retry.n_on_status, 1);
    cr_expect_eq(p->retry.jitter, SY_JITTER_EQUAL);
    cr_expect_eq(p->retry.retry_after_honor, 0);
    cr_expect_eq(p->retry.retry_after_max_ms, 5000);
    cr_expect_float_eq(p->retry.budget_ratio, 0.5, 1e-9);
    cr_expect_eq(p->breaker.open_for_ms, 3600000);
    cr_expect_eq(p->rate_limit.enabled, 1);
    cr_expect_float_eq(p->rate_limit.burst, 3, 1e-9, "burst defaults to ceil(rps)");

    const sy_migration_conf *m = &p->migration;
    cr_expect_eq(m->stable, 1);
    cr_expect_eq(m->canary, 0);
    cr_expect_str_eq(m->rollout_id, "b->a");
    cr_expect_float_eq(m->percent, 5, 1e-9, "no percent: the first step");
    cr_expect_str_eq(m->sticky[0].name, "x-team");
    cr_expect_str_eq(m->sticky[0].label, "header:x-team");
    cr_expect_str_eq(m->sticky[1].label, "body:account");
    cr_expect_eq(m->fallback_to_stable, 0);
    cr_expect_float_eq(m->rollback.success_rate_below, 90, 1e-9);
    cr_expect_eq(m->rollback.latency, SY_LATENCY_TOTAL);
    cr_expect_str_eq(m->rollback.state_file, "/tmp/x.state");
    cr_expect_eq(p->budget.on_exceed, SY_BUDGET_REJECT);
    /* m1 (fallbacks, provider price), m2 */
    cr_assert_eq(p->n_models, 2);
    /* No warnings: serve acts on every key written here. */
    cr_expect_eq(t.d.n_warnings, 0, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(load, relative_paths_follow_the_policy_file)
{
    const char *y = "version: 1\n" TL_PROVIDER "server: {access_log: ./a.log}\n"
                    "plugins: {path: [../plugins, /abs]}\n"
                    "migration:\n"
                    "  rollback: {p95_above: 1s, state_file: s.state}\n";
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("/etc/sy/policy.yaml", y, strlen(y), SY_LOAD_VALIDATE,
                                         NULL, &d);
    cr_assert(p, "%s", tl_printed(&d));
    cr_expect_str_eq(p->server.access_log, "/etc/sy/a.log");
    cr_expect_str_eq(p->plugin_paths[0], "/etc/sy/../plugins");
    cr_expect_str_eq(p->plugin_paths[1], "/abs");
    cr_expect_str_eq(p->migration.rollback.state_file, "/etc/sy/s.state");
    /* a rollback without a canary does nothing: a warning */
    cr_expect(tl_find(&d, SY_DIAG_WARNING, "has no effect without `migration.canary`"));
    sy_policy_unref(p);
    sy_diags_free(&d);
}

Test(load, migration_rules)
{
    tload t;
    /* More than one provider: stable is required. */
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 2, 1, "`migration.stable` is not set: with more than one "
                                          "provider (a, b)");
    tl_free(&t);

    /* Stable alone is enough; no canary: everything stable. */
    tload t2;
    sy_policy *p = load_ok(&t2,
                           "version: 1\n"
                           "providers:\n"
                           "  a: {plugin: mock, endpoints: [{name: e}]}\n"
                           "  b: {plugin: mock, endpoints: [{name: e}]}\n"
                           "migration: {stable: b}\n",
                           0);
    cr_expect_eq(p->migration.stable, 1);
    cr_expect_eq(p->migration.enabled, 0);
    tl_free(&t2);

    /* References that name nothing, with suggestions. */
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  openai-official: {plugin: mock, endpoints: [{name: global}]}\n"
            "  holysheep: {plugin: mock, endpoints: [{name: cn-north}, {name: cn-east}]}\n"
            "migration:\n"
            "  stable: openai-oficial\n"
            "  canary: holysheep\n"
            "  rollout: {percent: 5, canary_endpoints: [cn-north, cn-est]}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 6, 11,
              "`migration.stable`: no provider named `openai-oficial`; did you mean "
              "`openai-official`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 8, 54,
              "has no endpoint named `cn-est`; did you mean `cn-east`?");
    tl_free(&t);

    /* canary == stable; steps without step_after; a rollback with no threshold. */
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n"
            "migration:\n"
            "  stable: a\n"
            "  canary: a\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 11, "`a` is also the stable provider");
    tl_free(&t);

    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n"
            "migration:\n"
            "  stable: a\n"
            "  canary: b\n"
            "  rollout:\n"
            "    steps: [10, 5]\n"
            "  rollback:\n"
            "    window: 1m\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 17, "steps must go up: 5 is not above 10");
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 12, "`migration.rollout.steps` needs `step_after`");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 3, "give success_rate_below, p95_above or both");
    tl_expect(&t.d, SY_DIAG_WARNING, 10, 3, "has no `state_file`");
    tl_free(&t);

    /* A canary without a percent gets no traffic: said as a warning. */
    p = load_ok(&t2,
                "version: 1\n"
                "providers:\n"
                "  a: {plugin: mock, endpoints: [{name: e}]}\n"
                "  b: {plugin: mock, endpoints: [{name: e}]}\n"
                "migration: {stable: a, canary: b}\n",
                0);
    cr_expect_eq(p->migration.enabled, 1);
    cr_expect_float_eq(p->migration.percent, 0, 1e-9);
    cr_expect_str_eq(p->migration.rollout_id, "a->b");
    tl_expect(&t2.d, SY_DIAG_WARNING, 5, 32, "the canary gets no traffic");
    tl_free(&t2);
}

Test(load, related_ranges)
{
    tload t;
    tl_load(&t,
            HEAD "retry:\n"
                 "  backoff: {base: 10s, max: 2s}\n"
                 "  on: [connect_error, time_out, 200, 503, 503]\n"
                 "breaker: {success_threshold: 4, half_open_max_calls: 3}\n"
                 "provider: 1\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 8, 19, "`retry.backoff.base` (10s) is longer than "
                                          "`retry.backoff.max` (2s)");
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 23, "`time_out` is not connect_error, timeout or an HTTP "
                                          "status; did you mean `timeout`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 33, "200 is not an error status");
    tl_expect(&t.d, SY_DIAG_WARNING, 9, 43, "status 503 is listed twice");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 30, "`breaker.success_threshold` (4) is larger than "
                                           "`breaker.half_open_max_calls` (3)");
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 1, "did you mean `providers`?");
    tl_free(&t);
}

Test(load, models_and_prices)
{
    tload t;
    tl_load(&t,
            HEAD "models:\n"
                 "  fallbacks:\n"
                 "    a: [b, b]\n"
                 "    c: []\n"
                 "    d: x\n"
                 "  prices:\n"
                 "    a: {}\n"
                 "    b: {input: -1, output: cheap}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 12, "`b` is listed twice in this chain");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 8, "the fallback list is empty");
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 8, "expected a list of fallback models");
    tl_expect(&t.d, SY_DIAG_ERROR, 13, 5, "give input, output or both");
    tl_expect(&t.d, SY_DIAG_ERROR, 14, 16, "`models.prices.b.input`: -1 is out of range");
    tl_expect(&t.d, SY_DIAG_ERROR, 14, 28, "expected a number, got `cheap`");
    tl_free(&t);

    /* The model list: fallback keys and targets and prices, sorted, unique. */
    tload t2;
    sy_policy *p = load_ok(&t2,
                           HEAD "models:\n"
                                "  fallbacks: {z: [y, a], y: [a]}\n"
                                "  prices: {q: {input: 1, output: 2}, a: {output: 1}}\n"
                                "budget: {monthly_usd: 10}\n",
                           0);
    const char *want[] = {"a", "q", "y", "z"};
    cr_assert_eq(p->n_models, 4);
    for (int i = 0; i < 4; i++) cr_expect_str_eq(p->models[i], want[i]);
    cr_expect_null(sy_policy_price(p, "z"));
    cr_expect_float_eq(sy_policy_price(p, "a")->input_per_m, 0, 1e-9);
    /* a budget with models that have no price: their cost is not counted */
    tl_expect(&t2.d, SY_DIAG_WARNING, 10, 1, "no price for y, z: their cost is not counted");
    /* and no state_file: the month's spend would not survive a restart */
    tl_expect(&t2.d, SY_DIAG_WARNING, 10, 1,
              "`budget` without `migration.rollback.state_file`: the month's spend is kept in "
              "memory only and starts again at 0 after a restart");
    tl_free(&t2);
}

Test(load, plugin_keys_and_endpoints)
{
    tload t;
    setenv("T_OPENAI", "sk-abcdef", 1);
    /* openai: base_url is required, api_key is required */
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  oa:\n"
            "    plugin: openai\n"
            "    endpoints:\n"
            "      - {name: global}\n"
            "  oa2:\n"
            "    plugin: openai\n"
            "    api_key: ${T_OPENAI}\n"
            "    endpoints:\n"
            "      - {name: global}\n"
            "      - {name: other, base_url: ftp://x}\n"
            "  hs:\n"
            "    plugin: holysheep\n"
            "    api_key: ${T_OPENAI}\n"
            "    endpoints:\n"
            "      - {name: mars, region: mars-1}\n"
            "  m:\n"
            "    plugin: mock\n"
            "    latency: fast\n"
            "    error_rate: 2\n"
            "    endpoints: [{name: e}]\n"
            "migration: {stable: oa2}\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 3, 3, "`providers.oa`: plugin `openai` needs `api_key` (secret");
    tl_expect(&t.d, SY_DIAG_ERROR, 12, 33, "`ftp://x` is not a usable URL: it must start with "
                                           "http:// or https://");
    tl_expect(&t.d, SY_DIAG_ERROR, 17, 9, "unknown region 'mars-1'");
    tl_expect(&t.d, SY_DIAG_ERROR, 20, 14, "`providers.m.latency`: `fast` is not a valid duration");
    tl_free(&t);

    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  oa2:\n"
            "    plugin: openai\n"
            "    api_key: ${T_OPENAI}\n"
            "    endpoints:\n"
            "      - {name: global}\n"
            "  m:\n"
            "    plugin: mock\n"
            "    error_rate: 2\n"
            "    endpoints: [{name: e}]\n"
            "migration: {stable: oa2}\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 9,
              "`providers.oa2.endpoints[0]`: endpoint 'global' needs a base_url");
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 13, "plugin `mock` refused this provider's settings: "
                                          "error_rate must be between 0 and 1");
    tl_free(&t);

    /* Good: mock endpoints get mock:// URLs, declared defaults apply,
     * endpoint keys land aligned with the plugin's declaration. */
    tload t2;
    sy_policy *p = load_ok(&t2,
                           "version: 1\n"
                           "providers:\n"
                           "  m:\n"
                           "    plugin: mock\n"
                           "    endpoints: [{name: e, latency: 5ms}]\n",
                           1);
    const sy_policy_provider *m = &p->providers[0];
    cr_assert(m->plugin && m->instance && m->plugin_cfg);
    cr_expect_str_eq(m->endpoints[0].base_url, "mock://e");
    size_t k = 0;
    for (; m->plugin->config_keys[k].name; k++)
        if (!strcmp(m->plugin->config_keys[k].name, "latency")) break;
    cr_assert(m->plugin->config_keys[k].name);
    cr_expect(m->plugin_cfg[k].set, "a declared default sets the value");
    cr_expect_eq(m->plugin_cfg[k].i, 20);
    size_t e = 0;
    for (; m->plugin->endpoint_keys[e].name; e++)
        if (!strcmp(m->plugin->endpoint_keys[e].name, "latency")) break;
    cr_expect(m->endpoints[0].plugin_cfg[e].set);
    cr_expect_eq(m->endpoints[0].plugin_cfg[e].i, 5);
    cr_expect_eq(m->endpoints[0].view.config, m->endpoints[0].plugin_cfg);
    tl_free(&t2);
}

Test(load, loader_failures_point_at_the_plugin_line)
{
    /* Broken plugins from tests/plugins: each loader message is reported at
     * the provider's `plugin:` value. */
    setenv("SWITCHYARD_PLUGIN_PATH", FIXTURE_DIR ":" BUILD_PLUGIN_DIR, 1);
    struct {
        const char *plugin, *needle;
    } cases[] = {
        {"text", "not a shared object"},
        {"abi2", "ABI"},
        {"nocreate", "create"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "version: 1\n"
                 "providers:\n"
                 "  p:\n"
                 "    plugin: %s\n"
                 "    endpoints: [{name: e, base_url: http://x/v1}]\n",
                 cases[i].plugin);
        tload t;
        tl_load(&t, y, SY_LOAD_VALIDATE, 1);
        cr_assert_null(t.p);
        tl_expect(&t.d, SY_DIAG_ERROR, 4, 13, cases[i].needle);
        tl_expect(&t.d, SY_DIAG_ERROR, 4, 13, "`providers.p.plugin`: ");
        cr_expect_eq(t.d.n_errors, 1, "%s", tl_printed(&t.d));
        tl_free(&t);
    }
}

Test(load, refcount)
{
    tload t;
    sy_policy *p = load_ok(&t, HEAD, 0);
    cr_expect_eq(sy_policy_ref(p), p);
    cr_expect_eq(p->refcount, 2);
    sy_policy_unref(p);
    cr_expect_eq(p->refcount, 1);
    cr_expect_null(sy_policy_provider_by_name(p, "nope"));
    cr_expect_null(sy_policy_fallbacks(p, "nope"));
    cr_expect_null(sy_policy_price_at(p, NULL, "nope"));
    tl_free(&t);
}
