/*
 * holysheep.c - the `holysheep` provider: HolySheep's OpenAI-compatible relay.
 *
 * Same wire format as `openai` (linked from openai_wire, not copied); what is
 * HolySheep's own is the region list: an endpoint may give `region: cn-north`
 * (or just be named after a region) instead of a base_url. An explicit
 * base_url always wins, so tests and private deployments can point anywhere.
 */
#include <stdio.h>
#include <string.h>
#include <switchyard/plugin.h>

#include "openai_wire.h"

static const char *const regions[] = {"cn-north", "cn-east", "cn-south", "us-west", NULL};
#define REGION_LIST "cn-north, cn-east, cn-south, us-west"

enum { K_API_KEY, K_INCLUDE_USAGE };
enum { E_REGION };

static const sy_config_key holysheep_keys[] = {
    [K_API_KEY] = {"api_key", SY_CFG_SECRET, NULL, 1,
                   "HolySheep API key, sent as Authorization: Bearer (write ${HOLYSHEEP_API_KEY})"},
    [K_INCLUDE_USAGE] = {"include_usage_in_streams", SY_CFG_BOOL, "true", 0,
                         "ask streams for usage (stream_options.include_usage), so streamed "
                         "tokens are counted and priced; a client that did not ask for it does "
                         "not see the usage chunk. false only for an upstream that refuses "
                         "stream_options"},
    {NULL, 0, NULL, 0, NULL},
};

static const sy_config_key holysheep_endpoint_keys[] = {
    [E_REGION] = {"region", SY_CFG_STRING, NULL, 0,
                  "one of " REGION_LIST "; sets base_url to https://REGION.holysheep.ai/v1 "
                  "when base_url is not given"},
    {NULL, 0, NULL, 0, NULL},
};

typedef struct holysheep {
    const sy_host_api *host;
    sy_openai_wire wire;
} holysheep;

static int known_region(const char *r)
{
    for (size_t i = 0; regions[i]; i++)
        if (!strcmp(r, regions[i])) return 1;
    return 0;
}

static int holysheep_create(const sy_host_api *host, const sy_config_value *cfg, void **instance,
                            char *err, size_t errlen)
{
    *instance = NULL;
    if (!cfg || !cfg[K_API_KEY].set || !cfg[K_API_KEY].s) {
        snprintf(err, errlen, "api_key is required");
        return -1;
    }
    holysheep *h = host->alloc(sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->host = host;
    sy_openai_wire_conf conf = {
        .api_key = cfg[K_API_KEY].s,
        .include_usage = cfg[K_INCLUDE_USAGE].set ? (int)cfg[K_INCLUDE_USAGE].i : 1,
    };
    if (sy_openai_wire_init(&h->wire, host, "holysheep", &conf, err, errlen) != 0) {
        host->free(h);
        return -1;
    }
    *instance = h;
    return 0;
}

static void holysheep_destroy(void *instance)
{
    holysheep *h = instance;
    if (!h) return;
    sy_openai_wire_fini(&h->wire);
    h->host->free(h);
}

static int holysheep_resolve_endpoint(void *instance, const char *name,
                                      const sy_config_value *ep_cfg, char *base_url, size_t cap,
                                      char *err, size_t errlen)
{
    (void)instance;
    const char *region = NULL;
    if (ep_cfg && ep_cfg[E_REGION].set && ep_cfg[E_REGION].s && *ep_cfg[E_REGION].s)
        region = ep_cfg[E_REGION].s;
    if (region && !known_region(region)) {
        snprintf(err, errlen, "endpoint '%s': unknown region '%s' (valid: " REGION_LIST ")", name,
                 region);
        return -1;
    }
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/') base_url[--n] = '\0';
    if (n) {
        if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0) {
            snprintf(err, errlen, "base_url of endpoint '%s' must start with http:// or https://",
                     name);
            return -1;
        }
        return 0; /* an explicit base_url wins over the region */
    }
    if (!region && name && known_region(name)) region = name;
    if (!region) {
        snprintf(err, errlen, "endpoint '%s' needs a base_url or a region (" REGION_LIST ")",
                 name ? name : "?");
        return -1;
    }
    int w = snprintf(base_url, cap, "https://%s.holysheep.ai/v1", region);
    if (w < 0 || (size_t)w >= cap) {
        snprintf(err, errlen, "endpoint '%s': base_url does not fit", name);
        return -1;
    }
    return 0;
}

static int holysheep_build_request(void *instance, const sy_endpoint *ep, const sy_request *req,
                                   sy_http_request *out, char *err, size_t errlen)
{
    return sy_openai_wire_build_request(&((holysheep *)instance)->wire, ep, req, out, err,
                                        errlen);
}

static int holysheep_parse_response(void *instance, const sy_request *req,
                                    const sy_http_response *resp, sy_result *res)
{
    return sy_openai_wire_parse_response(&((holysheep *)instance)->wire, req, resp, res);
}

static int holysheep_stream_event(void *instance, const sy_request *req, const char *data,
                                  size_t len, sy_stream_result *res)
{
    return sy_openai_wire_stream_event(&((holysheep *)instance)->wire, req, data, len, res);
}

/* The active health check: GET base_url + path with the key (ABI 1.2). */
static int holysheep_health_request(void *instance, const sy_endpoint *ep, const char *path,
                                       sy_http_request *out, char *err, size_t errlen)
{
    return sy_openai_wire_health_request(&((holysheep *)instance)->wire, ep, path, out, err,
                                         errlen);
}

SY_PLUGIN_EXPORT const sy_plugin switchyard_plugin = {
    SY_PLUGIN_HEADER,
    .name = "holysheep",
    .version = "1.0.0",
    .description = "HolySheep OpenAI-compatible relay; knows its regions (" REGION_LIST ")",
    .config_keys = holysheep_keys,
    .endpoint_keys = holysheep_endpoint_keys,
    .create = holysheep_create,
    .destroy = holysheep_destroy,
    .resolve_endpoint = holysheep_resolve_endpoint,
    .build_request = holysheep_build_request,
    .parse_response = holysheep_parse_response,
    .stream_event = holysheep_stream_event,
    .health_request = holysheep_health_request,
    /* ABI 1.3: chat, completions, embeddings, and the Responses API. */
    .ops = SY_OPS_CLASSIC | SY_OPS_RESPONSES,
};
