/*
 * policy_keys.c - every key of the policy, as data: one table per mapping.
 *
 * Parsing (policy_value.c), the unknown-key message, `validate --list-keys`
 * (compared with policies/switchyard.schema.json by tests/policy) and
 * docs/policy.md all come from these tables. Adding a key: add a row here,
 * the field in policy.h, the property in the schema and a line in the docs.
 *
 * Defaults are written as policy text and parsed by the same code as the
 * user's values, so a default can never be something the user could not write.
 */
#include <stdio.h>
#include <string.h>

#include "policy_keys.h"

static const char *const balance_choices[] = {"priority", "latency", NULL};
static const char *const jitter_choices[] = {"full", "equal", "none", NULL};
static const char *const latency_choices[] = {"ttfb", "total", NULL};
static const char *const on_exceed_choices[] = {"alert", "reject", NULL};
static const char *const http_client_choices[] = {"builtin", "curl", NULL};

#define END {0}
#define OFF(type, field) offsetof(type, field)

/* ------------------------------------------------------------------ server */
static const sy_pkey pk_server[] = {
    {.name = "listen", .type = SY_PK_CUSTOM, .offset = OFF(sy_server_conf, listen),
     .def = "127.0.0.1:8080", .parse = sy_pk_parse_listen, .type_doc = "host:port",
     .help = "address and port to listen on; `serve --listen` overrides it"},
    {.name = "client_keys", .type = SY_PK_CUSTOM, .offset = OFF(sy_server_conf, client_keys),
     .flags = SY_PKF_ENV_OPTIONAL, .parse = sy_pk_parse_client_keys,
     .type_doc = "secret: comma-separated tokens, or a list",
     .help = "bearer tokens applications must send; not set (or an unset ${VAR}): any client "
             "may call, with a warning"},
    {.name = "admin_key", .type = SY_PK_SECRET, .offset = OFF(sy_server_conf, admin_key),
     .flags = SY_PKF_ENV_OPTIONAL,
     .help = "bearer token for /admin/*; not set (or an unset ${VAR}): admin endpoints refused"},
    {.name = "max_body", .type = SY_PK_SIZE, .offset = OFF(sy_server_conf, max_body),
     .def = "8MiB", .flags = SY_PKF_POSITIVE,
     .help = "largest request body accepted (413 above it)"},
    {.name = "max_response", .type = SY_PK_SIZE, .offset = OFF(sy_server_conf, max_response),
     .def = "16MiB", .flags = SY_PKF_POSITIVE,
     .help = "largest non-streamed upstream answer held in memory; a larger one is refused "
             "with 502 and not retried (streams are not buffered)"},
    {.name = "max_response_memory", .type = SY_PK_SIZE,
     .offset = OFF(sy_server_conf, max_response_memory), .def = "256MiB",
     .flags = SY_PKF_POSITIVE,
     .help = "memory all non-streamed answers being received may hold together (whole "
             "process); a request whose answer finds it full gets 503"},
    {.name = "request_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_server_conf, request_timeout_ms), .def = "120s", .flags = SY_PKF_POSITIVE,
     .help = "deadline of a request up to its commit point (the first byte sent to the client): "
             "every attempt, backoff and fallback"},
    {.name = "stream_idle_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_server_conf, stream_idle_timeout_ms), .def = "60s", .flags = SY_PKF_POSITIVE,
     .help = "after the commit point: a stream with no upstream byte for this long is cut "
             "(SSE error event)"},
    {.name = "idle_timeout", .type = SY_PK_DURATION, .offset = OFF(sy_server_conf, idle_timeout_ms),
     .def = "60s", .flags = SY_PKF_POSITIVE,
     .help = "close a keep-alive client connection idle this long"},
    {.name = "header_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_server_conf, header_timeout_ms), .def = "10s", .flags = SY_PKF_POSITIVE,
     .help = "a client must send its request headers and body within this time"},
    {.name = "shutdown_grace", .type = SY_PK_DURATION,
     .offset = OFF(sy_server_conf, shutdown_grace_ms), .def = "30s",
     .help = "on SIGTERM, time given to requests in flight before they are cut"},
    {.name = "workers", .type = SY_PK_INT, .offset = OFF(sy_server_conf, workers), .def = "0",
     .flags = SY_PKF_RANGE, .lo = 0, .hi = 1024,
     .help = "worker threads (one event loop each); 0 = one per CPU core"},
    {.name = "access_log", .type = SY_PK_CUSTOM, .offset = OFF(sy_server_conf, access_log),
     .def = "stdout", .parse = sy_pk_parse_access_log, .type_doc = "stdout | off | file path",
     .help = "one JSON line per request; a relative path is relative to the policy's folder"},
    {.name = "http_client", .type = SY_PK_ENUM, .offset = OFF(sy_server_conf, http_client),
     .def = "builtin", .choices = http_client_choices,
     .help = "builtin: http:// upstreams given by IP address or localhost go through the "
             "router's own HTTP/1.1 client, everything else through libcurl; curl: every "
             "upstream through libcurl"},
    END,
};

