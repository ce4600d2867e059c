/*
 * mock.c - the `mock` provider: answers every request itself (local_reply),
 * with no upstream and no I/O, shaped exactly like OpenAI's answers. Used by
 * the demo policy, by tests, and by `simulate`.
 *
 * Outcomes are configurable per provider (and error_rate / latency per
 * endpoint): injected errors, latency with jitter, pacing of stream events
 * (the host sends the first after ttfb_ms and spreads the rest evenly up to
 * delay_ms), cut streams, and a list of served models (others get OpenAI's
 * 404 model_not_found, which the wire classification turns into NEXT). All chance goes through host->random_u64,
 * so a seeded host makes every run repeatable. Three draws are made for every
 * request, always in the same order (error, jitter, truncation), so changing
 * one rate never shifts the others' outcomes; a Responses API request that is
 * answered then draws its response id (mock_responses.c).
 *
 * The host classifies a local reply with this plugin's parse_response and
 * stream_event, which are the OpenAI wire rules (openai_wire.h).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"
#include "openai_wire.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define DEF_ERROR_STATUS 503
#define DEF_LATENCY_MS 20
#define DEF_CHUNKS 5
#define DEF_CHUNK_DELAY_MS 10
#define DEF_REPLY "Hello from the switchyard mock provider."
#define MAX_CHUNKS 1000
#define MAX_LATENCY_MS (10 * 60 * 1000)
#define MAX_CHUNK_DELAY_MS (10 * 1000)
#define MAX_MODELS 256

enum { K_ERROR_RATE, K_ERROR_STATUS, K_LATENCY, K_JITTER, K_REPLY, K_CHUNKS, K_CHUNK_DELAY,
       K_TRUNCATE, K_MODELS };
enum { E_ERROR_RATE, E_LATENCY };

static const sy_config_key mock_keys[] = {
    [K_ERROR_RATE] = {"error_rate", SY_CFG_NUMBER, "0", 0,
                      "share of requests answered with error_status, 0..1"},
    [K_ERROR_STATUS] = {"error_status", SY_CFG_INT, STR(DEF_ERROR_STATUS), 0,
                        "HTTP status of the injected errors, 400..599"},
    [K_LATENCY] = {"latency", SY_CFG_DURATION, STR(DEF_LATENCY_MS) "ms", 0,
                   "time until the answer (for streams: until the first event)"},
    [K_JITTER] = {"latency_jitter", SY_CFG_DURATION, "0ms", 0,
                  "uniform random extra latency, 0..this"},
    [K_REPLY] = {"reply", SY_CFG_STRING, DEF_REPLY, 0, "the assistant's text in every answer"},
    [K_CHUNKS] = {"stream_chunks", SY_CFG_INT, STR(DEF_CHUNKS), 0,
                  "content events per streamed answer, 1..1000"},
    [K_CHUNK_DELAY] = {"chunk_delay", SY_CFG_DURATION, STR(DEF_CHUNK_DELAY_MS) "ms", 0,
                       "time between a stream's events, after the first"},
    [K_TRUNCATE] = {"truncate_rate", SY_CFG_NUMBER, "0", 0,
                    "share of streams cut midway (no [DONE]), as an upstream cut would, 0..1"},
    [K_MODELS] = {"models", SY_CFG_STRING, "", 0,
                  "comma-separated models served; others get 404 model_not_found "
                  "(empty: every model)"},
    {NULL, 0, NULL, 0, NULL},
};

static const sy_config_key mock_endpoint_keys[] = {
    [E_ERROR_RATE] = {"error_rate", SY_CFG_NUMBER, NULL, 0,
                      "this endpoint's error_rate (overrides the provider's)"},
    [E_LATENCY] = {"latency", SY_CFG_DURATION, NULL, 0,
                   "this endpoint's latency (overrides the provider's)"},
    {NULL, 0, NULL, 0, NULL},
};

typedef struct mock {
    const sy_host_api *host;
    sy_openai_wire wire; /* classification only: no key */
    double error_rate;
    int error_status;
    int64_t latency_ms, jitter_ms;
    char *reply;
    int chunks;
    int64_t chunk_delay_ms;
    double truncate_rate;
    char **models; /* NULL: every model */
    size_t n_models;
} mock;

