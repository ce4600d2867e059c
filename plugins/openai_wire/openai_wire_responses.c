/*
 * openai_wire_responses.c - the OpenAI Responses API part of the wire code
 * (plugin ABI 1.3; see openai_wire.h): requests on one stored response,
 * reading a created response's id and usage, and the typed stream events.
 */
#include <stdio.h>
#include <string.h>

#include "openai_wire_int.h"

/* ------------------------------------------------ one stored response */

/* The method as a static string, for sy_http_request.method. */
static const char *item_method(const char *m)
{
    static const char *const known[] = {"GET", "DELETE", "POST"};
    for (size_t i = 0; m && i < sizeof known / sizeof *known; i++)
        if (!strcmp(m, known[i])) return known[i];
    return NULL;
}

/* The host checked the path already; this only refuses what must never
 * reach a request line whatever the host did: a path outside /responses/,
 * a control character, a space, or "..". */
static int item_path_ok(const char *p)
{
    if (!p || strncmp(p, "/responses/", 11) != 0 || !p[11] || strstr(p, "..")) return 0;
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        if (*c <= ' ' || *c >= 0x7f) return 0;
    return 1;
}

int sy_ow_build_item_request(const sy_openai_wire *w, const sy_endpoint *ep,
                             const sy_request *req, sy_http_request *out, char *err,
                             size_t errlen)
{
    const char *method = item_method(req->method);
    if (!method) {
        snprintf(err, errlen, "method not supported for a stored response");
        return -1;
    }
    if (!item_path_ok(req->path)) {
        snprintf(err, errlen, "not a path of a stored response");
        return -1;
    }
    if (sy_ow_join_url(ep, req->path, out, err, errlen) != 0) return -1;
    out->method = method;
    /* GET and DELETE carry no body, hence no Content-Type; a POST (cancel)
     * forwards the client's body, if any, unchanged. */
    int body = method[0] == 'P' && req->body && req->body_len;
    for (unsigned i = 0; i < w->n_headers; i++)
        if (body || w->headers[i] != sy_ow_content_type)
            out->headers[out->n_headers++] = w->headers[i];
    if (body) {
        out->body = req->body;
        out->body_len = req->body_len;
    }
    return 0;
}

/* ------------------------------------------------------- response ids */

#define RESPONSE_ID_MAX 256

/* The host copies the id to route the conversation's later requests (the
 * client names it in a path and in previous_response_id): take only an id
 * that reads the same raw as decoded and can sit in a path segment. */
