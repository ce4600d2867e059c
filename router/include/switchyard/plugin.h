/*
 * switchyard/plugin.h - the provider plugin ABI.
 *
 * This is the only header a provider plugin needs. A plugin is a shared
 * object that exports exactly one symbol, SY_PLUGIN_SYMBOL ("switchyard_plugin"),
 * a const sy_plugin descriptor. The host checks the descriptor's version fields
 * before it reads anything else or runs any plugin code.
 *
 * Plugins do no I/O. A plugin turns a canonical request into an upstream HTTP
 * request (URL, headers, body), turns the upstream answer (or each stream event)
 * back into an OpenAI-shaped answer, reports token usage, and classifies errors.
 * The host owns every socket, timer, retry and breaker.
 *
 * Threading: one plugin instance serves every worker thread at once. Callbacks
 * other than create/destroy must not mutate instance state without their own
 * synchronisation; the shipped plugins keep instances read-only after create.
 *
 * Ownership: every pointer the host passes in is borrowed for the duration of
 * the call unless stated otherwise. Memory a plugin hands back to the host
 * (sy_http_request.body_owned, sy_result.body) must come from host->alloc; the
 * host frees it with host->free.
 *
 * Compatibility: fields are only ever added at the end of a struct, and each
 * addition bumps SY_PLUGIN_ABI_MINOR. The host refuses a plugin whose major
 * differs from its own or whose minor is newer than its own.
 */
#ifndef SWITCHYARD_PLUGIN_H
#define SWITCHYARD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_PLUGIN_ABI_MAJOR 1
#define SY_PLUGIN_ABI_MINOR 5
#define SY_PLUGIN_SYMBOL "switchyard_plugin"

/* Export the descriptor with default visibility even when the plugin is
 * built with -fvisibility=hidden (as it should be). */
#if defined(__GNUC__)
#define SY_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SY_PLUGIN_EXPORT
#endif

/* ---------------------------------------------------------------- config */

/* Types a plugin may declare for its config keys. The host parses and checks
 * the YAML value against the type before the plugin sees it. */
typedef enum sy_config_type {
    SY_CFG_STRING = 1,
    SY_CFG_SECRET,   /* a string that is never printed (API keys) */
    SY_CFG_INT,      /* integer, in .i */
    SY_CFG_NUMBER,   /* floating point, in .d */
    SY_CFG_BOOL,     /* 0 or 1, in .i */
    SY_CFG_DURATION, /* "500ms", "2s", "5m", "1h": milliseconds in .i */
    SY_CFG_PERCENT,  /* "99.5%" or 99.5: in .d, 0..100 */
    SY_CFG_URL,      /* absolute http:// or https:// URL, in .s */
} sy_config_type;

/* One declared config key. Arrays of these end with an entry whose name is NULL. */
typedef struct sy_config_key {
    const char *name;          /* YAML key, e.g. "api_key" */
    sy_config_type type;
    const char *default_value; /* as YAML text, or NULL for none */
    int required;              /* 1: the policy must give it */
    const char *help;          /* one line for `switchyard plugins` and docs */
} sy_config_key;

/* A parsed config value. The host passes an array of these aligned with the
 * plugin's key array: values[i] belongs to keys[i]. */
typedef struct sy_config_value {
    int set;       /* 1 when the policy gave it or a default applied */
    const char *s; /* the value as text (strings, secrets, urls; also the raw text of others) */
    int64_t i;     /* INT, BOOL, DURATION (ms) */
    double d;      /* NUMBER, PERCENT */
} sy_config_value;

/* ------------------------------------------------------------ JSON fields */

/* What the host's JSON scanner (sy_host_api.json_scan_object, ABI 1.1) reports
 * for one wanted top-level key of an object. */
typedef enum sy_json_type {
    SY_JSON_ABSENT = 0,
    SY_JSON_STRING,
    SY_JSON_NUMBER,
    SY_JSON_TRUE,
    SY_JSON_FALSE,
    SY_JSON_NULL,
    SY_JSON_OBJECT,
    SY_JSON_ARRAY,
} sy_json_type;