/* ----------------------------------------------------------------- plugins */
static const sy_pkey pk_plugins[] = {
    {.name = "path", .type = SY_PK_LIST, .parse = sy_pk_parse_plugin_path,
     .type_doc = "list of folders (or one folder)",
     .help = "where to find sy_NAME.so plugins; relative to the policy's folder; "
             "SWITCHYARD_PLUGIN_PATH overrides it; default: the build's or install's plugin "
             "folder"},
    END,
};

/* --------------------------------------------------------------- providers */
static const sy_pkey pk_health[] = {
    {.name = "path", .type = SY_PK_CUSTOM, .offset = OFF(sy_health_check, path), .def = "/models",
     .parse = sy_pk_parse_health_path, .type_doc = "string (starts with /)",
     .help = "GET this path below the endpoint's base_url"},
    {.name = "interval", .type = SY_PK_DURATION, .offset = OFF(sy_health_check, interval_ms),
     .def = "30s", .flags = SY_PKF_POSITIVE, .help = "time between checks of one endpoint"},
    {.name = "timeout", .type = SY_PK_DURATION, .offset = OFF(sy_health_check, timeout_ms),
     .def = "5s", .flags = SY_PKF_POSITIVE, .help = "a check slower than this failed"},
    {.name = "unhealthy_after", .type = SY_PK_INT, .offset = OFF(sy_health_check, unhealthy_after),
     .def = "3", .flags = SY_PKF_RANGE, .lo = 1, .hi = 1000,
     .help = "consecutive failed checks that mark the endpoint unhealthy"},
    {.name = "healthy_after", .type = SY_PK_INT, .offset = OFF(sy_health_check, healthy_after),
     .def = "2", .flags = SY_PKF_RANGE, .lo = 1, .hi = 1000,
     .help = "consecutive good checks that mark it healthy again"},
    END,
};

const sy_pkey sy_pk_endpoint[] = {
    {.name = "name", .type = SY_PK_CUSTOM, .offset = OFF(sy_policy_endpoint, name),
     .flags = SY_PKF_REQUIRED, .parse = sy_pk_parse_name, .type_doc = "name",
     .help = "unique within the provider; used in metrics, headers and canary_endpoints"},
    {.name = "base_url", .type = SY_PK_CUSTOM, .offset = OFF(sy_policy_endpoint, base_url),
     .parse = sy_pk_parse_base_url, .type_doc = "URL",
     .help = "upstream base URL, e.g. https://api.openai.com/v1; may be left out when the "
             "plugin derives it (holysheep: region)"},
    {.name = "priority", .type = SY_PK_INT, .offset = OFF(sy_policy_endpoint, priority),
     .def = "100", .flags = SY_PKF_RANGE, .lo = 0, .hi = 1000000,
     .help = "lower is tried first (balance: priority)"},
    {.name = "connect_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_policy_endpoint, connect_timeout_ms), .flags = SY_PKF_POSITIVE,
     .help = "this endpoint's connect_timeout (overrides the provider's)"},
    {.name = "first_byte_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_policy_endpoint, first_byte_timeout_ms), .flags = SY_PKF_POSITIVE,
     .help = "this endpoint's first_byte_timeout (overrides the provider's)"},
    END,
};

