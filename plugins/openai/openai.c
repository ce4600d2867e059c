/*
 * openai.c - the `openai` provider: the official OpenAI API or any
 * OpenAI-compatible upstream named by an endpoint's base_url.
 *
 * All wire work is in openai_wire; this file is the descriptor, the config
 * keys and the instance. Instances are read-only after create.
 */
#include <stdio.h>
#include <string.h>
#include <switchyard/plugin.h>

#include "openai_wire.h"

enum { K_API_KEY, K_ORGANIZATION, K_PROJECT, K_INCLUDE_USAGE };

static const sy_config_key openai_keys[] = {
    [K_API_KEY] = {"api_key", SY_CFG_SECRET, NULL, 1,
                   "API key, sent as Authorization: Bearer (write ${OPENAI_API_KEY})"},
    [K_ORGANIZATION] = {"organization", SY_CFG_STRING, NULL, 0,
                        "sent as the OpenAI-Organization header"},
    [K_PROJECT] = {"project", SY_CFG_STRING, NULL, 0, "sent as the OpenAI-Project header"},
    [K_INCLUDE_USAGE] = {"include_usage_in_streams", SY_CFG_BOOL, "true", 0,
                         "ask streams for usage (stream_options.include_usage), so streamed "
                         "tokens are counted and priced; a client that did not ask for it does "
                         "not see the usage chunk. false only for an upstream that refuses "
                         "stream_options"},
    {NULL, 0, NULL, 0, NULL},
};

typedef struct openai {
    const sy_host_api *host;
    sy_openai_wire wire;
} openai;

static const char *cfg_str(const sy_config_value *cfg, int k)
{
    return cfg && cfg[k].set && cfg[k].s ? cfg[k].s : NULL;
}

static int openai_create(const sy_host_api *host, const sy_config_value *cfg, void **instance,
                         char *err, size_t errlen)
{
    *instance = NULL;
    if (!cfg_str(cfg, K_API_KEY)) {
        snprintf(err, errlen, "api_key is required");
        return -1;
    }
    openai *o = host->alloc(sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->host = host;
    sy_openai_wire_conf conf = {
        .api_key = cfg_str(cfg, K_API_KEY),
        .organization = cfg_str(cfg, K_ORGANIZATION),
        .project = cfg_str(cfg, K_PROJECT),
        .include_usage = cfg && cfg[K_INCLUDE_USAGE].set ? (int)cfg[K_INCLUDE_USAGE].i : 1,
    };
    if (sy_openai_wire_init(&o->wire, host, "openai", &conf, err, errlen) != 0) {
        host->free(o);
        return -1;
    }
    *instance = o;
    return 0;
}

static void openai_destroy(void *instance)
{
    openai *o = instance;
    if (!o) return;
    sy_openai_wire_fini(&o->wire);
    o->host->free(o);
}

/* An openai endpoint must say where it is. */
static int openai_resolve_endpoint(void *instance, const char *name, const sy_config_value *ep_cfg,
                                   char *base_url, size_t cap, char *err, size_t errlen)
{
    (void)instance;
    (void)ep_cfg;
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/') base_url[--n] = '\0';
    if (n == 0) {
        snprintf(err, errlen,
                 "endpoint '%s' needs a base_url (for OpenAI: https://api.openai.com/v1)", name);
        return -1;
    }
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0) {
        snprintf(err, errlen, "base_url of endpoint '%s' must start with http:// or https://",
                 name);
        return -1;
    }
    (void)cap;
    return 0;
}

static int openai_build_request(void *instance, const sy_endpoint *ep, const sy_request *req,
                                sy_http_request *out, char *err, size_t errlen)
{
    return sy_openai_wire_build_request(&((openai *)instance)->wire, ep, req, out, err, errlen);
}

static int openai_parse_response(void *instance, const sy_request *req,
                                 const sy_http_response *resp, sy_result *res)
{
    return sy_openai_wire_parse_response(&((openai *)instance)->wire, req, resp, res);
}

static int openai_stream_event(void *instance, const sy_request *req, const char *data,
                               size_t len, sy_stream_result *res)
{
    return sy_openai_wire_stream_event(&((openai *)instance)->wire, req, data, len, res);
}

/* The active health check: GET base_url + path with the key (ABI 1.2). */
static int openai_health_request(void *instance, const sy_endpoint *ep, const char *path,
                                    sy_http_request *out, char *err, size_t errlen)
{
    return sy_openai_wire_health_request(&((openai *)instance)->wire, ep, path, out, err, errlen);
}

SY_PLUGIN_EXPORT const sy_plugin switchyard_plugin = {
    SY_PLUGIN_HEADER,
    .name = "openai",
    .version = "1.0.0",
    .description = "OpenAI API and any OpenAI-compatible upstream (base_url per endpoint)",
    .config_keys = openai_keys,
    .endpoint_keys = NULL,
    .create = openai_create,
    .destroy = openai_destroy,
    .resolve_endpoint = openai_resolve_endpoint,
    .build_request = openai_build_request,
    .parse_response = openai_parse_response,
    .stream_event = openai_stream_event,
    .health_request = openai_health_request,
    /* ABI 1.3: chat, completions, embeddings, and the Responses API. */
    .ops = SY_OPS_CLASSIC | SY_OPS_RESPONSES,
};