typedef struct sy_json_field {
    const char *name;  /* in: the top-level key wanted */
    sy_json_type type; /* out: SY_JSON_ABSENT when the key is not there */
    const char *val;   /* out: strings: the bytes between the quotes; others: the raw value text */
    size_t len;
    int escaped;       /* out: a string with backslash escapes */
} sy_json_field;

/* ---------------------------------------------------------- host services */

enum { SY_LOG_ERROR = 0, SY_LOG_WARN = 1, SY_LOG_INFO = 2, SY_LOG_DEBUG = 3 };

/* Services the host hands to a plugin. Grows only at the end; check .size
 * before using a field added after ABI 1.0. */
typedef struct sy_host_api {
    uint32_t size; /* sizeof(sy_host_api) as the host was built */
    uint32_t abi_minor;
    void (*log)(int level, const char *plugin, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    void *(*alloc)(size_t n);
    void (*free)(void *p);
    /* 64 uniformly random bits from the host's seeded generator; safe to call
     * from any worker thread. */
    uint64_t (*random_u64)(void);

    /* ABI 1.1. Validate p[0..n) as one strict JSON object (RFC 8259, nesting
     * bounded) and fill in the wanted top-level fields, without building a
     * tree or allocating. Returns 0, or -1 with *why set. Far cheaper than a
     * full parse when a plugin needs two fields of a large answer. Check
     * host->size > offsetof(sy_host_api, json_scan_object) before use. */
    int (*json_scan_object)(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                            const char **why);
} sy_host_api;

/* ------------------------------------------------------- request / answer */

typedef enum sy_op {
    SY_OP_CHAT = 1,    /* POST /v1/chat/completions */
    SY_OP_COMPLETIONS, /* POST /v1/completions */
    SY_OP_EMBEDDINGS,  /* POST /v1/embeddings */
    /* ABI 1.3: the Responses API. */
    SY_OP_RESPONSES,   /* POST /v1/responses: create a response */
    SY_OP_RESPONSE_ITEM, /* any request on one stored response, /v1/responses/{id}[/...]:
                          * GET (retrieve), DELETE, GET .../input_items, POST .../cancel;
                          * sy_request.method and .path say which */
} sy_op;

/* The bit of an op in sy_plugin.ops. */
#define SY_OP_BIT(op) (1u << (unsigned)(op))
/* What a plugin that leaves sy_plugin.ops 0 (or predates ABI 1.3) serves. */
#define SY_OPS_CLASSIC (SY_OP_BIT(SY_OP_CHAT) | SY_OP_BIT(SY_OP_COMPLETIONS) | SY_OP_BIT(SY_OP_EMBEDDINGS))
#define SY_OPS_RESPONSES (SY_OP_BIT(SY_OP_RESPONSES) | SY_OP_BIT(SY_OP_RESPONSE_ITEM))

/* The canonical request as the client sent it, for one attempt. */
typedef struct sy_request {
    sy_op op;
    const char *model;        /* the model this attempt asks for (may be a fallback) */
    const char *client_model; /* the model the client asked for */
    const char *body;         /* the client's JSON body, exactly as received */
    size_t body_len;
    int stream;               /* 1 when the client asked for stream: true */
    const char *request_id;
    /* ABI 1.3 (a plugin built against 1.2 never reads these). */
    const char *method;       /* "POST", or for SY_OP_RESPONSE_ITEM "GET" / "DELETE" */
    /* The client's path after its /v1 prefix, query included, e.g.
     * "/chat/completions" or "/responses/resp_123/input_items?limit=5".
     * The host checked it: printable ASCII, no "..", at most 1024 bytes.
     * body is empty (len 0) for a GET or DELETE. */
    const char *path;
    /* ABI 1.4. 1: the host has checked that body is one well-formed JSON
     * object with its strict scanner (what host->json_scan_object runs), so
     * a plugin need not scan it again to know that; 0: not checked. */
    int body_checked;
    /* ABI 1.5. 1: body_checked is 1, each of the keys "model" and
     * "stream_options" appears at most once at the top level of body (keys
     * compared as decoded: "m\u006fdel" is "model"), and the spans below,
     * recorded by the host's strict scan, say exactly where their values
     * are; so a plugin that edits those members need not walk the body to
     * find them. 0: not known (a key repeats, or the host did not scan). */
    int body_spans_known;
    /* The raw JSON text of the top-level value of "model" and of
     * "stream_options" (a string's quotes included), pointing into body;
     * NULL and 0 when the key is absent. Read only when body_spans_known. */
    const char *model_value;
    size_t model_value_len;
    const char *stream_options_value;
    size_t stream_options_value_len;
} sy_request;

/* The endpoint an attempt goes to, as resolved from the policy. */
typedef struct sy_endpoint {
    const char *provider; /* provider name in the policy */
    const char *name;     /* endpoint name, e.g. "cn-north" */
    const char *base_url; /* e.g. "https://cn-north.holysheep.ai/v1", no trailing slash */
    const sy_config_value *config; /* aligned with the plugin's endpoint_keys (may be NULL) */
} sy_endpoint;

#define SY_URL_MAX 2048
#define SY_MAX_HEADERS 16

/* The upstream HTTP request a plugin builds. The host sends build_request's
 * as a POST, and health_request's (ABI 1.2) as a GET without a body. */
typedef struct sy_http_request {
    char url[SY_URL_MAX];
    /* Full header lines, "Name: value". Pointers must stay valid until the
     * instance is destroyed (build them at create time) or point into
     * body_owned-style host memory the plugin allocated for this request. */
    const char *headers[SY_MAX_HEADERS];
    unsigned n_headers;
    /* The body to send. Either req->body itself (no copy) or memory from
     * host->alloc stored in body_owned too, which the host frees. */
    const char *body;
    size_t body_len;
    void *body_owned;
    /* ABI 1.3. The method, a static string: NULL sends build_request's as a
     * POST (and health_request's as a GET). A GET or DELETE sends no body. */
    const char *method;
} sy_http_request;

/* An upstream answer (whole, for non-stream requests and for error statuses). */
typedef struct sy_http_response {
    int status;
    const char *body;
    size_t body_len;
    /* Returns the value of the first header named so (case-insensitive), or NULL. */
    const char *(*header)(const struct sy_http_response *resp, const char *name);
    void *host_ctx; /* for header(); do not touch */
} sy_http_response;

/* What the host should do with an answer. */
typedef enum sy_verdict {
    SY_VERDICT_OK = 0,    /* a good answer: pass it to the client */
    SY_VERDICT_RETRY = 1, /* transient (overload, 5xx): retry, maybe another endpoint */
    SY_VERDICT_NEXT = 2,  /* this route cannot serve it (model unknown here, bad key): try the next route */
    SY_VERDICT_FATAL = 3, /* the client's fault (400): return the answer as it is */
} sy_verdict;

/* How an upstream HTTP status is treated: one table, shared by the core and
 * every plugin (a plugin's parse_response should agree with it).
 *   2xx                      OK
 *   408, 409, 429, 5xx       RETRYABLE: retried when retry.on lists the status,
 *                            as the official OpenAI SDKs do (409 is their
 *                            lock-timeout case)
 *   401, 403                 KEY_REFUSED: the provider refused its key; the
 *                            router moves to another provider's route and
 *                            never retries that provider for the request
 *   404, 3xx                 NEXT_ROUTE: this route cannot serve it
 *   other 4xx                CLIENT: the client's own error, passed through
 *   anything else            BAD: not a valid answer (treated as retryable) */
typedef enum sy_status_class {
    SY_STATUS_OK = 0,
    SY_STATUS_RETRYABLE,
    SY_STATUS_KEY_REFUSED,
    SY_STATUS_NEXT_ROUTE,
    SY_STATUS_CLIENT,
    SY_STATUS_BAD,
} sy_status_class;

static inline sy_status_class sy_status_classify(int status)
{
    if (status >= 200 && status < 300) return SY_STATUS_OK;
    if (status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600))
        return SY_STATUS_RETRYABLE;
    if (status == 401 || status == 403) return SY_STATUS_KEY_REFUSED;
    if (status == 404 || (status >= 300 && status < 400)) return SY_STATUS_NEXT_ROUTE;
    if (status >= 400 && status < 500) return SY_STATUS_CLIENT;
    return SY_STATUS_BAD;
}