const sy_pkey sy_pk_price[] = {
    {.name = "input", .type = SY_PK_NUMBER, .offset = OFF(sy_price, input_per_m),
     .flags = SY_PKF_RANGE, .lo = 0, .hi = 1e6, .help = "USD per million input tokens"},
    {.name = "output", .type = SY_PK_NUMBER, .offset = OFF(sy_price, output_per_m),
     .flags = SY_PKF_RANGE, .lo = 0, .hi = 1e6, .help = "USD per million output tokens"},
    END,
};

const sy_pkey sy_pk_provider[] = {
    {.name = "plugin", .type = SY_PK_CUSTOM, .offset = OFF(sy_policy_provider, plugin_name),
     .flags = SY_PKF_REQUIRED, .parse = sy_pk_parse_name, .type_doc = "plugin name",
     .help = "the plugin (sy_NAME.so) that speaks this provider's API; its own keys sit "
             "beside this one"},
    {.name = "endpoints", .type = SY_PK_LIST_OF_MAPS, .flags = SY_PKF_REQUIRED,
     .child = sy_pk_endpoint, .parse = sy_pk_parse_endpoints,
     .help = "the provider's endpoints (regions), at least one"},
    {.name = "balance", .type = SY_PK_ENUM, .offset = OFF(sy_policy_provider, balance),
     .def = "priority", .choices = balance_choices,
     .help = "priority: lowest priority first; latency: lowest peak-EWMA latency among healthy "
             "endpoints"},
    {.name = "health_check", .type = SY_PK_MAP, .offset = OFF(sy_policy_provider, health),
     .flags = SY_PKF_PRESENT, .present = OFF(sy_health_check, enabled), .child = pk_health,
     .help = "active health checks of every endpoint; not given: none (passive breakers only)"},
    {.name = "connect_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_policy_provider, connect_timeout_ms), .def = "10s", .flags = SY_PKF_POSITIVE,
     .help = "per attempt: time to connect (TCP and TLS); past it the attempt fails over"},
    {.name = "first_byte_timeout", .type = SY_PK_DURATION,
     .offset = OFF(sy_policy_provider, first_byte_timeout_ms),
     .help = "per attempt: time until the upstream's status line, so a hung or slow region "
             "fails over inside request_timeout; not set: only request_timeout bounds it "
             "(a non-streamed answer's status line comes when the whole answer is ready)"},
    {.name = "prices", .type = SY_PK_MAP_OF, .child = sy_pk_price,
     .parse = sy_pk_parse_provider_prices, .type_doc = "mapping: model -> price",
     .help = "this provider's prices where they differ from models.prices"},
    END,
};

/* ------------------------------------------------------------------- retry */
static const sy_pkey pk_backoff[] = {
    {.name = "base", .type = SY_PK_DURATION, .offset = OFF(sy_retry_conf, backoff_base_ms),
     .def = "500ms", .flags = SY_PKF_POSITIVE, .help = "first backoff; doubles each retry"},
    {.name = "max", .type = SY_PK_DURATION, .offset = OFF(sy_retry_conf, backoff_max_ms),
     .def = "8s", .flags = SY_PKF_POSITIVE, .help = "cap of one backoff; at least base"},
    {.name = "jitter", .type = SY_PK_ENUM, .offset = OFF(sy_retry_conf, jitter), .def = "full",
     .choices = jitter_choices,
     .help = "full: uniform 0..backoff; equal: backoff/2 + uniform 0..backoff/2; none"},
    END,
};

static const sy_pkey pk_retry_after[] = {
    {.name = "honor", .type = SY_PK_BOOL, .offset = OFF(sy_retry_conf, retry_after_honor),
     .def = "true", .help = "wait what Retry-After / retry-after-ms asks (seconds or HTTP date)"},
    {.name = "max", .type = SY_PK_DURATION, .offset = OFF(sy_retry_conf, retry_after_max_ms),
     .def = "60s", .flags = SY_PKF_POSITIVE,
     .help = "a longer Retry-After moves on to the next route instead of waiting"},
    END,
};

