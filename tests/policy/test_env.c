/*
 * test_env.c - ${VAR} expansion: values from the environment, unset
 * variables (a warning in validate, an error in serve, except the keys that
 * may be left unset), and the rule that a value from the environment is
 * never printed, whatever goes wrong with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

Test(env, values_are_expanded)
{
    setenv("T_HOST", "relay.example", 1);
    setenv("T_PCT", "25", 1);
    setenv("T_TIMEOUT", "45s", 1);
    tload t;
    tl_load(&t,
            "version: 1\n"
            "server: {request_timeout: \"${T_TIMEOUT}\"}\n"
            "providers:\n"
            "  a: {plugin: mock, endpoints: [{name: e, base_url: 'https://${T_HOST}:8443/v1'}]}\n"
            "  b: {plugin: mock, endpoints: [{name: e}]}\n"
            "migration: {stable: a, canary: b, rollout: {percent: \"${T_PCT}\"}}\n",
            SY_LOAD_SERVE, 0);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    cr_expect_str_eq(t.p->providers[0].endpoints[0].base_url, "https://relay.example:8443/v1");
    cr_expect_str_eq(t.p->providers[0].endpoints[0].base_url_raw, "https://${T_HOST}:8443/v1");
    cr_expect_null(t.p->providers[1].endpoints[0].base_url_raw);
    cr_expect_float_eq(t.p->migration.percent, 25, 1e-9);
    cr_expect_eq(t.p->server.request_timeout_ms, 45000);
    tl_free(&t);
}

Test(env, unset_is_a_warning_in_validate_and_an_error_in_serve)
{
    unsetenv("T_UNSET_KEY");
    const char *y = "version: 1\n"
                    "providers:\n"
                    "  oa:\n"
                    "    plugin: openai\n"
                    "    api_key: ${T_UNSET_KEY}\n"
                    "    endpoints: [{name: g, base_url: 'https://api.openai.com/v1'}]\n";
    tload t;
    tl_load(&t, y, SY_LOAD_VALIDATE, 1);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    tl_expect(&t.d, SY_DIAG_WARNING, 5, 14,
              "`providers.oa.api_key`: environment variable T_UNSET_KEY is not set "
              "(`${T_UNSET_KEY}`)");
    /* the plugin was still created and its endpoints resolved */
    cr_expect(t.p->providers[0].instance);
    tl_free(&t);

    tl_load(&t, y, SY_LOAD_SERVE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 5, 14, "environment variable T_UNSET_KEY is not set");
    cr_expect_eq(t.d.n_errors, 1, "%s", tl_printed(&t.d));
    tl_free(&t);
}

Test(env, keys_that_may_be_unset)
{
    unsetenv("T_NO_CLIENTS");
    unsetenv("T_NO_ADMIN");
    tload t;
    tl_load(&t,
            "version: 1\n"
            "server:\n"
            "  client_keys: ${T_NO_CLIENTS}\n"
            "  admin_key: ${T_NO_ADMIN}\n" TL_PROVIDER,
            SY_LOAD_SERVE, 0);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    cr_expect_eq(t.p->server.n_client_keys, 0);
    cr_expect_null(t.p->server.admin_key);
    tl_expect(&t.d, SY_DIAG_WARNING, 3, 16,
              "`${T_NO_CLIENTS}` is not set in the environment: any client can call the router");
    tl_expect(&t.d, SY_DIAG_WARNING, 4, 14, "T_NO_ADMIN is not set");
    cr_expect_eq(t.d.n_warnings, 2, "%s", tl_printed(&t.d));
    tl_free(&t);

    /* In a list, an unset item is said even when others are set. */
    setenv("T_ONE_CLIENT", "k1", 1);
    tl_load(&t,
            "version: 1\n"
            "server:\n"
            "  client_keys: [\"${T_ONE_CLIENT}\", \"${T_NO_CLIENTS}\"]\n" TL_PROVIDER,
            SY_LOAD_SERVE, 0);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    cr_expect_eq(t.p->server.n_client_keys, 1);
    tl_expect(&t.d, SY_DIAG_WARNING, 3, 36, "`server.client_keys[1]`: environment variable "
                                            "T_NO_CLIENTS is not set");
    tl_free(&t);
}

