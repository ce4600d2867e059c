/*
 * test_bad_input.c - issue 2's "Bad input" list, for the policy: each gives
 * no policy, an error with a clear message at the right line:col, and no
 * crash, hang or unbounded memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define HEAD "version: 1\n" TL_PROVIDER

Test(bad_input, empty_file)
{
    tload t;
    tl_load(&t, "", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "the policy is empty");
    tl_free(&t);

    tl_load(&t, "# only a comment\n\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "the policy is empty");
    tl_free(&t);
}

Test(bad_input, not_yaml)
{
    tload t;
    tl_load(&t, "version: 1\nproviders: {p: [1, 2\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    cr_assert_geq(t.d.n_errors, 1);
    const sy_diag *g = tl_find(&t.d, SY_DIAG_ERROR, "invalid YAML");
    cr_assert(g, "%s", tl_printed(&t.d));
    cr_expect_eq(g->line, 2);
    tl_free(&t);

    /* Prose is a scalar document: valid YAML, not a policy. */
    tl_load(&t, "This is not a policy at all.\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "must be a mapping");
    tl_free(&t);

    /* "key: a: b" is not YAML. */
    tl_load(&t, "version: 1\nserver: listen: x\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 2, 15, "invalid YAML: unexpected ':'");
    tl_free(&t);
}

Test(bad_input, top_level_list)
{
    tload t;
    tl_load(&t, "- version: 1\n- providers: {}\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "must be a mapping of keys");
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "not a list");
    tl_free(&t);
}

Test(bad_input, tab_indentation)
{
    tload t;
    tl_load(&t, "version: 1\nserver:\n\tlisten: 127.0.0.1:8080\n" TL_PROVIDER, SY_LOAD_VALIDATE,
            0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 3, 1, "tabs are not allowed for indentation");
    tl_free(&t);
}

Test(bad_input, ten_megabyte_file)
{
    char path[] = "/tmp/sy-policy-big-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("version: 1\n# ", f);
    for (int i = 0; i < 10 * 1024; i++) {
        static char kb[1024];
        memset(kb, 'x', sizeof kb - 1);
        fwrite(kb, 1, sizeof kb - 1, f);
        fputc('\n', f);
        fputs("# ", f);
    }
    fclose(f);
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load(path, SY_LOAD_VALIDATE, NULL, &d);
    unlink(path);
    cr_assert_null(p);
    cr_assert_eq(d.n_errors, 1);
    const sy_diag *g = tl_find(&d, SY_DIAG_ERROR, "too large");
    cr_assert(g);
    cr_expect_eq(g->line, 0, "a whole-file problem has no line");
    cr_expect(strstr(g->msg, "1 MiB"), "%s", g->msg);
    sy_diags_free(&d);

    /* The same through the buffer entry point. */
    size_t n = 10u << 20;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[n] = 0;
    sy_diags_init(&d);
    p = sy_policy_load_buffer("big.yaml", big, n, SY_LOAD_VALIDATE, NULL, &d);
    cr_assert_null(p);
    cr_expect(tl_find(&d, SY_DIAG_ERROR, "too large"));
    sy_diags_free(&d);
    free(big);
}

Test(bad_input, deep_nesting)
{
    char buf[4096];
    strcpy(buf, "version: 1\nserver: ");
    for (int i = 0; i < 500; i++) strcat(buf, "[");
    strcat(buf, "\n");
    tload t;
    tl_load(&t, buf, SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    /* The mapping under the root and server's value are levels 1 and 2, so
     * the bracket that is one too deep is the 64th. */
    const sy_diag *g = tl_find(&t.d, SY_DIAG_ERROR, "nesting is too deep");
    cr_assert(g, "%s", tl_printed(&t.d));
    cr_expect_eq(g->line, 2);
    cr_expect(g->col > 8 && g->col <= 8 + 65, "col %u", g->col);
    tl_free(&t);
}

Test(bad_input, alias_bomb)
{
    const char *bomb = "version: 1\n"
                       "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    tload t;
    tl_load(&t, bomb, SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    const sy_diag *g = tl_find(&t.d, SY_DIAG_ERROR, "alias bomb");
    cr_assert(g, "%s", tl_printed(&t.d));
    cr_expect(g->line >= 5 && g->line <= 10, "line %u", g->line);
    tl_free(&t);
}

Test(bad_input, wrong_types)
{
    tload t;
    tl_load(&t,
            HEAD "server: [127.0.0.1, 8080]\n"
                 "retry:\n"
                 "  max_attempts: three\n"
                 "  backoff: {base: 1s, jitter: 3}\n"
                 "breaker:\n"
                 "  failure_threshold: \"5\"\n"
                 "  open_for: {seconds: 60}\n"
                 "migration:\n"
                 "  fallback_to_stable: maybe\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 9, "`server`: expected a mapping, got a list");
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 17, "`retry.max_attempts`: expected an integer, got `three`");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 31,
              "`retry.backoff.jitter`: `3` is not one of full | equal | none");
    tl_expect(&t.d, SY_DIAG_ERROR, 12, 22, "quoted string \"5\"; remove the quotes");
    tl_expect(&t.d, SY_DIAG_ERROR, 13, 13, "`breaker.open_for`: expected a value, got a mapping");
    tl_expect(&t.d, SY_DIAG_ERROR, 15, 23,
              "`migration.fallback_to_stable`: expected true or false");
    /* Every problem in one run. */
    cr_expect_eq(t.d.n_errors, 6, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(bad_input, negative_durations)
{
    tload t;
    tl_load(&t,
            HEAD "retry:\n"
                 "  backoff: {base: -5s, max: 8s}\n"
                 "server:\n"
                 "  request_timeout: -1m\n"
                 "  idle_timeout: 0s\n"
                 "  header_timeout: 10\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 8, 19, "`retry.backoff.base`: `-5s` is not a valid duration");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 20,
              "`server.request_timeout`: `-1m` is not a valid duration");
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 17, "`server.idle_timeout`: must be longer than 0");
    tl_expect(&t.d, SY_DIAG_ERROR, 12, 19, "`server.header_timeout`: `10` is not a valid duration");
    cr_expect_eq(t.d.n_errors, 4, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(bad_input, percent_150)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n"
            "migration:\n"
            "  stable: a\n"
            "  canary: b\n"
            "  rollout:\n"
            "    percent: 150\n"
            "    steps: [10, 250%]\n"
            "  rollback: {success_rate_below: 101%, p95_above: 1s}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 9, 14,
              "`migration.rollout.percent`: `150` is out of range: a percentage is 0..100");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 17, "`migration.rollout.steps[1]`: `250%` is out of range");
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 34, "`migration.rollback.success_rate_below`: `101%`");
    tl_free(&t);

    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n"
            "migration: {stable: a, canary: b, rollout: {percent: ten}}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 5, 54, "`ten` is not a percentage");
    tl_free(&t);
}

Test(bad_input, unknown_plugin)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  p:\n"
            "    plugin: no-such-plugin\n"
            "    endpoints: [{name: e, base_url: http://x/v1}]\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 4, 13,
              "`providers.p.plugin`: plugin 'no-such-plugin' not found");
    cr_expect_eq(t.d.n_errors, 1, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(bad_input, fallback_cycle)
{
    tload t;
    tl_load(&t,
            HEAD "models:\n"
                 "  fallbacks:\n"
                 "    gpt-4.1: [gpt-4o, gpt-4o-mini]\n"
                 "    gpt-4o: [claude, gpt-4.1]\n"
                 "    solo: [solo]\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 22, "fallback cycle: gpt-4.1 -> gpt-4o -> gpt-4.1");
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 12, "fallback cycle: solo -> solo");
    cr_expect_eq(t.d.n_errors, 2, "%s", tl_printed(&t.d));
    tl_free(&t);

    /* A longer one, written in another order. */
    tl_load(&t,
            HEAD "models:\n"
                 "  fallbacks:\n"
                 "    c: [a]\n"
                 "    a: [b]\n"
                 "    b: [x, c]\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 11, 12, "fallback cycle: c -> a -> b -> c");
    tl_free(&t);
}

Test(bad_input, duplicate_provider_names)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  p: {plugin: mock, endpoints: [{name: e}]}\n"
            "  q: {plugin: mock, endpoints: [{name: e}]}\n"
            "  p: {plugin: mock, endpoints: [{name: f}]}\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 5, 3, "duplicate key \"p\" (first defined on line 3)");
    tl_free(&t);
}

