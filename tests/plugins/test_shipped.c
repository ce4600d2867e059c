/*
 * test_shipped.c - the openai and holysheep plugins as built (loaded from
 * build/plugins through the real loader), driven through their descriptors
 * with a fake host: declared keys, create, endpoint resolution (holysheep's
 * regions), request building and classification.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "loader.h"

static sy_plugin_registry reg;
static char err[512];

static void setup(void)
{
    char *dirs[] = {BUILD_PLUGIN_DIR};
    sy_plugin_registry_init_dirs(&reg, dirs, 1);
}

static void teardown(void)
{
    sy_plugin_registry_free(&reg);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(openai, .init = setup, .fini = teardown);
TestSuite(holysheep, .init = setup, .fini = teardown);

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

static const sy_plugin *load(const char *name)
{
    const sy_plugin *p = sy_plugin_load(&reg, name, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

static const sy_config_key *key(const sy_config_key *keys, const char *name)
{
    for (; keys && keys->name; keys++)
        if (!strcmp(keys->name, name)) return keys;
    cr_assert_fail("no key %s", name);
    return NULL;
}

static int count_keys(const sy_config_key *keys)
{
    int n = 0;
    while (keys && keys[n].name) n++;
    return n;
}

/* create with the given overrides; the cfg array is freed once created
 * (plugins must copy what they keep). */
static void *create(const sy_plugin *p, const char *const *kv)
{
    sy_config_value *cfg = fake_config(p->config_keys, kv);
    void *inst = NULL;
    int rc = p->create(fake_host(), cfg, &inst, err, sizeof err);
    free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    return inst;
}

/* ------------------------------------------------------------------ openai */

Test(openai, declares_its_keys)
{
    const sy_plugin *p = load("openai");
    cr_assert_str_eq(p->name, "openai");
    cr_assert_eq(count_keys(p->config_keys), 4);
    const sy_config_key *k = key(p->config_keys, "api_key");
    cr_assert_eq(k->type, SY_CFG_SECRET);
    cr_assert_eq(k->required, 1);
    cr_assert_eq(key(p->config_keys, "organization")->type, SY_CFG_STRING);
    cr_assert_eq(key(p->config_keys, "project")->type, SY_CFG_STRING);
    k = key(p->config_keys, "include_usage_in_streams");
    cr_assert_eq(k->type, SY_CFG_BOOL);
    cr_assert_str_eq(k->default_value, "true");
    cr_assert_eq(count_keys(p->endpoint_keys), 0);
    cr_assert_not_null(p->build_request);
    cr_assert_not_null(p->parse_response);
    cr_assert_not_null(p->stream_event);
    cr_assert_null(p->local_reply);
}

Test(openai, create_needs_an_api_key)
{
    const sy_plugin *p = load("openai");
    sy_config_value *cfg = fake_config(p->config_keys, NULL);
    void *inst = (void *)1;
    cr_assert_neq(p->create(fake_host(), cfg, &inst, err, sizeof err), 0);
    assert_has(err, "api_key");
    cr_assert_null(inst);
    free(cfg);
}

Test(openai, endpoints_need_a_base_url)
{
    const sy_plugin *p = load("openai");
    void *inst = create(p, (const char *const[]){"api_key", "sk-x", NULL});
    char url[SY_URL_MAX] = "";
    cr_assert_neq(p->resolve_endpoint(inst, "global", NULL, url, sizeof url, err, sizeof err), 0);
    assert_has(err, "endpoint 'global' needs a base_url");
    strcpy(url, "ftp://x");
    cr_assert_neq(p->resolve_endpoint(inst, "global", NULL, url, sizeof url, err, sizeof err), 0);
    strcpy(url, "https://api.openai.com/v1/");
    cr_assert_eq(p->resolve_endpoint(inst, "global", NULL, url, sizeof url, err, sizeof err), 0);
    cr_assert_str_eq(url, "https://api.openai.com/v1");
    p->destroy(inst);
}