static void take_response_id(const sy_json_field *id, const sy_json_field *store,
                             const char **out, size_t *out_len)
{
    if (store->type == SY_JSON_FALSE) return; /* not stored: nothing to route to */
    if (id->type != SY_JSON_STRING || id->escaped || id->len == 0 || id->len > RESPONSE_ID_MAX)
        return;
    for (size_t i = 0; i < id->len; i++) {
        unsigned char c = (unsigned char)id->val[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%') return;
    }
    *out = id->val;
    *out_len = id->len;
}

/* ------------------------------------------------------ whole answers */

int sy_ow_responses_ok_answer(const sy_openai_wire *w, const sy_request *req,
                              const sy_http_response *resp, sy_result *res)
{
    enum { F_ERROR, F_OBJECT, F_CHOICES, F_DATA, F_USAGE, F_ID, F_STORE, F_N };
    sy_json_field f[F_N] = {{.name = "error"}, {.name = "object"}, {.name = "choices"},
                            {.name = "data"},  {.name = "usage"},  {.name = "id"},
                            {.name = "store"}};
    if (sy_ow_scan(w, resp->body, resp->body_len, f, F_N) != 0) {
        /* A 2xx that is not JSON is a broken upstream, not an answer. */
        res->verdict = SY_VERDICT_RETRY;
        snprintf(res->error, sizeof res->error, "HTTP %d with a body that is not a JSON object",
                 resp->status);
        return 1;
    }
    /* A failed response object carries "error" too, but also its "object":
     * only a bare envelope is an error answer in a 2xx. */
    if ((f[F_ERROR].type == SY_JSON_OBJECT || f[F_ERROR].type == SY_JSON_STRING) &&
        f[F_OBJECT].type == SY_JSON_ABSENT && f[F_CHOICES].type == SY_JSON_ABSENT &&
        f[F_DATA].type == SY_JSON_ABSENT)
        return 0;
    if (req->op != SY_OP_RESPONSES) return 1; /* a stored response read back costs nothing */
    if (f[F_USAGE].type == SY_JSON_OBJECT)
        sy_ow_usage_text(w, f[F_USAGE].val, f[F_USAGE].len, req->op, &res->usage,
                         &res->reasoning_tokens);
    take_response_id(&f[F_ID], &f[F_STORE], &res->response_id, &res->response_id_len);
    return 1;
}

/* ------------------------------------------------------ stream events */

typedef enum event_kind {
    EV_OTHER = 0, /* deltas and the rest: nothing to read */
    EV_CREATED,   /* response.created: the id */
    EV_TERMINAL,  /* response.completed / .incomplete: usage, the end */
    EV_FAILED,    /* response.failed: usage, the end, and an error */
    EV_ERROR,     /* error: the upstream told the client, and ends */
} event_kind;

static event_kind kind_of(const char *t, size_t n, int escaped)
{
    static const struct {
        const char *name;
        size_t len;
        event_kind kind;
    } kinds[] = {
        {"response.created", 16, EV_CREATED},   {"response.completed", 18, EV_TERMINAL},
        {"response.incomplete", 19, EV_TERMINAL}, {"response.failed", 15, EV_FAILED},
        {"error", 5, EV_ERROR},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (escaped ? sy_ow_key_is(t, n, kinds[i].name)
                    : n == kinds[i].len && !memcmp(t, kinds[i].name, n))
            return kinds[i].kind;
    return EV_OTHER;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t ws(const char *d, size_t i, size_t n)
{
    while (i < n && is_ws(d[i])) i++;
    return i;
}

/* The hot path: every delta of a stream comes through here. OpenAI writes
 * "type" as the first key, so its value is found without reading further
 * (nothing is validated: an event that matters is scanned whole after).
 * 0 when the first key is not a plain "type" string: then the caller scans. */
static int first_key_type(const char *d, size_t n, const char **t, size_t *tl)
{
    size_t i = ws(d, 0, n);
    if (i >= n || d[i] != '{') return 0;
    i = ws(d, i + 1, n);
    if (n - i < 6 || memcmp(d + i, "\"type\"", 6) != 0) return 0;
    i = ws(d, i + 6, n);
    if (i >= n || d[i] != ':') return 0;
    i = ws(d, i + 1, n);
    if (i >= n || d[i] != '"') return 0;
    const char *v = d + i + 1;
    const char *q = memchr(v, '"', n - i - 1);
    if (!q || memchr(v, '\\', (size_t)(q - v))) return 0; /* escapes: the scan decodes */
    *t = v;
    *tl = (size_t)(q - v);
    return 1;
}

int sy_ow_responses_event(const sy_openai_wire *w, sy_op op, const char *data, size_t len,
                          sy_stream_result *res)
{
    size_t s = ws(data, 0, len), e = len;
    while (e > s && is_ws(data[e - 1])) e--;
    const char *d = data + s;
    size_t n = e - s;
    /* The Responses API sends no "[DONE]", but a relay may add one. */
    if (n == 6 && !memcmp(d, "[DONE]", 6)) {
        res->done = 1;
        return 0;
    }

    enum { T_TYPE, T_RESPONSE, T_ERROR, T_N };
    sy_json_field top[T_N] = {{.name = "type"}, {.name = "response"}, {.name = "error"}};
    const char *t = NULL;
    size_t tl = 0;
    int scanned = 0;
    event_kind kind;
    if (first_key_type(d, n, &t, &tl)) {
        kind = kind_of(t, tl, 0);
    } else {
        if (sy_ow_scan(w, d, n, top, T_N) != 0) return 0; /* not JSON: means nothing */
        scanned = 1;
        if (top[T_TYPE].type == SY_JSON_STRING) {
            kind = kind_of(top[T_TYPE].val, top[T_TYPE].len, top[T_TYPE].escaped);
        } else {
            /* No type: a relay's chat-style {"error": {...}} ends the stream. */
            if (top[T_ERROR].type == SY_JSON_OBJECT || top[T_ERROR].type == SY_JSON_STRING)
                res->error = res->done = 1;
            return 0;
        }
    }
    if (kind == EV_OTHER) return 0;
    /* An event that matters must be whole, valid JSON to count. */
    if (!scanned && sy_ow_scan(w, d, n, top, T_N) != 0) return 0;

    if (kind == EV_ERROR) {
        res->error = res->done = 1;
        return 0;
    }
    if (kind == EV_TERMINAL || kind == EV_FAILED) res->done = 1;
    /* response.failed: the stream is complete, but the model failed: an
     * error for the status and the rollout windows (its usage still counts). */
    if (kind == EV_FAILED) res->error = 1;
    /* A stored response streamed again (GET .../{id}?stream=true) ends the
     * same way, but costs nothing and creates no id. */
    if (op != SY_OP_RESPONSES || top[T_RESPONSE].type != SY_JSON_OBJECT) return 0;
    enum { R_ID, R_STORE, R_USAGE, R_N };
    sy_json_field r[R_N] = {{.name = "id"}, {.name = "store"}, {.name = "usage"}};
    if (sy_ow_scan(w, top[T_RESPONSE].val, top[T_RESPONSE].len, r, R_N) != 0) return 0;
    if (kind == EV_CREATED)
        take_response_id(&r[R_ID], &r[R_STORE], &res->response_id, &res->response_id_len);
    else if (r[R_USAGE].type == SY_JSON_OBJECT)
        sy_ow_usage_text(w, r[R_USAGE].val, r[R_USAGE].len, SY_OP_RESPONSES, &res->usage,
                         &res->reasoning_tokens);
    return 0;
}