Test(bad_input, duplicate_endpoint_names)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  p:\n"
            "    plugin: mock\n"
            "    endpoints:\n"
            "      - {name: cn-north, priority: 1}\n"
            "      - {name: cn-east, priority: 2}\n"
            "      - name: cn-north\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 8, 15,
              "duplicate endpoint name `cn-north` in provider `p` (first at line 6)");
    tl_free(&t);
}

Test(bad_input, unknown_key_with_suggestion)
{
    tload t;
    tl_load(&t,
            HEAD "retyr:\n"
                 "  max_attempts: 3\n"
                 "breaker:\n"
                 "  failure_treshold: 5\n"
                 "server:\n"
                 "  lisen: 127.0.0.1:8080\n"
                 "  frobnicate: 1\n",
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 1, "unknown key `retyr`; did you mean `retry`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 1,
              "Valid keys here: version, server, plugins, providers, retry, breaker, "
              "rate_limit, models, migration, budget");
    tl_expect(&t.d, SY_DIAG_ERROR, 10, 3,
              "`breaker`: unknown key `failure_treshold`; did you mean `failure_threshold`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 12, 3, "`server`: unknown key `lisen`; did you mean `listen`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 13, 3,
              "`server`: unknown key `frobnicate`; valid keys here: listen,");
    cr_expect_eq(t.d.n_errors, 4, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(bad_input, unknown_plugin_key_with_suggestion)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  hs:\n"
            "    plugin: holysheep\n"
            "    api_ky: ${HS_KEY}\n"
            "    endpoints:\n"
            "      - {name: a, regoin: cn-north}\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 5, 5,
              "`providers.hs`: unknown key `api_ky`; did you mean `api_key`?");
    tl_expect(&t.d, SY_DIAG_ERROR, 5, 5, "from plugin `holysheep`");
    tl_expect(&t.d, SY_DIAG_ERROR, 7, 19,
              "`providers.hs.endpoints[0]`: unknown key `regoin`; did you mean `region`?");
    /* api_key itself is now missing */
    tl_expect(&t.d, SY_DIAG_ERROR, 3, 3, "plugin `holysheep` needs `api_key`");
    tl_free(&t);
}

