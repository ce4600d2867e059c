/* proxy.c - a request's way into the engine (see proxy.h): check the JSON
 * body, pick out what routing reads, and start the engine on the
 * connection's sink. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "events.h"
#include "gateway.h"
#include "json_scan.h"
#include "planner.h"
#include "responses.h"
#include "rng.h"
#include "runtime.h"
#include "strbuf.h"
#include "utf8.h"

#define MAX_BODY_STICKY 8

/* The sticky key is read whole, however long, from a header or a body
 * string: explain reads it the same way, so both name the same arm. */
typedef struct sticky_ctx {
    const sy_http_req *req;
    sy_json_field *fields; /* model, stream, then the body sticky sources */
    size_t n_fields;
    char small[256];
    char *big;             /* a value longer than small (freed by the caller) */
} sticky_ctx;

static char *sticky_buf(sticky_ctx *sc, size_t need)
{
    if (need <= sizeof sc->small) return sc->small;
    free(sc->big);
    sc->big = malloc(need);
    return sc->big;
}

static const char *sticky_header(void *ctx, const char *name)
{
    sticky_ctx *sc = ctx;
    const sy_http_header *h = sy_http_find_header(sc->req, name);
    if (!h || h->value_len == 0) return NULL;
    char *buf = sticky_buf(sc, h->value_len + 1);
    if (!buf) return NULL;
    memcpy(buf, h->value, h->value_len);
    buf[h->value_len] = '\0';
    return buf;
}

/* A top-level string of the body, decoded into buf; NULL when absent or empty. */
static const char *field_string(const sy_json_field *f, char *buf, size_t cap)
{
    if (f->type != SY_JSON_STRING || f->len == 0 || !buf) return NULL;
    if (f->escaped) return sy_json_unescape(f->val, f->len, buf, cap) > 0 ? buf : NULL;
    if (f->len >= cap) return NULL;
    memcpy(buf, f->val, f->len);
    buf[f->len] = '\0';
    return buf;
}

static const char *sticky_body(void *ctx, const char *key)
{
    sticky_ctx *sc = ctx;
    for (size_t i = 2; i < sc->n_fields; i++) {
        if (strcmp(sc->fields[i].name, key)) continue;
        /* Unescaping never makes a string longer. */
        size_t need = sc->fields[i].len + 1;
        return field_string(&sc->fields[i], sticky_buf(sc, need), need);
    }
    return NULL;
}

void sy_request_id_make(const sy_http_req *req, char *out, size_t cap)
{
    const sy_http_header *h = sy_http_find_header(req, "x-request-id");
    if (h && h->value_len > 0 && h->value_len < cap && h->value_len <= 64) {
        size_t i;
        for (i = 0; i < h->value_len; i++) {
            char ch = h->value[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.'))
                break;
        }
        if (i == h->value_len) {
            memcpy(out, h->value, h->value_len);
            out[h->value_len] = '\0';
            return;
        }
    }
    sy_strbuf sb = sy_sb(out, cap); /* by hand, not snprintf: on every request */
    sy_sb_hex64(&sb, sy_rng_u64());
    sy_sb_hex64(&sb, sy_rng_u64());
}

void sy_request_id_header(const char *request_id, char *out, size_t cap)
{
    sy_strbuf sb = sy_sb(out, cap);
    SY_SB_LIT(&sb, "x-request-id: ");
    sy_sb_str(&sb, request_id);
    SY_SB_LIT(&sb, "\r\n");
}

/* Where a field the scan found is in body (sy_engine_request's spans). */
static sy_body_span body_span(const char *body, const sy_json_field *f)
{
    const char *at;
    size_t len = sy_json_field_raw(f, &at);
    return len ? (sy_body_span){(size_t)(at - body), len} : (sy_body_span){0, 0};
}

/* The engine's hooks on the connection. */
static void on_abort(void *ctx) { sy_engine_abort(ctx, SY_ABORT_CLIENT_GONE); }
static void on_shutdown(void *ctx) { sy_engine_abort(ctx, SY_ABORT_SHUTDOWN); }
static void on_drained(void *ctx) { sy_engine_drained(ctx); }

int sy_proxy_run(sy_conn *c, const sy_engine_request *r)
{
    sy_exec *x = sy_engine_new(sy_gateway_env(c), r, sy_conn_sink(c));
    if (!x) return 1; /* answered at once, and reported */
    sy_conn_set_pending(c, on_abort, on_drained, x);
    sy_conn_set_shutdown(c, on_shutdown);
    sy_engine_run(x);
    return 1;
}

/* previous_response_id: the stored response this request continues. Where
 * it lives decides where the request goes (sy_responses_pin). Returns 0 to
 * go on, or -1 when it was refused (answered). */
static int read_previous(sy_conn *c, const sy_json_field *f, const char *hdr, char *id, size_t cap)
{
    id[0] = '\0';
    if (f->type == SY_JSON_ABSENT || f->type == SY_JSON_NULL) return 0;
    if (f->type != SY_JSON_STRING || f->escaped || !sy_response_id_valid(f->val, f->len) ||
        f->len >= cap) {
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_previous_response_id", hdr,
                              "\"previous_response_id\" must be a response id: 1 to %d characters "
                              "of A-Z a-z 0-9 _ -", SY_RESPONSE_ID_MAX);
        return -1;
    }
    memcpy(id, f->val, f->len);
    id[f->len] = '\0';
    return 0;
}