Test(env, client_keys_forms)
{
    setenv("T_KEYS", "alpha,beta , gamma", 1);
    tload t;
    tl_load(&t,
            "version: 1\n"
            "server:\n"
            "  client_keys: [\"${T_KEYS}\", delta]\n" TL_PROVIDER,
            SY_LOAD_VALIDATE, 0);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    cr_assert_eq(t.p->server.n_client_keys, 4);
    cr_expect_str_eq(t.p->server.client_keys[1], "beta");
    cr_expect_str_eq(t.p->server.client_keys[3], "delta");
    /* "delta" is written into the policy: a warning that does not quote it */
    tl_expect(&t.d, SY_DIAG_WARNING, 3, 16, "holds secrets written into the policy");
    char *all = tl_printed(&t.d);
    cr_expect_null(strstr(all, "warning: `server.client_keys` holds secrets written into the "
                                "policy; prefer ${VAR} from the environment delta"));
    free(all);
    tl_free(&t);
}

Test(env, bad_references)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "server: {listen: '${1BAD}', admin_key: '${UNCLOSED'}\n" TL_PROVIDER,
            SY_LOAD_VALIDATE, 0);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 2, 18,
              "`server.listen`: `${1BAD}` has a bad variable reference");
    tl_expect(&t.d, SY_DIAG_ERROR, 2, 40, "`server.admin_key`: `${UNCLOSED` has a bad variable");
    tl_free(&t);
}

#define SECRET "hunter2 TOPSECRET,value"

/* Every place a value from the environment can go wrong, at once: the
 * diagnostics quote ${T_SECRET}, never its value. */
static const char *leaky =
    "version: 1\n"
    "server:\n"
    "  listen: ${T_SECRET}\n"
    "  client_keys: ${T_SECRET}\n"
    "  max_body: ${T_SECRET}\n"
    "  workers: ${T_SECRET}\n"
    "  request_timeout: ${T_SECRET}\n"
    "providers:\n"
    "  a:\n"
    "    plugin: mock\n"
    "    balance: ${T_SECRET}\n"
    "    error_rate: ${T_SECRET}\n"
    "    reply: ${T_SECRET}\n"
    "    endpoints:\n"
    "      - {name: \"${T_SECRET}\", base_url: \"${T_SECRET}\"}\n"
    "  b:\n"
    "    plugin: openai\n"
    "    api_key: ${T_SECRET}\n"
    "    endpoints: [{name: g, base_url: 'https://api.openai.com/v1'}]\n"
    "  c:\n"
    "    plugin: \"${T_SECRET}\"\n"
    "    endpoints: [{name: g, base_url: 'https://x/v1'}]\n"
    "retry: {on: [\"${T_SECRET}\"], max_attempts: \"${T_SECRET}\"}\n"
    "models:\n"
    "  fallbacks: {m: [\"${T_SECRET}\"]}\n"
    "migration:\n"
    "  stable: ${T_SECRET}\n"
    "  canary: b\n"
    "  rollout:\n"
    "    id: ${T_SECRET}\n"
    "    percent: ${T_SECRET}\n"
    "    sticky_by: [\"${T_SECRET}\"]\n"
    "    canary_endpoints: [\"${T_SECRET}\"]\n"
    "  rollback: {success_rate_below: \"${T_SECRET}\", state_file: \"${T_SECRET}\"}\n";

