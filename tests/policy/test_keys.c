/*
 * test_keys.c - the key tables are well formed and are the one source of
 * truth: every key has help text and a sound declaration, every default
 * parses, and docs/policy.md documents every key path they hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy_keys.h"

typedef struct paths {
    char *v[512];
    const sy_pkey *k[512];
    size_t n;
} paths;

static void collect(void *ctx, const char *path, const sy_pkey *k)
{
    paths *p = ctx;
    cr_assert_lt(p->n, 512);
    p->v[p->n] = strdup(path);
    p->k[p->n] = k;
    p->n++;
}

static paths *all_paths(void)
{
    paths *p = calloc(1, sizeof *p);
    sy_policy_walk_keys(collect, p);
    return p;
}

Test(keys, declarations_are_sound)
{
    paths *p = all_paths();
    cr_assert_gt(p->n, 60);
    for (size_t i = 0; i < p->n; i++) {
        const sy_pkey *k = p->k[i];
        cr_expect(k->help && strlen(k->help) > 5, "%s has no help", p->v[i]);
        cr_expect(*sy_pk_type_name(k), "%s", p->v[i]);
        if (k->type == SY_PK_MAP) cr_expect(k->child, "%s: a mapping without keys", p->v[i]);
        if (k->type == SY_PK_ENUM) cr_expect(k->choices && k->choices[0], "%s", p->v[i]);
        if (k->type == SY_PK_MAP_OF || k->type == SY_PK_LIST_OF_MAPS || k->type == SY_PK_LIST ||
            k->type == SY_PK_CUSTOM)
            cr_expect(k->parse, "%s needs a parse callback", p->v[i]);
        if (k->flags & SY_PKF_RANGE) cr_expect_leq(k->lo, k->hi, "%s", p->v[i]);
        if (k->flags & SY_PKF_REQUIRED)
            cr_expect_null(k->def, "%s: required with a default", p->v[i]);
        for (size_t j = 0; j < i; j++) cr_expect_str_neq(p->v[i], p->v[j]);
    }
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p);
}

Test(keys, known_paths)
{
    paths *p = all_paths();
    const char *want[] = {
        "version", "server.listen", "server.workers", "server.access_log",
        "server.idle_timeout", "server.header_timeout", "server.shutdown_grace",
        "plugins.path", "providers.*.plugin", "providers.*.endpoints[].name",
        "providers.*.endpoints[].base_url", "providers.*.health_check.unhealthy_after",
        "providers.*.prices.*.output", "retry.backoff.base", "retry.retry_after.honor",
        "retry.budget.min_per_second", "breaker.half_open_max_calls", "rate_limit.burst",
        "models.fallbacks", "models.prices.*.input", "migration.rollout.canary_endpoints",
        "migration.rollback.state_file", "budget.on_exceed",
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int found = 0;
        for (size_t i = 0; i < p->n; i++) found |= !strcmp(p->v[i], want[w]);
        cr_expect(found, "%s is not in the key tables", want[w]);
    }
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p);
}

Test(keys, defaults_parse)
{
    /* Defaults are policy text parsed by the loader; a bad one would show
     * up as an error on the smallest policy. */
    tload t;
    tl_load(&t, "version: 1\n" TL_PROVIDER, SY_LOAD_SERVE, 0);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    cr_expect_eq(t.d.n_errors, 0);
    tl_free(&t);
}

Test(keys, docs_name_every_key)
{
    FILE *f = fopen(SOURCE_DIR "/docs/policy.md", "rb");
    cr_assert(f, "docs/policy.md is missing");
    static char doc[1 << 18];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = 0;
    fclose(f);
    paths *p = all_paths();
    for (size_t i = 0; i < p->n; i++) {
        char needle[300];
        snprintf(needle, sizeof needle, "`%s`", p->v[i]);
        cr_expect(strstr(doc, needle), "docs/policy.md does not document %s", needle);
    }
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p);
}