/* The verdict the table gives a status: OK, RETRY (retryable, and a
 * nonsense status: a broken upstream), NEXT (key refused, next route),
 * FATAL (the client's own error). */
static inline sy_verdict sy_status_verdict(int status)
{
    switch (sy_status_classify(status)) {
    case SY_STATUS_OK: return SY_VERDICT_OK;
    case SY_STATUS_KEY_REFUSED:
    case SY_STATUS_NEXT_ROUTE: return SY_VERDICT_NEXT;
    case SY_STATUS_CLIENT: return SY_VERDICT_FATAL;
    case SY_STATUS_RETRYABLE:
    case SY_STATUS_BAD: break;
    }
    return SY_VERDICT_RETRY;
}

typedef struct sy_usage {
    int64_t input_tokens;  /* -1 when unknown */
    int64_t output_tokens; /* -1 when unknown */
} sy_usage;

typedef struct sy_result {
    sy_verdict verdict;
    sy_usage usage;
    char error[256]; /* short summary of an upstream error, no secrets; "" when none */
    /* Optional replacement body (host->alloc); NULL passes the upstream body on unchanged. */
    char *body;
    size_t body_len;
    /* ABI 1.3 (the host sets them to -1 / NULL before the call). */
    int64_t reasoning_tokens;  /* the part of output_tokens spent on reasoning; -1 unknown */
    /* The Responses API: the id of the stored response this answer created
     * (not for store: false), borrowed from the body the plugin was given;
     * the host copies it to route the conversation's later requests. */
    const char *response_id;
    size_t response_id_len;
} sy_result;