static const sy_pkey pk_retry_budget[] = {
    {.name = "ratio", .type = SY_PK_NUMBER, .offset = OFF(sy_retry_conf, budget_ratio),
     .def = "0.2", .flags = SY_PKF_RANGE, .lo = 0, .hi = 10,
     .help = "retries may add at most this share of the request rate"},
    {.name = "min_per_second", .type = SY_PK_NUMBER,
     .offset = OFF(sy_retry_conf, budget_min_per_second), .def = "10", .flags = SY_PKF_RANGE,
     .lo = 0, .hi = 1e6, .help = "retries always allowed per second, whatever the ratio"},
    END,
};

static const sy_pkey pk_retry[] = {
    {.name = "max_attempts", .type = SY_PK_INT, .offset = OFF(sy_retry_conf, max_attempts),
     .def = "3", .flags = SY_PKF_RANGE, .lo = 1, .hi = 100,
     .help = "tries of one route (provider, model), the first included"},
    {.name = "on", .type = SY_PK_LIST,
     .def = "[connect_error, timeout, 408, 429, 500, 502, 503, 504]",
     .parse = sy_pk_parse_retry_on, .type_doc = "list of connect_error | timeout | HTTP status",
     .help = "what is retried; HTTP statuses 400..599"},
    {.name = "backoff", .type = SY_PK_MAP, .child = pk_backoff,
     .help = "exponential backoff between tries"},
    {.name = "retry_after", .type = SY_PK_MAP, .child = pk_retry_after,
     .help = "the upstream's Retry-After header"},
    {.name = "budget", .type = SY_PK_MAP, .child = pk_retry_budget,
     .help = "a cap on the extra load retries add"},
    END,
};

/* ----------------------------------------------------------------- breaker */
static const sy_pkey pk_breaker[] = {
    {.name = "failure_threshold", .type = SY_PK_INT,
     .offset = OFF(sy_breaker_conf, failure_threshold), .def = "5", .flags = SY_PKF_RANGE,
     .lo = 1, .hi = 10000, .help = "consecutive failures that open an endpoint's breaker"},
    {.name = "success_threshold", .type = SY_PK_INT,
     .offset = OFF(sy_breaker_conf, success_threshold), .def = "2", .flags = SY_PKF_RANGE,
     .lo = 1, .hi = 10000,
     .help = "successes in half-open that close it; at most half_open_max_calls"},
    {.name = "open_for", .type = SY_PK_DURATION, .offset = OFF(sy_breaker_conf, open_for_ms),
     .def = "60s", .flags = SY_PKF_POSITIVE, .help = "time open before trying half-open"},
    {.name = "half_open_max_calls", .type = SY_PK_INT,
     .offset = OFF(sy_breaker_conf, half_open_max_calls), .def = "3", .flags = SY_PKF_RANGE,
     .lo = 1, .hi = 10000, .help = "calls let through while half-open"},
    END,
};

/* -------------------------------------------------------------- rate_limit */
static const sy_pkey pk_rate_limit[] = {
    {.name = "rps", .type = SY_PK_NUMBER, .offset = OFF(sy_rate_limit_conf, rps),
     .flags = SY_PKF_REQUIRED | SY_PKF_POSITIVE | SY_PKF_RANGE, .lo = 0, .hi = 1e9,
     .help = "requests per second the router accepts (token bucket refill)"},
    {.name = "burst", .type = SY_PK_NUMBER, .offset = OFF(sy_rate_limit_conf, burst),
     .flags = SY_PKF_RANGE, .lo = 1, .hi = 1e9, .type_doc = "number (default: rps)",
     .help = "bucket size: requests accepted at once"},
    END,
};

