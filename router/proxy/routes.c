/* routes.c - the HTTP surface: which path goes where, and client auth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

#include "admin.h"
#include "budget.h"
#include "clock.h"
#include "conn.h"
#include "gateway.h"
#include "metrics.h"
#include "proxy.h"
#include "ratelimit.h"
#include "responses.h"
#include "runtime.h"
#include "server.h"

static int path_is(const sy_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}

static int path_under(const sy_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len > n && memcmp(r->path, p, n) == 0;
}

/* Constant-time comparison: time depends only on the expected key's length. */
static int ct_equal(const char *given, size_t glen, const char *expected)
{
    size_t elen = strlen(expected);
    unsigned char diff = (unsigned char)(glen != elen);
    for (size_t i = 0; i < elen; i++) {
        unsigned char g = i < glen ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
    }
    return diff == 0;
}

/* The bearer token of the request, or NULL. */
static const char *bearer(const sy_http_req *req, size_t *len)
{
    const sy_http_header *h = sy_http_find_header(req, "authorization");
    if (!h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0) return NULL;
    const char *v = h->value + 7;
    size_t n = h->value_len - 7;
    while (n && *v == ' ') v++, n--;
    *len = n;
    return v;
}

/* Is the client allowed? Every key is compared, match or not. */
static int client_allowed(const sy_policy *p, const sy_http_req *req)
{
    if (p->server.n_client_keys == 0) return 1;
    size_t n = 0;
    const char *tok = bearer(req, &n);
    if (!tok) return 0;
    int ok = 0;
    for (size_t i = 0; i < p->server.n_client_keys; i++)
        ok |= ct_equal(tok, n, p->server.client_keys[i]);
    return ok;
}

int sy_admin_allowed(const sy_policy *p, const sy_http_req *req)
{
    if (!p->server.admin_key || !p->server.admin_key[0]) return 0;
    size_t n = 0;
    const char *tok = bearer(req, &n);
    return tok && ct_equal(tok, n, p->server.admin_key);
}

static void respond_models(sy_conn *c, const sy_policy *p)
{
    size_t cap = 64 + p->n_models * 320, n = 0;
    char *b = malloc(cap);
    if (!b) {
        sy_conn_respond_error(c, 503, "service_unavailable", "out_of_memory", NULL, "out of memory");
        return;
    }
    n += (size_t)snprintf(b + n, cap - n, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < p->n_models; i++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"id\":\"%.256s\",\"object\":\"model\",\"created\":0,\"owned_by\":\"switchyard\"}",
                              i ? "," : "", p->models[i]);
    n += (size_t)snprintf(b + n, cap - n, "]}\n");
    sy_conn_respond(c, 200, "application/json", NULL, b, n);
    free(b);
}

static void method_not_allowed(sy_conn *c, const char *allow)
{
    char h[64];
    snprintf(h, sizeof h, "Allow: %s\r\n", allow);
    sy_conn_respond_error(c, 405, "invalid_request_error", "method_not_allowed", h,
                          "method not allowed here; use %s", allow);
}

/* Answer a request the router handles itself, and report it. */
static void route_local(sy_gateway *g, sy_conn *c, const sy_http_req *req, sy_policy *p, const char *rid_hdr,
                        int models, int admin_status, int admin_rollout, sy_op op,
                        int over_budget, int64_t wait_ms, char *body, size_t body_len)
{
    if (admin_status || admin_rollout) {
        if (!sy_admin_allowed(p, req)) {
            char h[192];
            snprintf(h, sizeof h, "%sWWW-Authenticate: Bearer\r\n", rid_hdr);
            sy_conn_respond_error(c, 401, "invalid_request_error", "invalid_admin_key", h,
                                  p->server.admin_key ? "the admin endpoints need the admin key"
                                                      : "admin endpoints are off: the policy sets no server.admin_key");
        } else if (admin_status) {
            sy_admin_status(c, p, g->router);
        } else {
            sy_admin_rollout(c, p, g->router, body, body_len);
        }
        return;
    }
    if (!client_allowed(p, req)) {
        char h[192];
        snprintf(h, sizeof h, "%sWWW-Authenticate: Bearer\r\n", rid_hdr);
        sy_conn_respond_error(c, 401, "invalid_request_error", "invalid_api_key", h,
                              "missing or wrong API key: send Authorization: Bearer <client key>");
        return;
    }
    if (op && over_budget) {
        /* budget.on_exceed: reject. Nothing goes upstream; SDKs read
         * x-should-retry: false and do not retry a refusal that lasts the month. */
        char h[192], msg[400];
        snprintf(h, sizeof h, "%sx-should-retry: false\r\n", rid_hdr);
        sy_budget_refusal(g->budget, msg, sizeof msg);
        sy_conn_respond_error(c, 429, "insufficient_quota", "insufficient_quota", h, "%s", msg);
        return;
    }
    if (op) {
        char h[192];
        snprintf(h, sizeof h, "%sRetry-After: %lld\r\n", rid_hdr, (long long)((wait_ms + 999) / 1000));
        sy_metrics_inc_rate_limited();
        sy_conn_respond_error(c, 429, "rate_limit_exceeded", "rate_limited", h,
                              "switchyard's local rate limit (rate_limit.rps) is exceeded; retry later");
        return;
    }
    if (models) respond_models(c, p);
}

