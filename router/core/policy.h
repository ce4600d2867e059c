/*
 * policy.h - the typed, immutable policy.
 *
 * sy_policy_load() reads YAML (yaml_tree.h), checks every key, unit, range
 * and reference, reports every problem through sy_diags, loads the plugins
 * the policy names and checks their keys, and creates one plugin instance per
 * provider. The result is never changed afterwards; it is shared between
 * worker threads by reference count, and a reload builds a new one.
 *
 * Secrets (api keys, client keys, admin key, plugin SECRET keys) live in the
 * policy but are never printed: diagnostics quote the raw text ("${VAR}").
 */
#ifndef SY_POLICY_H
#define SY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <switchyard/plugin.h>
#include "diag.h"

struct sy_plugin_registry;
struct sy_redactor;

typedef enum sy_load_mode {
    SY_LOAD_VALIDATE, /* dry run: an unset ${VAR} is a warning */
    SY_LOAD_SERVE,    /* an unset ${VAR} is an error */
} sy_load_mode;

typedef struct sy_policy_endpoint {
    char *name;
    char *base_url;        /* resolved (plugin's resolve_endpoint may fill it), no trailing '/' */
    int priority;          /* lower first; default 100 */
    sy_loc loc;
    sy_config_value *plugin_cfg; /* aligned with plugin->endpoint_keys; NULL when it has none */
    size_t global_index;   /* 0..policy->n_endpoints_total-1, for runtime state arrays */
    sy_endpoint view;      /* the ABI view handed to plugins (points into this struct) */
    int64_t connect_timeout_ms;    /* 0: the provider's */
    int64_t first_byte_timeout_ms; /* 0: the provider's */
    char *base_url_raw;    /* base_url as written ("${RELAY_URL}/v1") when it used the
                            * environment, else NULL: what explain and logs may print */
} sy_policy_endpoint;

typedef struct sy_price {
    char *model;
    double input_per_m;        /* USD per million input tokens */
    double output_per_m;
    sy_loc loc;
} sy_price;

typedef enum sy_balance { SY_BALANCE_PRIORITY, SY_BALANCE_LATENCY } sy_balance;

typedef struct sy_health_check {
    int enabled;           /* 1 when the policy gives health_check */
    char *path;            /* default "/models" */
    int64_t interval_ms;   /* default 30s */
    int64_t timeout_ms;    /* default 5s */
    int unhealthy_after;   /* default 3 */
    int healthy_after;     /* default 2 */
} sy_health_check;

typedef struct sy_policy_provider {
    char *name;
    char *plugin_name;
    sy_loc loc, plugin_loc;
    const sy_plugin *plugin;     /* NULL only if loading failed (then the policy is invalid) */
    void *instance;              /* plugin->create() result; destroyed with the policy */
    sy_config_value *plugin_cfg; /* aligned with plugin->config_keys */
    sy_policy_endpoint *endpoints; /* sorted by priority, then order written */
    size_t n_endpoints;
    sy_balance balance;
    sy_health_check health;
    int64_t connect_timeout_ms;    /* per attempt; default 10s */
    int64_t first_byte_timeout_ms; /* per attempt, until the status line; 0 = none (the
                                    * request's deadline bounds it); default 0 */
    sy_price *prices;            /* this provider's own prices (override models.prices) */
    size_t n_prices;
} sy_policy_provider;

/* retry.on conditions beyond HTTP statuses. */
#define SY_RETRY_ON_CONNECT_ERROR 0x1u
#define SY_RETRY_ON_TIMEOUT 0x2u

typedef enum sy_jitter { SY_JITTER_FULL, SY_JITTER_EQUAL, SY_JITTER_NONE } sy_jitter;

typedef struct sy_retry_conf {
    int max_attempts;          /* tries of one route (provider, model), first included; default 3 */
    unsigned on_flags;         /* SY_RETRY_ON_* */
    int on_status[32];         /* HTTP statuses that are retried */
    size_t n_on_status;
    int64_t backoff_base_ms;   /* default 500ms */
    int64_t backoff_max_ms;    /* default 8s */
    sy_jitter jitter;          /* default full */
    int retry_after_honor;     /* default 1 */
    int64_t retry_after_max_ms;/* default 60s */
    double budget_ratio;       /* default 0.2 */
    double budget_min_per_second; /* default 10 */
} sy_retry_conf;