/* ------------------------------------------------------------------ models */
static const sy_pkey pk_models[] = {
    {.name = "fallbacks", .type = SY_PK_MAP_OF, .parse = sy_pk_parse_fallbacks,
     .type_doc = "mapping: model -> list of models",
     .help = "models tried in order when every route of the requested model failed; no cycles"},
    {.name = "prices", .type = SY_PK_MAP_OF, .child = sy_pk_price, .parse = sy_pk_parse_prices,
     .type_doc = "mapping: model -> price",
     .help = "USD per million tokens, for cost metrics and the budget"},
    END,
};

/* --------------------------------------------------------------- migration */
static const sy_pkey pk_rollout[] = {
    {.name = "id", .type = SY_PK_STRING, .offset = OFF(sy_migration_conf, rollout_id),
     .help = "salt of the sticky hash; default \"<stable>-><canary>\"; changing it reshuffles "
             "users"},
    {.name = "percent", .type = SY_PK_PERCENT, .offset = OFF(sy_migration_conf, percent),
     .type_doc = "percentage (default: first step, else 0)",
     .help = "share of users (sticky keys) sent to the canary"},
    {.name = "sticky_by", .type = SY_PK_LIST, .def = "[header:x-user-id, body:user]",
     .parse = sy_pk_parse_sticky, .type_doc = "list of header:NAME | body:KEY",
     .help = "the first one present is hashed; none present: stable"},
    {.name = "canary_endpoints", .type = SY_PK_LIST, .parse = sy_pk_parse_canary_endpoints,
     .type_doc = "list of endpoint names",
     .help = "gray traffic only to these endpoints of the canary; default: all"},
    {.name = "steps", .type = SY_PK_LIST, .parse = sy_pk_parse_steps,
     .type_doc = "list of percentages, ascending",
     .help = "progressive promotion: one step up after step_after and a whole window at a "
             "step whose last window met the thresholds on at least min_requests attempts"},
    {.name = "step_after", .type = SY_PK_DURATION, .offset = OFF(sy_migration_conf, step_after_ms),
     .flags = SY_PKF_POSITIVE, .help = "the least time at one step before the next"},
    END,
};

static const sy_pkey pk_rollback[] = {
    {.name = "success_rate_below", .type = SY_PK_PERCENT,
     .offset = OFF(sy_rollback_conf, success_rate_below),
     .help = "roll back when the canary's success rate in the window is below this with 99.9% "
             "confidence (docs/rollout.md)"},
    {.name = "p95_above", .type = SY_PK_DURATION, .offset = OFF(sy_rollback_conf, p95_above_ms),
     .flags = SY_PKF_POSITIVE,
     .help = "roll back when the canary's P95 latency is above this with 99.9% confidence "
             "(docs/rollout.md)"},
    {.name = "latency", .type = SY_PK_ENUM, .offset = OFF(sy_rollback_conf, latency),
     .def = "ttfb", .choices = latency_choices,
     .help = "ttfb: time to first byte (first token for streams); total: whole answer"},
    {.name = "window", .type = SY_PK_DURATION, .offset = OFF(sy_rollback_conf, window_ms),
     .def = "5m", .flags = SY_PKF_POSITIVE,
     .help = "sliding window of both arms' attempts; also the least time at a step"},
    {.name = "min_requests", .type = SY_PK_INT, .offset = OFF(sy_rollback_conf, min_requests),
     .def = "200", .flags = SY_PKF_RANGE, .lo = 1, .hi = 1e9,
     .help = "no rollback or promotion on fewer canary attempts than this in the window"},
    {.name = "state_file", .type = SY_PK_PATH, .offset = OFF(sy_rollback_conf, state_file),
     .help = "remembers a rollback or promotion, and the month's budget spend, across "
             "restarts; relative to the policy's folder"},
    END,
};

