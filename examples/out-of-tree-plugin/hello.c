/*
 * hello.c - the smallest useful switchyard provider, built out of tree.
 *
 * It forwards OpenAI-style requests to any upstream that speaks the OpenAI
 * wire format, sending its own token in an X-Hello-Token header, and sorts
 * answers by status. Build it with the Makefile next to this file:
 *
 *   make                 # needs `pkg-config --cflags switchyard-plugin` to work
 *   switchyard plugins --path .
 *
 * Rules every plugin follows (docs/plugins.md has the whole guide):
 *   - include only <switchyard/plugin.h>; link nothing from switchyard;
 *   - build with -fvisibility=hidden and export only the descriptor;
 *   - start the descriptor with SY_PLUGIN_HEADER;
 *   - no I/O: build the request, classify the answer; the host does the rest;
 *   - memory handed to the host comes from host->alloc.
 */
#include <stdio.h>
#include <string.h>
#include <switchyard/plugin.h>

typedef struct hello {
    const sy_host_api *host;
    char token_header[256]; /* "X-Hello-Token: ...", built once */
} hello;

static const sy_config_key hello_keys[] = {
    {"token", SY_CFG_SECRET, NULL, 1, "sent upstream as X-Hello-Token"},
    {NULL, 0, NULL, 0, NULL},
};

static int hello_create(const sy_host_api *host, const sy_config_value *cfg, void **instance,
                        char *err, size_t errlen)
{
    const char *token = cfg[0].set ? cfg[0].s : NULL;
    if (!token || strpbrk(token, "\r\n")) {
        snprintf(err, errlen, "token is missing or has a line break");
        return -1;
    }
    hello *h = host->alloc(sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->host = host;
    if (snprintf(h->token_header, sizeof h->token_header, "X-Hello-Token: %s", token) >=
        (int)sizeof h->token_header) {
        host->free(h);
        snprintf(err, errlen, "token is too long");
        return -1;
    }
    *instance = h;
    return 0;
}

static void hello_destroy(void *instance)
{
    hello *h = instance;
    h->host->free(h);
}

static int hello_build_request(void *instance, const sy_endpoint *ep, const sy_request *req,
                               sy_http_request *out, char *err, size_t errlen)
{
    hello *h = instance;
    static const char *const paths[] = {[SY_OP_CHAT] = "/chat/completions",
                                        [SY_OP_COMPLETIONS] = "/completions",
                                        [SY_OP_EMBEDDINGS] = "/embeddings"};
    if (req->op < SY_OP_CHAT || req->op > SY_OP_EMBEDDINGS) {
        snprintf(err, errlen, "unsupported operation");
        return -1;
    }
    if (snprintf(out->url, sizeof out->url, "%s%s", ep->base_url, paths[req->op]) >=
        (int)sizeof out->url) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    out->headers[0] = h->token_header;
    out->headers[1] = "Content-Type: application/json";
    out->n_headers = 2;
    out->body = req->body; /* as the client sent it (this example ignores fallback models) */
    out->body_len = req->body_len;
    out->body_owned = NULL;
    return 0;
}

static int hello_parse_response(void *instance, const sy_request *req,
                                const sy_http_response *resp, sy_result *res)
{
    (void)instance;
    (void)req;
    int s = resp->status;
    res->verdict = s >= 200 && s < 300   ? SY_VERDICT_OK
                   : s == 429 || s >= 500 ? SY_VERDICT_RETRY
                   : s == 404            ? SY_VERDICT_NEXT
                                         : SY_VERDICT_FATAL;
    res->usage.input_tokens = res->usage.output_tokens = -1;
    res->error[0] = '\0';
    if (res->verdict != SY_VERDICT_OK) snprintf(res->error, sizeof res->error, "HTTP %d", s);
    res->body = NULL;
    return 0;
}

SY_PLUGIN_EXPORT const sy_plugin switchyard_plugin = {
    SY_PLUGIN_HEADER,
    .name = "hello",
    .version = "0.1.0",
    .description = "out-of-tree example: OpenAI wire format with an X-Hello-Token header",
    .config_keys = hello_keys,
    .create = hello_create,
    .destroy = hello_destroy,
    .build_request = hello_build_request,
    .parse_response = hello_parse_response,
};