Test(bad_input, nothing_valid_reports_everything_once)
{
    tload t;
    tl_load(&t, "version: 2\nproviders: {}\nretry: {max_attempts: 0}\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 10, "unsupported policy version 2");
    tl_expect(&t.d, SY_DIAG_ERROR, 2, 1, "the policy needs at least one provider");
    tl_expect(&t.d, SY_DIAG_ERROR, 3, 23,
              "`retry.max_attempts`: 0 is out of range: must be 1..100");
    cr_expect_eq(t.d.n_errors, 3, "%s", tl_printed(&t.d));
    tl_free(&t);

    tl_load(&t, "server: {}\n", SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "missing required key `version`");
    tl_expect(&t.d, SY_DIAG_ERROR, 1, 1, "missing required key `providers`");
    tl_free(&t);
}

/* Big policies within the YAML limits (1 MiB, 100000 nodes) load in well
 * under a second: duplicate checks, reference lookups and suggestions are
 * not quadratic. The timeout catches a regression. */
static char *grow(char *buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        *cap = (*cap + n + 1) * 2;
        buf = realloc(buf, *cap);
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return buf;
}

Test(bad_input, big_policies_stay_fast, .timeout = 30)
{
    size_t len = 0, cap = 0;
    char *y = NULL, item[64];
    y = grow(y, &len, &cap,
             "version: 1\nproviders:\n  a: {plugin: mock, endpoints: [{name: e}]}\n"
             "  b:\n    plugin: mock\n    endpoints: [");
    for (int i = 0; i < 12000; i++) {
        snprintf(item, sizeof item, "%s{name: e%d}", i ? "," : "", i == 11999 ? 0 : i);
        y = grow(y, &len, &cap, item);
    }
    y = grow(y, &len, &cap, "]\nmigration:\n  stable: a\n  canary: b\n  rollout:\n"
                            "    percent: 1\n    canary_endpoints: [");
    for (int i = 0; i < 12000; i++) {
        snprintf(item, sizeof item, "%sx%d", i ? "," : "", i);
        y = grow(y, &len, &cap, item);
    }
    y = grow(y, &len, &cap, "]\nmodels:\n  fallbacks:\n    m: [");
    for (int i = 0; i < 40000; i++) {
        snprintf(item, sizeof item, "%sm%d", i ? "," : "", i % 39990 + 1);
        y = grow(y, &len, &cap, item);
    }
    y = grow(y, &len, &cap, "]\n");
    cr_assert_lt(len, 1u << 20);
    tload t;
    tl_load(&t, y, SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    /* one duplicate endpoint, 12000 unknown canary endpoints, 10 repeated models */
    cr_expect_eq(t.d.n_errors, 1 + 12000 + 10);
    cr_expect(tl_find(&t.d, SY_DIAG_ERROR, "duplicate endpoint name `e0`"));
    cr_expect(tl_find(&t.d, SY_DIAG_ERROR, "has no endpoint named `x11999`"));
    cr_expect(tl_find(&t.d, SY_DIAG_ERROR, "`m1` is listed twice in this chain"));
    tl_free(&t);
    free(y);
}