static const sy_pkey pk_migration[] = {
    {.name = "stable", .type = SY_PK_CUSTOM, .parse = sy_pk_parse_provider_ref,
     .type_doc = "provider name",
     .help = "the provider serving traffic; may be left out when there is one provider"},
    {.name = "canary", .type = SY_PK_CUSTOM, .parse = sy_pk_parse_provider_ref,
     .type_doc = "provider name", .help = "the provider being rolled out; none: all stable"},
    {.name = "rollout", .type = SY_PK_MAP, .child = pk_rollout,
     .help = "which users go to the canary"},
    {.name = "fallback_to_stable", .type = SY_PK_BOOL,
     .offset = OFF(sy_migration_conf, fallback_to_stable), .def = "true",
     .help = "a canary request that failed on the canary is tried on stable"},
    {.name = "rollback", .type = SY_PK_MAP, .offset = OFF(sy_migration_conf, rollback),
     .flags = SY_PKF_PRESENT, .present = OFF(sy_rollback_conf, enabled), .child = pk_rollback,
     .help = "automatic rollback thresholds; not given: no automatic rollback"},
    END,
};

/* ------------------------------------------------------------------ budget */
static const sy_pkey pk_budget[] = {
    {.name = "monthly_usd", .type = SY_PK_NUMBER, .offset = OFF(sy_budget_conf, monthly_usd),
     .flags = SY_PKF_REQUIRED | SY_PKF_POSITIVE | SY_PKF_RANGE, .lo = 0, .hi = 1e12,
     .help = "spend per calendar month (UTC): each request's usage priced by "
             "providers.*.prices, else models.prices; kept in migration.rollback.state_file"},
    {.name = "on_exceed", .type = SY_PK_ENUM, .offset = OFF(sy_budget_conf, on_exceed),
     .def = "alert", .choices = on_exceed_choices,
     .help = "alert: log at 80% and 100%, gauges for alert rules; reject: also answer new "
             "requests 429 insufficient_quota once the month is spent, until it ends"},
    END,
};

/* --------------------------------------------------------------- responses */
static const sy_pkey pk_responses[] = {
    {.name = "map_size", .type = SY_PK_INT, .offset = OFF(sy_responses_conf, map_size),
     .def = "100000", .flags = SY_PKF_RANGE, .lo = 1, .hi = 50000000,
     .help = "stored responses whose provider and endpoint the router remembers, so "
             "previous_response_id and /v1/responses/{id} go back there; the oldest are "
             "forgotten first (about 200 bytes each)"},
    {.name = "map_ttl", .type = SY_PK_DURATION, .offset = OFF(sy_responses_conf, map_ttl_ms),
     .def = "720h", .flags = SY_PKF_POSITIVE,
     .help = "how long an id is remembered (OpenAI keeps stored responses 30 days)"},
    END,
};

/* ------------------------------------------------------------ shared_state */
static const sy_pkey pk_shared_state[] = {
    {.name = "url", .type = SY_PK_CUSTOM, .flags = SY_PKF_REQUIRED,
     .parse = sy_pk_parse_shared_url, .type_doc = "secret: redis://[[user]:password@]host[:port][/db]",
     .help = "the Redis every instance shares; usually ${VAR}; the password is never printed; "
             "rediss:// for TLS (the server's certificate is verified)"},
    {.name = "prefix", .type = SY_PK_STRING, .offset = OFF(sy_shared_state_conf, prefix),
     .def = "switchyard:",
     .help = "start of every key switchyard writes, so fleets can share one Redis"},
    {.name = "timeout", .type = SY_PK_DURATION, .offset = OFF(sy_shared_state_conf, timeout_ms),
     .def = "200ms", .flags = SY_PKF_POSITIVE,
     .help = "a command (or a connection) not answered in this time counts as Redis away: "
             "reconnect with backoff, serve on the last state known"},
    END,
};