/* One server-sent event's data payload, for stream requests. */
typedef struct sy_stream_result {
    int done;        /* this event was the terminal "[DONE]" */
    int error;       /* the upstream sent an error event mid-stream */
    sy_usage usage;  /* usage if this event carried it, else -1/-1 */
    /* Optional replacement payload (host->alloc); NULL forwards the event as it came. */
    char *data;
    size_t data_len;
    /* ABI 1.2. Set to 1 to send the client nothing for this event (its usage
     * still counts): the usage chunk the plugin asked the upstream for when
     * the client did not. The host sets it to 0 before the call. */
    int drop;
    /* ABI 1.3, as in sy_result: reasoning tokens (-1 unknown), and the id of
     * the stored response a Responses stream creates (its response.created
     * event), borrowed from data. A Responses stream has no "[DONE]": the
     * plugin sets done on its terminal event (response.completed, .failed
     * or .incomplete). */
    int64_t reasoning_tokens;
    const char *response_id;
    size_t response_id_len;
} sy_stream_result;

/* An answer made without any upstream (the mock provider). The host waits
 * delay_ms on its own timer, then answers with status and body. For stream
 * requests body holds the complete SSE text ("data: ...\n\n" events). */
typedef struct sy_local_reply {
    int status;
    int64_t delay_ms;
    int64_t ttfb_ms;      /* for streams: time to the first event (<= delay_ms) */
    char *body;           /* host->alloc; the host frees it */
    size_t body_len;
    int truncate_stream;  /* 1: the host cuts the stream after body, as an upstream cut would */
    sy_usage usage;
} sy_local_reply;
/* A local reply is classified like an upstream answer: through the plugin's
 * parse_response / stream_event, so usage, reasoning tokens and response
 * ids come from there. For streams, body holds every SSE event whole,
 * "event:" lines included (the Responses API's typed events). */