/* Ready to take traffic: some endpoint of the stable provider is usable
 * (healthy, breaker not open). A cooldown after a 429 does not count: it is
 * short, and every instance would leave the load balancer at once. */
static int stable_usable(sy_router *r, const sy_policy *p)
{
    const sy_policy_provider *prov = &p->providers[p->migration.stable];
    uint64_t now = sy_now_ns();
    for (size_t i = 0; i < prov->n_endpoints; i++) {
        sy_endpoint_state *st = sy_router_endpoint(r, prov, &prov->endpoints[i]);
        if (!st) return 1; /* not bound yet: nothing known against it */
        pthread_mutex_lock(&st->mu);
        int ok = st->healthy &&
                 (st->breaker.state != SY_BREAKER_OPEN || now >= st->breaker.open_until);
        pthread_mutex_unlock(&st->mu);
        if (ok) return 1;
    }
    return 0;
}

void sy_route_request(void *ctx, sy_conn *c, const sy_http_req *req, char *body, size_t body_len)
{
    sy_gateway *g = ctx;
    int get = req->method == SY_HTTP_GET || req->method == SY_HTTP_HEAD;
    int post = req->method == SY_HTTP_POST;

    /* Probes and scrapes: answered at once, not logged. */
    if (path_is(req, "/healthz")) {
        if (!get) return method_not_allowed(c, "GET");
        sy_conn_respond(c, 200, "application/json", NULL, "{\"status\":\"ok\"}\n", 16);
        return;
    }
    if (path_is(req, "/metrics")) {
        if (!get) return method_not_allowed(c, "GET");
        size_t len = 0;
        char *text = sy_metrics_render(&len);
        sy_conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text ? text : "", len);
        free(text);
        return;
    }
    if (path_is(req, "/readyz")) {
        if (!get) return method_not_allowed(c, "GET");
        sy_policy *p = sy_gateway_policy(c);
        const char *why = sy_server_draining() ? "shutting down"
                          : !p || p->n_providers == 0 ? "no policy loaded"
                          : !stable_usable(g->router, p)
                              ? "no endpoint of the stable provider is usable (breakers open or "
                                "health checks failing)"
                              : NULL;
        if (!why)
            sy_conn_respond(c, 200, "application/json", NULL, "{\"status\":\"ready\"}\n", 19);
        else
            sy_conn_respond_error(c, 503, "service_unavailable", "not_ready", NULL, "%s", why);
        if (p) sy_policy_unref(p);
        return;
    }

    /* Everything else has a request id and an access-log line. */
    char rid[48], rid_hdr[80];
    sy_request_id_make(req, rid, sizeof rid);
    sy_request_id_header(rid, rid_hdr, sizeof rid_hdr);

    sy_op op = 0;
    if (path_is(req, "/v1/chat/completions") || path_is(req, "/chat/completions")) op = SY_OP_CHAT;
    else if (path_is(req, "/v1/completions") || path_is(req, "/completions")) op = SY_OP_COMPLETIONS;
    else if (path_is(req, "/v1/embeddings") || path_is(req, "/embeddings")) op = SY_OP_EMBEDDINGS;
    else if (path_is(req, "/v1/responses") || path_is(req, "/responses")) op = SY_OP_RESPONSES;
    else if (path_under(req, "/v1/responses/") || path_under(req, "/responses/"))
        op = SY_OP_RESPONSE_ITEM; /* its methods depend on the path: responses.c checks them */
    int models = path_is(req, "/v1/models") || path_is(req, "/models");
    int admin_status = path_is(req, "/admin/status");
    int admin_rollout = path_is(req, "/admin/rollout");
    sy_policy *p = NULL;
    int64_t wait_ms = 0;
    int over_budget = 0;
    if (!op && !models && !admin_status && !admin_rollout) {
        sy_conn_respond_error(c, 404, "invalid_request_error", "not_found", rid_hdr,
                              "no such path: %.*s", (int)(req->path_len > 200 ? 200 : req->path_len),
                              req->path);
    } else if (op && op != SY_OP_RESPONSE_ITEM && !post) {
        method_not_allowed(c, "POST");
    } else if ((models || admin_status) && !get) {
        method_not_allowed(c, "GET");
    } else if (admin_rollout && !post) {
        method_not_allowed(c, "POST");
    } else if (!(p = sy_gateway_policy(c))) {
        sy_conn_respond_error(c, 503, "service_unavailable", "not_ready", rid_hdr, "no policy loaded");
    } else if (op && client_allowed(p, req) && !(over_budget = sy_budget_refuses(g->budget)) &&
               (wait_ms = sy_router_rate_limit(g->router, &p->rate_limit, sy_now_ns())) == 0) {
        /* Both take the reference. */
        if (op == SY_OP_RESPONSE_ITEM ? sy_responses_start_item(c, p, req, body, body_len, rid)
                                      : sy_proxy_start(c, p, req, body, body_len, op, rid))
            return;
        p = NULL;
    } else {
        route_local(g, c, req, p, rid_hdr, models, admin_status, admin_rollout, op, over_budget,
                    wait_ms, body, body_len);
    }
    if (p) sy_policy_unref(p);
    sy_proxy_report_local(c, req, rid, NULL);
}