/* ------------------------------------------------------------------ config */

static int has(const sy_config_value *cfg, int k) { return cfg && cfg[k].set; }

static char *host_strndup(const sy_host_api *h, const char *s, size_t n)
{
    char *d = h->alloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int rate_ok(double r) { return r >= 0.0 && r <= 1.0; } /* false for NaN too */

static void mock_destroy(void *instance)
{
    mock *m = instance;
    if (!m) return;
    for (size_t i = 0; i < m->n_models; i++) m->host->free(m->models[i]);
    m->host->free(m->models);
    m->host->free(m->reply);
    sy_openai_wire_fini(&m->wire);
    m->host->free(m);
}

/* "a, b,c" -> {"a","b","c"}; blanks are skipped. */
static int parse_models(mock *m, const char *list, char *err, size_t errlen)
{
    size_t cap = 1;
    for (const char *c = list; *c; c++) cap += *c == ',';
    if (cap > MAX_MODELS) {
        snprintf(err, errlen, "models: more than %d entries", MAX_MODELS);
        return -1;
    }
    m->models = m->host->alloc(cap * sizeof *m->models);
    if (!m->models) goto oom;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        while (p < end && (unsigned char)*p <= ' ') p++;
        const char *q = end;
        while (q > p && (unsigned char)q[-1] <= ' ') q--;
        if (q > p) {
            char *name = host_strndup(m->host, p, (size_t)(q - p));
            if (!name) goto oom;
            m->models[m->n_models++] = name;
        }
        if (!e) break;
        p = e + 1;
    }
    if (m->n_models == 0) {
        m->host->free(m->models);
        m->models = NULL;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int mock_create(const sy_host_api *host, const sy_config_value *cfg, void **instance,
                       char *err, size_t errlen)
{
    *instance = NULL;
    mock *m = host->alloc(sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(m, 0, sizeof *m);
    m->host = host;
    m->error_rate = has(cfg, K_ERROR_RATE) ? cfg[K_ERROR_RATE].d : 0.0;
    m->error_status = has(cfg, K_ERROR_STATUS) ? (int)cfg[K_ERROR_STATUS].i : DEF_ERROR_STATUS;
    m->latency_ms = has(cfg, K_LATENCY) ? cfg[K_LATENCY].i : DEF_LATENCY_MS;
    m->jitter_ms = has(cfg, K_JITTER) ? cfg[K_JITTER].i : 0;
    m->chunks = has(cfg, K_CHUNKS) ? (int)cfg[K_CHUNKS].i : DEF_CHUNKS;
    m->chunk_delay_ms = has(cfg, K_CHUNK_DELAY) ? cfg[K_CHUNK_DELAY].i : DEF_CHUNK_DELAY_MS;
    m->truncate_rate = has(cfg, K_TRUNCATE) ? cfg[K_TRUNCATE].d : 0.0;
    const char *reply = has(cfg, K_REPLY) && cfg[K_REPLY].s ? cfg[K_REPLY].s : DEF_REPLY;
    const char *models = has(cfg, K_MODELS) && cfg[K_MODELS].s ? cfg[K_MODELS].s : "";

    sy_openai_wire_conf wc = {0};
    if (sy_openai_wire_init(&m->wire, host, "mock", &wc, err, errlen) != 0) goto fail;
    if (!rate_ok(m->error_rate)) {
        snprintf(err, errlen, "error_rate must be between 0 and 1");
        goto fail;
    }
    if (!rate_ok(m->truncate_rate)) {
        snprintf(err, errlen, "truncate_rate must be between 0 and 1");
        goto fail;
    }
    if (has(cfg, K_ERROR_STATUS) &&
        (cfg[K_ERROR_STATUS].i < 400 || cfg[K_ERROR_STATUS].i > 599)) {
        snprintf(err, errlen, "error_status must be an HTTP error status, 400..599");
        goto fail;
    }
    if (m->latency_ms < 0 || m->latency_ms > MAX_LATENCY_MS || m->jitter_ms < 0 ||
        m->jitter_ms > MAX_LATENCY_MS) {
        snprintf(err, errlen, "latency and latency_jitter must be between 0 and 10m");
        goto fail;
    }
    if (m->chunk_delay_ms < 0 || m->chunk_delay_ms > MAX_CHUNK_DELAY_MS) {
        snprintf(err, errlen, "chunk_delay must be between 0 and 10s");
        goto fail;
    }
    if (has(cfg, K_CHUNKS) && (cfg[K_CHUNKS].i < 1 || cfg[K_CHUNKS].i > MAX_CHUNKS)) {
        snprintf(err, errlen, "stream_chunks must be between 1 and %d", MAX_CHUNKS);
        goto fail;
    }
    m->reply = host_strndup(host, reply, strlen(reply));
    if (!m->reply) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (parse_models(m, models, err, errlen) != 0) goto fail;
    *instance = m;
    return 0;

fail:
    mock_destroy(m);
    return -1;
}

/* Endpoints need no URL; give them a readable one and check the overrides. */
static int mock_resolve_endpoint(void *instance, const char *name, const sy_config_value *ep_cfg,
                                 char *base_url, size_t cap, char *err, size_t errlen)
{
    (void)instance;
    if (has(ep_cfg, E_ERROR_RATE) && !rate_ok(ep_cfg[E_ERROR_RATE].d)) {
        snprintf(err, errlen, "endpoint '%s': error_rate must be between 0 and 1", name);
        return -1;
    }
    if (has(ep_cfg, E_LATENCY) &&
        (ep_cfg[E_LATENCY].i < 0 || ep_cfg[E_LATENCY].i > MAX_LATENCY_MS)) {
        snprintf(err, errlen, "endpoint '%s': latency must be between 0 and 10m", name);
        return -1;
    }
    if (!*base_url) snprintf(base_url, cap, "mock://%s", name ? name : "mock");
    return 0;
}

/* ------------------------------------------------------------------ answers */

static double unit_draw(const sy_host_api *h)
{
    return (double)(h->random_u64() >> 11) * 0x1.0p-53;
}

static int serves(const mock *m, const char *model)
{
    if (!m->models) return 1;
    for (size_t i = 0; i < m->n_models; i++)
        if (!strcmp(m->models[i], model)) return 1;
    return 0;
}

static const char *error_type(int status)
{
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    if (status == 401) return "authentication_error";
    return "invalid_request_error";
}

static int mock_local_reply(void *instance, const sy_endpoint *ep, const sy_request *req,
                            sy_local_reply *out)
{
    const mock *m = instance;
    const sy_host_api *h = m->host;
    mock_buf b = {.host = h};
    char msg[512];
    memset(out, 0, sizeof *out);
    out->usage.input_tokens = out->usage.output_tokens = -1;

    const sy_config_value *ec = ep ? ep->config : NULL;
    double error_rate = has(ec, E_ERROR_RATE) ? ec[E_ERROR_RATE].d : m->error_rate;
    int64_t latency = has(ec, E_LATENCY) ? ec[E_LATENCY].i : m->latency_ms;

    double u_error = unit_draw(h), u_jitter = unit_draw(h), u_truncate = unit_draw(h);
    int64_t first = latency + (int64_t)(u_jitter * (double)(m->jitter_ms + 1));
    if (first > latency + m->jitter_ms) first = latency + m->jitter_ms;
    out->delay_ms = out->ttfb_ms = first;

    /* A request on one stored response has no body (GET, DELETE). */
    const int item = req->op == SY_OP_RESPONSE_ITEM;
    cJSON *root = req->body && req->body_len ? cJSON_ParseWithLength(req->body, req->body_len)
                                             : NULL;
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *model = req->model ? req->model : cJSON_IsString(jm) ? jm->valuestring : NULL;
    if (item && !model) model = "mock";

    if (!item && (!cJSON_IsObject(root) || !model)) {
        out->status = 400;
        mock_body_error(&b, !cJSON_IsObject(root)
                                ? "We could not parse the JSON body of your request."
                                : "you must provide a model parameter",
                        "invalid_request_error", NULL);
    } else if (!item && !serves(m, model)) {
        out->status = 404;
        snprintf(msg, sizeof msg,
                 "The model `%.200s` does not exist or you do not have access to it.", model);
        mock_body_error(&b, msg, "invalid_request_error", "model_not_found");
    } else if (u_error < error_rate) {
        out->status = m->error_status;
        snprintf(msg, sizeof msg, "mock provider: injected failure (HTTP %d)", m->error_status);
        mock_body_error(&b, msg, error_type(m->error_status), "mock_injected_error");
    } else {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
        mock_answer a = {
            .op = req->op,
            .model = model,
            .request_id = req->request_id,
            .reply = m->reply,
            .chunks = m->chunks,
            .stream = req->stream && req->op != SY_OP_EMBEDDINGS && !item,
            .include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")),
            .prompt_tokens = (int64_t)(req->body_len / 4) ? (int64_t)(req->body_len / 4) : 1,
            .completion_tokens = req->op == SY_OP_EMBEDDINGS ? 0 : mock_count_words(m->reply),
            .body_json = root,
            .method = req->method,
            .path = req->path,
        };
        a.truncate = a.stream && u_truncate < m->truncate_rate;
        if (req->op == SY_OP_RESPONSES || item) {
            /* Reasoning costs 3 more output tokens when the request asks for it. */
            const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(root, "reasoning");
            a.reasoning_tokens = reasoning && !cJSON_IsNull(reasoning) ? 3 : 0;
            a.completion_tokens += a.reasoning_tokens;
            mock_response_ids(&a, h);
        }
        out->status = 200;
        if (req->op == SY_OP_EMBEDDINGS) {
            const char *why = NULL;
            if (mock_body_embeddings(&b, &a, &why) != 0) {
                h->free(b.p);
                b = (mock_buf){.host = h};
                out->status = 400;
                mock_body_error(&b, why, "invalid_request_error", NULL);
            }
        } else if (req->op == SY_OP_CHAT || req->op == SY_OP_COMPLETIONS) {
            mock_body_completion(&b, &a);
            out->truncate_stream = a.truncate;
        } else if (req->op == SY_OP_RESPONSES) {
            mock_body_response(&b, &a);
            out->truncate_stream = a.truncate;
        } else if (item) {
            out->status = mock_body_response_item(&b, &a);
        } else {
            out->status = 404;
            mock_body_error(&b, "mock provider: operation not supported",
                            "invalid_request_error", NULL);
        }
        if (out->status == 200 && !item) { /* reading a stored response costs nothing */
            out->usage.input_tokens = a.prompt_tokens;
            out->usage.output_tokens = a.truncate ? -1 : a.completion_tokens;
        }
        if (out->status == 200 && a.stream && !b.oom) {
            /* The first event after `latency`, then one every chunk_delay. */
            int64_t events = 0;
            for (const char *p = b.p; (p = strstr(p, "\n\n")) != NULL; p += 2) events++;
            if (events > 1) out->delay_ms = first + (events - 1) * m->chunk_delay_ms;
        }
    }
    cJSON_Delete(root);
    if (b.oom) {
        h->free(b.p);
        return -1;
    }
    out->body = b.p;
    out->body_len = b.len;
    return 0;
}

static int mock_parse_response(void *instance, const sy_request *req,
                               const sy_http_response *resp, sy_result *res)
{
    return sy_openai_wire_parse_response(&((mock *)instance)->wire, req, resp, res);
}

static int mock_stream_event(void *instance, const sy_request *req, const char *data, size_t len,
                             sy_stream_result *res)
{
    return sy_openai_wire_stream_event(&((mock *)instance)->wire, req, data, len, res);
}

SY_PLUGIN_EXPORT const sy_plugin switchyard_plugin = {
    SY_PLUGIN_HEADER,
    .name = "mock",
    .version = "1.0.0",
    .description = "answers locally with OpenAI-shaped replies and configurable failures "
                   "(no upstream, no keys)",
    .config_keys = mock_keys,
    .endpoint_keys = mock_endpoint_keys,
    .create = mock_create,
    .destroy = mock_destroy,
    .resolve_endpoint = mock_resolve_endpoint,
    .build_request = NULL,
    .parse_response = mock_parse_response,
    .stream_event = mock_stream_event,
    .local_reply = mock_local_reply,
    /* No upstream, so nothing to probe: the host never health-checks the
     * endpoints of a plugin that answers locally; they count as healthy. */
    .health_request = NULL,
    .ops = SY_OPS_CLASSIC | SY_OPS_RESPONSES,
};