typedef struct sy_breaker_conf {
    int failure_threshold;     /* default 5 */
    int success_threshold;     /* default 2 */
    int64_t open_for_ms;       /* default 60s */
    int half_open_max_calls;   /* default 3 */
} sy_breaker_conf;

typedef struct sy_rate_limit_conf {
    int enabled;               /* 1 when rate_limit is given */
    double rps;
    double burst;
} sy_rate_limit_conf;

typedef struct sy_fallback_chain {
    char *model;
    char **to;                 /* in order */
    size_t n_to;
    sy_loc loc;
} sy_fallback_chain;

typedef enum sy_sticky_kind { SY_STICKY_HEADER, SY_STICKY_BODY } sy_sticky_kind;
typedef struct sy_sticky_source {
    sy_sticky_kind kind;
    char *name;                /* header name (lower-cased) or top-level body key */
    char *label;               /* "header:x-user-id" / "body:user", for explain and logs;
                                * owned by the policy (planner falls back to name if NULL) */
} sy_sticky_source;

typedef enum sy_latency_kind { SY_LATENCY_TTFB, SY_LATENCY_TOTAL } sy_latency_kind;

typedef struct sy_rollback_conf {
    int enabled;               /* 1 when migration.rollback is given */
    double success_rate_below; /* percent, 0..100 */
    int64_t p95_above_ms;      /* 0 = not checked */
    sy_latency_kind latency;
    int64_t window_ms;         /* default 5m */
    int min_requests;          /* default 200 */
    char *state_file;          /* NULL = none */
} sy_rollback_conf;

typedef struct sy_migration_conf {
    int enabled;               /* 1 when a canary is configured */
    size_t stable;             /* index into policy->providers */
    size_t canary;             /* valid when enabled */
    char *rollout_id;          /* sticky-hash salt; default "<stable>-><canary>" */
    double percent;            /* 0..100 */
    sy_sticky_source *sticky;  /* default [header:x-user-id, body:user] */
    size_t n_sticky;
    char **canary_endpoints;   /* NULL/0 = every canary endpoint */
    size_t n_canary_endpoints;
    double *steps;             /* progressive promotion percents, ascending */
    size_t n_steps;
    int64_t step_after_ms;
    int fallback_to_stable;    /* default 1 */
    sy_rollback_conf rollback;
} sy_migration_conf;

typedef enum sy_budget_action { SY_BUDGET_ALERT, SY_BUDGET_REJECT } sy_budget_action;
typedef struct sy_budget_conf {
    int enabled;
    double monthly_usd;
    sy_budget_action on_exceed;
} sy_budget_conf;

/* The Responses API: which provider and endpoint created each stored
 * response, so a conversation's later requests go back there. */
typedef struct sy_responses_conf {
    int map_size;              /* ids remembered; default 100000 (the oldest go first) */
    int64_t map_ttl_ms;        /* an id is forgotten after this; default 720h (30 days) */
} sy_responses_conf;

/* Several instances sharing one rollout, rate limit and budget through Redis
 * (shared_state; router/shared/). Not given: everything stays in the process. */
typedef struct sy_shared_state_conf {
    int enabled;               /* 1 when shared_state is given */
    char *url;                 /* secret: the URL as expanded (may hold a password) */
    char *url_shown;           /* the same without the password: logs, /admin/status */
    char *password;            /* secret, decoded from the URL; NULL: none (for the redactor) */
    char *prefix;              /* key prefix; default "switchyard:" */
    int64_t timeout_ms;        /* each command and the connection; default 200ms */
} sy_shared_state_conf;

/* server.http_client: the built-in HTTP/1.1 client for the http:// upstreams
 * it can reach (router/transport/transport_h1.h), or libcurl for every one. */
typedef enum sy_http_client { SY_HTTP_CLIENT_BUILTIN, SY_HTTP_CLIENT_CURL } sy_http_client;