static void check_no_leak(sy_load_mode mode)
{
    setenv("T_SECRET", SECRET, 1);
    tload t;
    tl_load(&t, leaky, mode, 1);
    cr_assert_null(t.p);
    char *all = tl_printed(&t.d);
    cr_expect_geq(t.d.n_errors, 15, "%s", all);
    cr_expect_null(strstr(all, "hunter2"), "the secret leaked:\n%s", all);
    cr_expect_null(strstr(all, "TOPSECRET"), "the secret leaked:\n%s", all);
    for (size_t i = 0; i < t.d.n; i++) {
        cr_expect_null(strstr(t.d.items[i].msg, "hunter2"), "%s", t.d.items[i].msg);
        cr_expect_null(strstr(t.d.items[i].msg, "TOPSECRET"), "%s", t.d.items[i].msg);
    }
    /* ...and the messages still say which value is wrong. */
    tl_expect(&t.d, SY_DIAG_ERROR, 3, 11, "`${T_SECRET}` (from the environment) is not host:port");
    tl_expect(&t.d, SY_DIAG_ERROR, 4, 16, "client key 1 contains a space");
    tl_expect(&t.d, SY_DIAG_ERROR, 17, 13, "api_key contains a space");
    tl_expect(&t.d, SY_DIAG_ERROR, 27, 11,
              "`migration.stable`: `${T_SECRET}`: names are written as they are, not read from "
              "the environment");
    tl_expect(&t.d, SY_DIAG_ERROR, 33, 24,
              "`migration.rollout.canary_endpoints[0]`: `${T_SECRET}`: names are written as they "
              "are");
    free(all);
    tl_free(&t);
}

Test(env, secrets_are_never_printed_validate)
{
    check_no_leak(SY_LOAD_VALIDATE);
}

Test(env, secrets_are_never_printed_serve)
{
    check_no_leak(SY_LOAD_SERVE);
}

Test(env, literal_secrets_are_flagged_not_quoted)
{
    tload t;
    tl_load(&t,
            "version: 1\n"
            "server: {admin_key: adm-LITERAL-1}\n"
            "providers:\n"
            "  b:\n"
            "    plugin: openai\n"
            "    api_key: sk-LITERAL-2\n"
            "    endpoints: [{name: g, base_url: 'https://api.openai.com/v1'}]\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    tl_expect(&t.d, SY_DIAG_WARNING, 2, 21,
              "`server.admin_key` holds a secret written into the policy");
    tl_expect(&t.d, SY_DIAG_WARNING, 6, 14,
              "`providers.b.api_key` holds a secret written into the policy");
    for (size_t i = 0; i < t.d.n; i++) cr_expect_null(strstr(t.d.items[i].msg, "LITERAL"));
    tl_free(&t);
}

Test(env, plugin_messages_are_scrubbed)
{
    /* holysheep quotes an unknown region in its message; a region from the
     * environment shows as its ${VAR} text. */
    setenv("T_REGION", "mars-SECRET-region", 1);
    setenv("T_HSKEY", "hs-key-123", 1);
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  hs:\n"
            "    plugin: holysheep\n"
            "    api_key: ${T_HSKEY}\n"
            "    endpoints: [{name: a, region: '${T_REGION}'}]\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert_null(t.p);
    tl_expect(&t.d, SY_DIAG_ERROR, 6, 17, "unknown region '${T_REGION}'");
    char *all = tl_printed(&t.d);
    cr_expect_null(strstr(all, "SECRET"), "%s", all);
    free(all);
    tl_free(&t);
}

Test(env, plugin_built_urls_keep_the_raw_text)
{
    setenv("T_REGION2", "cn-east", 1);
    setenv("T_HSKEY", "hs-key-123", 1);
    tload t;
    tl_load(&t,
            "version: 1\n"
            "providers:\n"
            "  hs:\n"
            "    plugin: holysheep\n"
            "    api_key: ${T_HSKEY}\n"
            "    endpoints:\n"
            "      - {name: a, region: '${T_REGION2}'}\n"
            "      - {name: b, region: cn-north}\n",
            SY_LOAD_VALIDATE, 1);
    cr_assert(t.p, "%s", tl_printed(&t.d));
    const sy_policy_endpoint *a = &t.p->providers[0].endpoints[0];
    const sy_policy_endpoint *b = &t.p->providers[0].endpoints[1];
    cr_expect_str_eq(a->base_url, "https://cn-east.holysheep.ai/v1");
    cr_expect_str_eq(a->base_url_raw, "https://${T_REGION2}.holysheep.ai/v1");
    cr_expect_null(b->base_url_raw);
    tl_free(&t);
}
