/* responses.c - stored responses on the request path (see responses.h). */
#include "responses.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "proxy.h"
#include "runtime.h"

#define MAX_UPSTREAM_PATH 1024

void sy_responses_pin(sy_router *r, const char *id, sy_response_home *home, sy_engine_request *er)
{
    sy_response_map *m = sy_router_responses(r);
    if (m && sy_response_map_get(m, id, strlen(id), sy_wall_s() * 1000, home) == 0) {
        er->pin_id = id;
        er->pin_provider = home->provider;
        er->pin_endpoint = home->endpoint;
    } else {
        er->stable_only = 1;
    }
}

/* The query as the client sent it ("?limit=5"), or "": printable ASCII
 * only, so it can be put into an upstream URL as it is. -1 when not. */
static int query_of(const sy_http_req *req, const char **q, size_t *len)
{
    const char *end = req->target + req->target_len;
    const char *p = req->path + req->path_len;
    *q = "";
    *len = 0;
    if (p < req->target || p >= end || *p != '?') return 0;
    for (const char *i = p; i < end; i++)
        if ((unsigned char)*i <= 0x20 || (unsigned char)*i >= 0x7f || *i == '#') return -1;
    *q = p;
    *len = (size_t)(end - p);
    return 0;
}

static int has_stream_true(const char *q, size_t n)
{
    static const char k[] = "stream=true";
    for (size_t i = 0; i + sizeof k - 1 <= n; i++)
        if ((q[i] == '?' || q[i] == '&') && !memcmp(q + i + 1, k, sizeof k - 1) &&
            (i + sizeof k == n || q[i + sizeof k] == '&'))
            return 1;
    return 0;
}

int sy_responses_start_item(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                            size_t body_len, const char *request_id)
{
    char hdr[96];
    snprintf(hdr, sizeof hdr, "x-request-id: %s\r\n", request_id);
    /* "/v1/responses/ID[/sub]" or "/responses/ID[/sub]". */
    const char *rest = req->path;
    size_t n = req->path_len;
    if (n >= 3 && !memcmp(rest, "/v1", 3)) rest += 3, n -= 3;
    rest += 11, n -= 11; /* "/responses/" */
    size_t id_len = 0;
    while (id_len < n && rest[id_len] != '/') id_len++;
    const char *sub = rest + id_len;
    size_t sub_len = n - id_len;
    const char *q;
    size_t q_len;
    int input_items = sub_len == 12 && !memcmp(sub, "/input_items", 12);
    int cancel = sub_len == 7 && !memcmp(sub, "/cancel", 7);
    if (!sy_response_id_valid(rest, id_len) || (sub_len && !input_items && !cancel)) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 404, "invalid_request_error", "not_found", hdr,
                              "no such path: %.*s (a response is /v1/responses/{id}, "
                              "/v1/responses/{id}/input_items or /v1/responses/{id}/cancel)",
                              (int)(req->path_len > 200 ? 200 : req->path_len), req->path);
        return 0;
    }
    const char *method = req->method == SY_HTTP_GET || req->method == SY_HTTP_HEAD ? "GET"
                         : req->method == SY_HTTP_DELETE ? "DELETE"
                         : req->method == SY_HTTP_POST ? "POST" : NULL;
    const char *allow = cancel ? "POST" : input_items ? "GET" : "GET, DELETE";
    if (!method || !strstr(allow, method) || req->method == SY_HTTP_HEAD) {
        char h[160];
        snprintf(h, sizeof h, "%sAllow: %s\r\n", hdr, allow);
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 405, "invalid_request_error", "method_not_allowed", h,
                              "method not allowed here; use %s", allow);
        return 0;
    }
    if (query_of(req, &q, &q_len) != 0 || n + q_len > MAX_UPSTREAM_PATH) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_query", hdr,
                              "the query string must be at most %d bytes of printable ASCII",
                              MAX_UPSTREAM_PATH);
        return 0;
    }
    char upstream_path[MAX_UPSTREAM_PATH + 16];
    snprintf(upstream_path, sizeof upstream_path, "%.*s%.*s", (int)(n + 11), rest - 11, (int)q_len, q);
    char id[SY_RESPONSE_ID_MAX + 1];
    memcpy(id, rest, id_len);
    id[id_len] = '\0';

    sy_engine_request r = {
        .policy = pol, .op = SY_OP_RESPONSE_ITEM, .method = method,
        .path = cancel ? "/v1/responses/{id}/cancel"
                : input_items ? "/v1/responses/{id}/input_items" : "/v1/responses/{id}",
        .body = method[0] == 'P' ? body : "", .body_len = method[0] == 'P' ? body_len : 0,
        .model = "", .stream = has_stream_true(q, q_len), .request_id = request_id,
        .start_ns = sy_conn_request_start(c), .upstream_path = upstream_path,
    };
    sy_response_home home;
    sy_responses_pin(sy_gateway_env(c)->router, id, &home, &r);
    if (r.pin_id) r.model = home.model;
    return sy_proxy_run(c, &r);
}