typedef struct sy_server_conf {
    char *listen;              /* "host:port"; default "127.0.0.1:8080" */
    char **client_keys;        /* secrets; n_client_keys == 0: open (warning) */
    size_t n_client_keys;
    char *admin_key;           /* secret; NULL: admin endpoints refused */
    uint64_t max_body;         /* default 8 MiB */
    uint64_t max_response;     /* largest non-streamed answer buffered; default 16 MiB */
    uint64_t max_response_memory; /* all buffered answers of the process; default 256 MiB */
    int64_t request_timeout_ms;/* default 120s; until the commit point */
    int64_t stream_idle_timeout_ms; /* after it: no upstream byte this long cuts; default 60s */
    int64_t idle_timeout_ms;   /* keep-alive idle; default 60s */
    int64_t header_timeout_ms; /* slow client sending headers/body; default 10s */
    int64_t shutdown_grace_ms; /* default 30s */
    int workers;               /* 0 = one per core */
    char *access_log;          /* "stdout" (default), "off", or a file path */
    int http_client;           /* sy_http_client: who sends http:// requests */
} sy_server_conf;

typedef struct sy_policy {
    char *file;
    int version;
    sy_server_conf server;
    char **plugin_paths;       /* as given, relative ones joined to the policy's folder;
                                * empty = defaults (see plugin/loader.h) */
    size_t n_plugin_paths;
    sy_policy_provider *providers;
    size_t n_providers;
    size_t n_endpoints_total;
    sy_retry_conf retry;
    sy_breaker_conf breaker;
    sy_rate_limit_conf rate_limit;
    sy_fallback_chain *fallbacks;
    size_t n_fallbacks;
    sy_price *prices;
    size_t n_prices;
    char **models;             /* every model the policy names (fallbacks, prices), sorted, unique: GET /v1/models */
    size_t n_models;
    sy_migration_conf migration;
    sy_budget_conf budget;
    sy_responses_conf responses;
    sy_shared_state_conf shared_state;
    struct sy_redactor *redactor; /* every secret above, to scrub from upstream text (redact.h) */
    int refcount;              /* atomic; use sy_policy_ref/unref */
} sy_policy;

/* Load and check a policy. Returns NULL when there is any error (all of them
 * are in d); warnings alone still return a policy. reg loads the plugins
 * (plugin/loader.h); NULL skips plugin loading and plugin key checks. */
sy_policy *sy_policy_load(const char *path, sy_load_mode mode, struct sy_plugin_registry *reg,
                          sy_diags *d);
/* Same, from a buffer (tests, fuzzing). name is used in diagnostics. */
sy_policy *sy_policy_load_buffer(const char *name, const char *text, size_t len,
                                 sy_load_mode mode, struct sy_plugin_registry *reg, sy_diags *d);

sy_policy *sy_policy_ref(sy_policy *p);
void sy_policy_unref(sy_policy *p); /* frees at zero, destroying plugin instances */

/* Lookups; NULL when absent. */
const sy_policy_provider *sy_policy_provider_by_name(const sy_policy *p, const char *name);
const sy_fallback_chain *sy_policy_fallbacks(const sy_policy *p, const char *model);
const sy_price *sy_policy_price(const sy_policy *p, const char *model);
/* The price of model on provider: the provider's own (providers.X.prices),
 * else models.prices; NULL when neither has one. prov may be NULL. */
const sy_price *sy_policy_price_at(const sy_policy *p, const sy_policy_provider *prov,
                                   const char *model);
int sy_policy_retry_on_status(const sy_policy *p, int status);
/* Is the provider's endpoints' health measured by active probes? Only with
 * a health_check, and not for a plugin that answers itself (the mock). */
int sy_policy_health_probed(const sy_policy_provider *prov);
/* The client's path of an op that creates something (plugin.h sy_op:
 * chat, completions, embeddings, responses), e.g. "/v1/chat/completions";
 * NULL for any other. serve logs it, explain --path reads it. */
const char *sy_op_path(int op);
/* Does the provider's plugin serve op (plugin.h sy_op; ABI 1.3 sy_plugin.ops)? */
int sy_policy_provider_serves(const sy_policy_provider *prov, int op);

#endif