int sy_proxy_start(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                   size_t body_len, sy_op op, const char *request_id)
{
    char hdr[96];
    sy_request_id_header(request_id, hdr, sizeof hdr);

    /* Validate the body and pick out what routing needs, without a tree. */
    sy_json_field fields[3 + MAX_BODY_STICKY] = {{.name = "model"}, {.name = "stream"}};
    size_t nf = 2;
    for (size_t i = 0; i < pol->migration.n_sticky && nf < 2 + MAX_BODY_STICKY; i++)
        if (pol->migration.sticky[i].kind == SY_STICKY_BODY)
            fields[nf++].name = pol->migration.sticky[i].name;
    size_t n_sticky_fields = nf;
    if (op == SY_OP_RESPONSES) fields[nf++].name = "previous_response_id";
    /* Where the members a plugin edits are (ABI 1.5 spans): noted, not
     * refused when repeated (the plugin then finds and edits each itself). */
    sy_json_field edited[1] = {{.name = "stream_options"}};
    unsigned edited_count[1];
    const char *why = NULL;
    size_t which = 0;
    int scanned = sy_json_scan_request_noting(body, body_len, fields, nf, edited, edited_count, 1,
                                              &why, &which);
    if (scanned == -1) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_json", hdr,
                              "the request body is not valid JSON: %s", why);
        return 0;
    }
    if (scanned != 0) {
        /* Routed by one reading, served by another upstream's: refuse. */
        sy_conn_respond_error(c, 400, "invalid_request_error", "ambiguous_json", hdr,
                              "the request body is ambiguous: the key \"%s\" %s",
                              fields[which].name, why);
        sy_policy_unref(pol);
        return 0;
    }
    char model[257];
    const char *m = field_string(&fields[0], model, sizeof model);
    for (const unsigned char *q = (const unsigned char *)m; q && *q; q++)
        if (*q < 0x20 || *q == 0x7f) m = NULL; /* it ends up in a response header */
    if (!m) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_model", hdr,
                              "the request needs a \"model\" string (at most 256 characters)");
        return 0;
    }
    /* JSON text is UTF-8: a model name that is not would reach the upstream,
     * the logs and the answer's headers as bytes no one can read. */
    for (size_t i = 0, n = strlen(m), l; i < n; i += l) {
        if ((l = sy_utf8_len((const unsigned char *)m + i, n - i)) == 0) {
            sy_policy_unref(pol);
            sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_model", hdr,
                                  "the \"model\" string is not valid UTF-8");
            return 0;
        }
    }

    char prev[SY_RESPONSE_ID_MAX + 1] = "";
    if (op == SY_OP_RESPONSES && read_previous(c, &fields[n_sticky_fields], hdr, prev, sizeof prev)) {
        sy_policy_unref(pol);
        return 0;
    }

    sticky_ctx sc = {.req = req, .fields = fields, .n_fields = n_sticky_fields};
    const char *source = NULL;
    const char *key = sy_sticky_pick(pol, sticky_header, sticky_body, &sc, &source);
    sy_engine_request r = {
        .policy = pol, .op = op, .method = "POST", .path = sy_op_path(op), .body = body,
        .body_len = body_len, .model = model,
        .stream = fields[1].type == SY_JSON_TRUE && op != SY_OP_EMBEDDINGS,
        .sticky_key = key, .sticky_key_len = key ? strlen(key) : 0, .sticky_source = source,
        .percent = sy_runtime_percent(), .request_id = request_id,
        .start_ns = sy_conn_request_start(c),
        .body_checked = 1, /* sy_json_scan_request_noting above */
        /* "model" is a routing field: a repeat was refused above. */
        .body_spans_known = edited_count[0] <= 1,
        .model_span = body_span(body, &fields[0]),
        .stream_options_span = body_span(body, &edited[0]),
    };
    sy_response_home home;
    if (prev[0]) sy_responses_pin(sy_gateway_env(c)->router, prev, &home, &r);
    int rc = sy_proxy_run(c, &r);
    free(sc.big);
    return rc;
}

void sy_proxy_report_local(sy_conn *c, const sy_http_req *req, const char *request_id,
                           const char *model)
{
    char method[16], path[256];
    size_t ml = req->method_len < sizeof method - 1 ? req->method_len : sizeof method - 1;
    size_t pl = req->path_len < sizeof path - 1 ? req->path_len : sizeof path - 1;
    memcpy(method, req->method_str, ml);
    method[ml] = '\0';
    memcpy(path, req->path, pl);
    path[pl] = '\0';
    sy_request_event e = {
        .request_id = request_id, .method = method, .path = path, .arm = "", .provider = "",
        .endpoint = "", .model_asked = model ? model : "", .model_served = "",
        .status = sy_conn_status(c), .start_ns = sy_conn_request_start(c),
        .ttfb_ns = sy_conn_first_byte(c), .end_ns = sy_now_ns(), .input_tokens = -1,
        .output_tokens = -1, .cost_usd = -1,
    };
    sy_router_emit_request(sy_gateway_env(c)->router, &e);
}