/* --------------------------------------------------------- the descriptor */

typedef struct sy_plugin {
    /* These must be first: they protect the rest. */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* sizeof(sy_plugin) as the plugin was built */

    const char *name;        /* the name policies use in `plugin:` */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */

    const sy_config_key *config_keys;   /* provider-level keys, NULL-name terminated; may be NULL */
    const sy_config_key *endpoint_keys; /* extra keys an endpoint entry may give; may be NULL */

    /* Required. Create an instance for one provider of a policy. cfg is aligned
     * with config_keys. On failure return non-zero and write a message to err. */
    int (*create)(const sy_host_api *host, const sy_config_value *cfg, void **instance,
                  char *err, size_t errlen);
    /* Required. */
    void (*destroy)(void *instance);

    /* Optional. Fill in or check an endpoint's base URL from its config (so an
     * endpoint may say `region: cn-north` instead of base_url). base_url holds
     * the policy's base_url or "" on entry; write the final one. Non-zero with
     * err on a bad endpoint. */
    int (*resolve_endpoint)(void *instance, const char *name, const sy_config_value *ep_cfg,
                            char *base_url, size_t cap, char *err, size_t errlen);

    /* Build the upstream request for one attempt. Required unless local_reply is set. */
    int (*build_request)(void *instance, const sy_endpoint *ep, const sy_request *req,
                         sy_http_request *out, char *err, size_t errlen);
    /* Classify a whole upstream answer and read its usage. Required unless local_reply is set. */
    int (*parse_response)(void *instance, const sy_request *req, const sy_http_response *resp,
                          sy_result *res);
    /* Optional. Read one SSE event's data payload (without "data: " and the
     * blank line). NULL: the host forwards events as they come. */
    int (*stream_event)(void *instance, const sy_request *req, const char *data, size_t len,
                        sy_stream_result *res);
    /* Optional. Answer without an upstream (mock and dry runs). */
    int (*local_reply)(void *instance, const sy_endpoint *ep, const sy_request *req,
                       sy_local_reply *out);

    /* ABI 1.2. Optional. Build one active health check of an endpoint: the URL
     * base_url + path (path is the policy's health_check.path and starts with
     * '/'), and the headers the provider needs to accept it, usually its key.
     * No body: the host sends it as a GET. A probe must never cost tokens, so
     * it is a listing such as /models, never a completion. Header lines follow
     * build_request's rules. Called on the prober's thread. Without it the
     * host sends GET base_url + path with no headers; endpoints of a plugin
     * with local_reply are not probed at all (they have no upstream). The host
     * reads this field only when .size covers it (older plugins stop before). */
    int (*health_request)(void *instance, const sy_endpoint *ep, const char *path,
                          sy_http_request *out, char *err, size_t errlen);

    /* ABI 1.3. The operations this plugin serves, SY_OP_BIT(op) for each;
     * 0 means SY_OPS_CLASSIC (what every plugin before 1.3 served). The
     * router skips a route whose provider does not serve the request's op
     * (and `explain --path` says so), rather than sending it a path it would
     * answer with a 404. */
    uint32_t ops;
} sy_plugin;

/* Start a descriptor: sets the version fields and size so they are always right.
 *   SY_PLUGIN_EXPORT const sy_plugin switchyard_plugin = {
 *       SY_PLUGIN_HEADER,
 *       .name = "example", ...
 *   };
 */
#define SY_PLUGIN_HEADER                                                                   \
    .abi_major = SY_PLUGIN_ABI_MAJOR, .abi_minor = SY_PLUGIN_ABI_MINOR,                    \
    .size = (uint32_t)sizeof(sy_plugin)

#ifdef __cplusplus
}
#endif
#endif /* SWITCHYARD_PLUGIN_H */