Test(openai, builds_and_classifies_through_the_descriptor)
{
    const sy_plugin *p = load("openai");
    void *inst = create(p, (const char *const[]){"api_key", "sk-live-key", "organization", "org-9",
                                                "include_usage_in_streams", "true", NULL});
    sy_endpoint ep = {.provider = "openai-official", .name = "global",
                      .base_url = "https://api.openai.com/v1"};
    const char *body = "{\"model\":\"gpt-4.1\",\"stream\":true}";
    sy_request req = {.op = SY_OP_CHAT, .model = "gpt-4o", .client_model = "gpt-4.1",
                      .body = body, .body_len = strlen(body), .stream = 1};
    sy_http_request out = {0};
    cr_assert_eq(p->build_request(inst, &ep, &req, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, "https://api.openai.com/v1/chat/completions");
    cr_assert_str_eq(out.headers[0], "Authorization: Bearer sk-live-key");
    cr_assert_str_eq(out.headers[2], "OpenAI-Organization: org-9");
    cr_assert_str_eq(out.body, "{\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o\","
                               "\"stream\":true}");
    fake_host()->free(out.body_owned);

    sy_http_response resp = {.status = 401,
                             .body = "{\"error\":{\"message\":\"bad key sk-live-key\"}}"};
    resp.body_len = strlen(resp.body);
    sy_result res = {0};
    cr_assert_eq(p->parse_response(inst, &req, &resp, &res), 0);
    cr_assert_eq(res.verdict, SY_VERDICT_NEXT);
    cr_assert_null(strstr(res.error, "sk-live-key"), "%s", res.error);

    sy_stream_result sr;
    cr_assert_eq(p->stream_event(inst, &req, "[DONE]", 6, &sr), 0);
    cr_assert_eq(sr.done, 1);
    p->destroy(inst);
}

/* Both OpenAI-wire plugins ask every stream for its usage by default (so
 * streamed tokens are priced), and drop the usage chunk a client did not ask
 * for; include_usage_in_streams: false turns both off. */
Test(openai, streams_ask_for_usage_by_default)
{
    const char *names[] = {"openai", "holysheep"};
    const char *body = "{\"model\":\"gpt-4o\",\"stream\":true}";
    const char *chunk = "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}";
    sy_endpoint ep = {.provider = "p", .name = "e", .base_url = "https://h/v1"};
    for (int i = 0; i < 2; i++) {
        const sy_plugin *p = load(names[i]);
        for (int off = 0; off < 2; off++) {
            void *inst = create(p, off ? (const char *const[]){"api_key", "sk-x",
                                                               "include_usage_in_streams", "false",
                                                               NULL}
                                       : (const char *const[]){"api_key", "sk-x", NULL});
            sy_request req = {.op = SY_OP_CHAT, .model = "gpt-4o", .client_model = "gpt-4o",
                              .body = body, .body_len = strlen(body), .stream = 1};
            sy_http_request out = {0};
            cr_assert_eq(p->build_request(inst, &ep, &req, &out, err, sizeof err), 0, "%s", err);
            if (off) {
                cr_assert_str_eq(out.body, body);
            } else {
                cr_assert_str_eq(out.body, "{\"stream_options\":{\"include_usage\":true},"
                                           "\"model\":\"gpt-4o\",\"stream\":true}", "%s", names[i]);
                fake_host()->free(out.body_owned);
            }
            sy_stream_result sr;
            memset(&sr, 0, sizeof sr);
            cr_assert_eq(p->stream_event(inst, &req, chunk, strlen(chunk), &sr), 0);
            cr_assert_eq(sr.drop, !off, "%s off=%d", names[i], off);
            cr_assert_eq(sr.usage.input_tokens, 3);
            p->destroy(inst);
        }
    }
}

/* The active health check through the descriptor (ABI 1.2): a GET of
 * base_url + path that carries the provider's key and no body. */
static void expect_probe(const sy_plugin *p, void *inst, const sy_endpoint *ep, const char *url,
                         const char *auth)
{
    sy_plugin_health_fn hr = sy_plugin_health_request(p);
    cr_assert_not_null(hr, "%s has health_request", p->name);
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(hr(inst, ep, "/models", &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, url);
    cr_assert_geq(out.n_headers, 1);
    cr_assert_str_eq(out.headers[0], auth);
    for (unsigned i = 0; i < out.n_headers; i++)
        cr_assert_null(strstr(out.headers[i], "Content-Type"), "%s", out.headers[i]);
    cr_assert_null(out.body);
    cr_assert_null(out.body_owned);
}

Test(openai, health_request_carries_the_key)
{
    const sy_plugin *p = load("openai");
    cr_assert_geq(p->abi_minor, 2); /* health_request came with 1.2 */
    void *inst = create(p, (const char *const[]){"api_key", "sk-live-key", NULL});
    sy_endpoint ep = {.provider = "openai-official", .name = "global",
                      .base_url = "https://api.openai.com/v1"};
    expect_probe(p, inst, &ep, "https://api.openai.com/v1/models",
                 "Authorization: Bearer sk-live-key");
    p->destroy(inst);
}

/* --------------------------------------------------------------- holysheep */

static int resolve(const sy_plugin *p, void *inst, const char *name, const char *region,
                   char *url, size_t cap)
{
    sy_config_value *ep_cfg = fake_config(
        p->endpoint_keys, region ? (const char *const[]){"region", region, NULL} : NULL);
    int rc = p->resolve_endpoint(inst, name, ep_cfg, url, cap, err, sizeof err);
    free(ep_cfg);
    return rc;
}

Test(holysheep, declares_its_keys)
{
    const sy_plugin *p = load("holysheep");
    const sy_config_key *k = key(p->config_keys, "api_key");
    cr_assert_eq(k->type, SY_CFG_SECRET);
    cr_assert_eq(k->required, 1);
    cr_assert_eq(count_keys(p->endpoint_keys), 1);
    cr_assert_eq(key(p->endpoint_keys, "region")->type, SY_CFG_STRING);
    cr_assert_not_null(p->resolve_endpoint);
}

Test(holysheep, regions_map_to_their_base_urls)
{
    const sy_plugin *p = load("holysheep");
    void *inst = create(p, (const char *const[]){"api_key", "hs-key", NULL});
    const char *regions[] = {"cn-north", "cn-east", "cn-south", "us-west"};
    for (size_t i = 0; i < 4; i++) {
        char url[SY_URL_MAX] = "", want[128];
        cr_assert_eq(resolve(p, inst, "primary", regions[i], url, sizeof url), 0, "%s", err);
        snprintf(want, sizeof want, "https://%s.holysheep.ai/v1", regions[i]);
        cr_assert_str_eq(url, want);
    }
    p->destroy(inst);
}

Test(holysheep, endpoint_named_after_a_region_needs_nothing_else)
{
    const sy_plugin *p = load("holysheep");
    void *inst = create(p, (const char *const[]){"api_key", "hs-key", NULL});
    char url[SY_URL_MAX] = "";
    cr_assert_eq(resolve(p, inst, "cn-east", NULL, url, sizeof url), 0, "%s", err);
    cr_assert_str_eq(url, "https://cn-east.holysheep.ai/v1");
    p->destroy(inst);
}

Test(holysheep, unknown_region_names_the_valid_ones)
{
    const sy_plugin *p = load("holysheep");
    void *inst = create(p, (const char *const[]){"api_key", "hs-key", NULL});
    char url[SY_URL_MAX] = "";
    cr_assert_neq(resolve(p, inst, "mars", "mars-1", url, sizeof url), 0);
    assert_has(err, "unknown region 'mars-1'");
    assert_has(err, "cn-north, cn-east, cn-south, us-west");
    cr_assert_neq(resolve(p, inst, "somewhere", NULL, url, sizeof url), 0);
    assert_has(err, "needs a base_url or a region");
    p->destroy(inst);
}

Test(holysheep, explicit_base_url_wins)
{
    const sy_plugin *p = load("holysheep");
    void *inst = create(p, (const char *const[]){"api_key", "hs-key", NULL});
    char url[SY_URL_MAX] = "http://127.0.0.1:4321/r1/v1/";
    cr_assert_eq(resolve(p, inst, "cn-north", "cn-north", url, sizeof url), 0, "%s", err);
    cr_assert_str_eq(url, "http://127.0.0.1:4321/r1/v1");
    strcpy(url, "http://127.0.0.1:4321/r2/v1");
    cr_assert_eq(resolve(p, inst, "local", NULL, url, sizeof url), 0, "%s", err);
    cr_assert_str_eq(url, "http://127.0.0.1:4321/r2/v1");
    p->destroy(inst);
}

Test(holysheep, speaks_the_openai_wire)
{
    const sy_plugin *p = load("holysheep");
    void *inst = create(p, (const char *const[]){"api_key", "hs-key", NULL});
    char url[SY_URL_MAX] = "";
    cr_assert_eq(resolve(p, inst, "cn-north", "cn-north", url, sizeof url), 0);
    sy_endpoint ep = {.provider = "holysheep", .name = "cn-north", .base_url = url};
    const char *body = "{\"model\":\"gpt-4.1\",\"input\":\"x\"}";
    sy_request req = {.op = SY_OP_EMBEDDINGS, .model = "gpt-4.1", .client_model = "gpt-4.1",
                      .body = body, .body_len = strlen(body)};
    sy_http_request out = {0};
    cr_assert_eq(p->build_request(inst, &ep, &req, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, "https://cn-north.holysheep.ai/v1/embeddings");
    cr_assert_str_eq(out.headers[0], "Authorization: Bearer hs-key");
    cr_assert_eq(out.body, body);

    sy_http_response resp = {.status = 503, .body = "", .body_len = 0};
    sy_result res = {0};
    p->parse_response(inst, &req, &resp, &res);
    cr_assert_eq(res.verdict, SY_VERDICT_RETRY);

    expect_probe(p, inst, &ep, "https://cn-north.holysheep.ai/v1/models",
                 "Authorization: Bearer hs-key");
    p->destroy(inst);
}