/* -------------------------------------------------------------------- root */
const sy_pkey sy_pk_root[] = {
    {.name = "version", .type = SY_PK_CUSTOM, .flags = SY_PKF_REQUIRED,
     .parse = sy_pk_parse_version, .type_doc = "integer: 1",
     .help = "policy format version; must be 1"},
    {.name = "server", .type = SY_PK_MAP, .offset = OFF(sy_policy, server), .child = pk_server,
     .help = "the HTTP front"},
    {.name = "plugins", .type = SY_PK_MAP, .flags = SY_PKF_EARLY, .child = pk_plugins,
     .help = "plugin search path"},
    {.name = "providers", .type = SY_PK_MAP_OF, .flags = SY_PKF_REQUIRED,
     .child = sy_pk_provider, .parse = sy_pk_parse_providers,
     .type_doc = "mapping: provider name -> provider",
     .help = "upstream providers, each served by one plugin"},
    {.name = "retry", .type = SY_PK_MAP, .offset = OFF(sy_policy, retry), .child = pk_retry,
     .help = "one retry layer for every provider"},
    {.name = "breaker", .type = SY_PK_MAP, .offset = OFF(sy_policy, breaker), .child = pk_breaker,
     .help = "one circuit breaker per endpoint"},
    {.name = "rate_limit", .type = SY_PK_MAP, .offset = OFF(sy_policy, rate_limit),
     .flags = SY_PKF_PRESENT, .present = OFF(sy_rate_limit_conf, enabled),
     .child = pk_rate_limit, .help = "local rate limit of the whole router; not given: none"},
    {.name = "models", .type = SY_PK_MAP, .child = pk_models,
     .help = "fallback chains and prices"},
    {.name = "migration", .type = SY_PK_MAP, .offset = OFF(sy_policy, migration),
     .child = pk_migration, .help = "stable and canary providers, rollout and rollback"},
    {.name = "budget", .type = SY_PK_MAP, .offset = OFF(sy_policy, budget),
     .flags = SY_PKF_PRESENT, .present = OFF(sy_budget_conf, enabled), .child = pk_budget,
     .help = "monthly spend limit; not given: none"},
    {.name = "responses", .type = SY_PK_MAP, .offset = OFF(sy_policy, responses),
     .child = pk_responses,
     .help = "the Responses API: where each stored response lives"},
    {.name = "shared_state", .type = SY_PK_MAP, .offset = OFF(sy_policy, shared_state),
     .flags = SY_PKF_PRESENT, .present = OFF(sy_shared_state_conf, enabled),
     .child = pk_shared_state,
     .help = "several instances share one rollout, rate limit and budget through Redis "
             "(docs/several-instances.md); not given: each instance on its own"},
    END,
};

/* ------------------------------------------------------------ key listing */

static void walk(const sy_pkey *table, const char *prefix, sy_pk_path_fn fn, void *ctx)
{
    char path[256];
    for (const sy_pkey *k = table; k->name; k++) {
        if (*prefix)
            snprintf(path, sizeof path, "%s.%s", prefix, k->name);
        else
            snprintf(path, sizeof path, "%s", k->name);
        fn(ctx, path, k);
        if (!k->child) continue;
        char sub[300];
        if (k->type == SY_PK_MAP_OF)
            snprintf(sub, sizeof sub, "%s.*", path);
        else if (k->type == SY_PK_LIST_OF_MAPS)
            snprintf(sub, sizeof sub, "%s[]", path);
        else
            snprintf(sub, sizeof sub, "%s", path);
        walk(k->child, sub, fn, ctx);
    }
}

void sy_policy_walk_keys(sy_pk_path_fn fn, void *ctx)
{
    walk(sy_pk_root, "", fn, ctx);
}

const char *sy_pk_type_name(const sy_pkey *k)
{
    if (k->type_doc) return k->type_doc;
    switch (k->type) {
    case SY_PK_MAP: return "mapping";
    case SY_PK_MAP_OF: return "mapping";
    case SY_PK_LIST_OF_MAPS: return "list of mappings";
    case SY_PK_LIST: return "list";
    case SY_PK_STRING: return "string";
    case SY_PK_SECRET: return "secret";
    case SY_PK_URL: return "URL";
    case SY_PK_PATH: return "file path";
    case SY_PK_INT: return "integer";
    case SY_PK_NUMBER: return "number";
    case SY_PK_BOOL: return "boolean";
    case SY_PK_DURATION: return "duration";
    case SY_PK_SIZE: return "size";
    case SY_PK_PERCENT: return "percentage";
    case SY_PK_ENUM: return "one of";
    case SY_PK_CUSTOM: return "value";
    }
    return "value";
}
