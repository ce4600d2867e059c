/* openai_wire.c - the OpenAI wire format (see openai_wire.h). */
#include "openai_wire.h"
#include "openai_wire_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char sy_ow_content_type[] = "Content-Type: application/json";

/* ------------------------------------------------------------------ helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* 1 when s may go into a header value: no control characters (CR/LF would
 * split the request). spaces_ok: 0 for tokens such as API keys. */
static int header_value_ok(const char *s, int spaces_ok)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) return 0;
        if (*c == ' ' && !spaces_ok) return 0;
    }
    return 1;
}

static char *host_strcat3(const sy_host_api *h, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = h->alloc(la + lb + lc + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = '\0';
    return s;
}

/* ------------------------------------------------------------ init / fini */

int sy_openai_wire_init(sy_openai_wire *w, const sy_host_api *host, const char *plugin,
                        const sy_openai_wire_conf *conf, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->host = host;
    w->plugin = plugin;
    w->include_usage = conf->include_usage;

    if (conf->api_key) {
        if (!*conf->api_key) {
            set_err(err, errlen, "api_key is empty");
            goto fail;
        }
        if (!header_value_ok(conf->api_key, 0)) {
            /* Never quote the key itself. */
            set_err(err, errlen, "api_key contains a space or a control character");
            goto fail;
        }
        w->api_key = host_strcat3(host, conf->api_key, "", "");
        char *auth = host_strcat3(host, "Authorization: Bearer ", conf->api_key, "");
        if (!w->api_key || !auth) {
            host->free(auth);
            set_err(err, errlen, "out of memory");
            goto fail;
        }
        w->headers[w->n_headers++] = auth;
    }
    w->headers[w->n_headers++] = sy_ow_content_type;

    static const char *const names[2] = {"organization", "project"};
    static const char *const prefixes[2] = {"OpenAI-Organization: ", "OpenAI-Project: "};
    const char *vals[2] = {conf->organization, conf->project};
    for (int i = 0; i < 2; i++) {
        if (!vals[i] || !*vals[i]) continue;
        if (!header_value_ok(vals[i], 1)) {
            set_err(err, errlen, "%s contains a control character", names[i]);
            goto fail;
        }
        char *hdr = host_strcat3(host, prefixes[i], vals[i], "");
        if (!hdr) {
            set_err(err, errlen, "out of memory");
            goto fail;
        }
        w->headers[w->n_headers++] = hdr;
    }
    return 0;

fail:
    sy_openai_wire_fini(w);
    return -1;
}

void sy_openai_wire_fini(sy_openai_wire *w)
{
    if (!w->host) return;
    for (unsigned i = 0; i < w->n_headers; i++)
        if (w->headers[i] != sy_ow_content_type) w->host->free((void *)w->headers[i]);
    if (w->api_key) {
        /* Do not leave the key lying around in freed memory. */
        volatile char *p = w->api_key;
        while (*p) *p++ = 0;
        w->host->free(w->api_key);
    }
    w->n_headers = 0;
    w->api_key = NULL;
}

/* --------------------------------------------------------- request body */

const char *sy_openai_wire_path(sy_op op)
{
    switch (op) {
    case SY_OP_CHAT: return "/chat/completions";
    case SY_OP_COMPLETIONS: return "/completions";
    case SY_OP_EMBEDDINGS: return "/embeddings";
    case SY_OP_RESPONSES: return "/responses";
    case SY_OP_RESPONSE_ITEM: break; /* its path is the request's own (req->path) */
    }
    return NULL;
}

/* A scanner over JSON that cJSON has already accepted, so it only has to find
 * boundaries, never to report errors. Whitespace is any byte <= ' ', as cJSON
 * has it. */
static size_t skip_ws(const char *b, size_t i, size_t len)
{
    while (i < len && (unsigned char)b[i] <= ' ') i++;
    return i;
}

/* i at the opening quote; returns the index after the closing one. */
static size_t skip_string(const char *b, size_t i, size_t len)
{
    for (i++; i < len; i++) {
        if (b[i] == '\\') i++;
        else if (b[i] == '"') return i + 1;
    }
    return len;
}

static size_t skip_value(const char *b, size_t i, size_t len)
{
    if (i >= len) return len;
    if (b[i] == '"') return skip_string(b, i, len);
    if (b[i] == '{' || b[i] == '[') {
        size_t depth = 0;
        while (i < len) {
            char c = b[i];
            if (c == '"') {
                i = skip_string(b, i, len);
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
            i++;
        }
        return len;
    }
    while (i < len && b[i] != ',' && b[i] != '}' && b[i] != ']' && (unsigned char)b[i] > ' ')
        i++;
    return i;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Does the raw JSON string content (between the quotes) decode to ascii word? */
int sy_ow_key_is(const char *raw, size_t n, const char *word)
{
    if (!memchr(raw, '\\', n)) return strlen(word) == n && !memcmp(raw, word, n);
    size_t k = 0, wl = strlen(word);
    for (size_t i = 0; i < n; k++) {
        int c;
        if (raw[i] != '\\') {
            c = (unsigned char)raw[i++];
        } else if (i + 1 < n && raw[i + 1] == 'u' && i + 5 < n) {
            int h[4];
            for (int j = 0; j < 4; j++)
                if ((h[j] = hexval(raw[i + 2 + j])) < 0) return 0;
            c = (h[0] << 12) | (h[1] << 8) | (h[2] << 4) | h[3];
            i += 6;
        } else if (i + 1 < n) {
            c = (unsigned char)raw[i + 1];
            if (c != '"' && c != '\\' && c != '/') return 0; /* \n etc. never in our words */
            i += 2;
        } else {
            return 0;
        }
        if (k >= wl || c != (unsigned char)word[k]) return 0;
    }
    return k == wl;
}

static int host_has_scanner(const sy_host_api *h)
{
    return h && h->size > offsetof(sy_host_api, json_scan_object) && h->json_scan_object;
}

int sy_ow_scan(const sy_openai_wire *w, const char *p, size_t n, sy_json_field *f, size_t nf)
{
    for (size_t k = 0; k < nf; k++) {
        f[k].type = SY_JSON_ABSENT;
        f[k].val = NULL;
        f[k].len = 0;
        f[k].escaped = 0;
    }
    if (!p) return -1;
    const sy_host_api *h = w ? w->host : NULL;
    if (host_has_scanner(h)) {
        const char *why = NULL;
        return h->json_scan_object(p, n, f, nf, &why) == 0 ? 0 : -1;
    }
    /* A host without the scanner (ABI 1.0): cJSON validates, then a walk of
     * the top level finds the fields (the first of a repeated key wins). */
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    int ok = cJSON_IsObject(doc) && end && skip_ws(p, (size_t)(end - p), n) == n;
    cJSON_Delete(doc);
    if (!ok) return -1;
    size_t i = n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) ? 3 : 0;
    i = skip_ws(p, i, n) + 1; /* past '{' */
    for (;;) {
        i = skip_ws(p, i, n);
        if (i >= n || p[i] == '}') break;
        size_t ks = i, ke = skip_string(p, i, n);
        i = skip_ws(p, skip_ws(p, ke, n) + 1, n); /* past ':' */
        size_t vs = i, ve = skip_value(p, i, n);
        for (size_t k = 0; k < nf; k++) {
            if (f[k].type != SY_JSON_ABSENT || !sy_ow_key_is(p + ks + 1, ke - ks - 2, f[k].name))
                continue;
            switch (p[vs]) {
            case '"':
                f[k].type = SY_JSON_STRING;
                f[k].val = p + vs + 1;
                f[k].len = ve - vs - 2;
                f[k].escaped = memchr(f[k].val, '\\', f[k].len) != NULL;
                continue;
            case '{': f[k].type = SY_JSON_OBJECT; break;
            case '[': f[k].type = SY_JSON_ARRAY; break;
            case 't': f[k].type = SY_JSON_TRUE; break;
            case 'f': f[k].type = SY_JSON_FALSE; break;
            case 'n': f[k].type = SY_JSON_NULL; break;
            default: f[k].type = SY_JSON_NUMBER; break;
            }
            f[k].val = p + vs;
            f[k].len = ve - vs;
        }
        i = skip_ws(p, ve, n);
        if (i < n && p[i] == ',') i++;
    }
    return 0;
}

/* Write s as a JSON string (with quotes) into dst, or only measure when dst is NULL. */
static size_t json_quote(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
#define PUT(ch) do { if (dst) dst[o] = (ch); o++; } while (0)
    PUT('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            PUT('\\');
            PUT((char)*c);
        } else if (*c < 0x20) {
            PUT('\\'); PUT('u'); PUT('0'); PUT('0');
            PUT(hex[*c >> 4]);
            PUT(hex[*c & 15]);
        } else {
            PUT((char)*c);
        }
    }
    PUT('"');
#undef PUT
    return o;
}

#define MAX_EDITS 16

typedef struct body_edit {
    size_t at, del;     /* replace b[at, at+del) ... */
    const char *ins;    /* ... with ins (ins_len bytes) */
    size_t ins_len;
} body_edit;

#define LIT(s) (s), sizeof(s) - 1

/* Make one "stream_options" value, b[vs, ve), ask for usage: in an object,
 * every "include_usage" set to true (or the member added first when there is
 * none); anything else replaced by {"include_usage":true}. Appends at most
 * room edits; returns how many, or -1 when they do not fit. */
static int usage_edits(const char *b, size_t vs, size_t ve, body_edit *e, size_t room)
{
    if (b[vs] != '{') {
        if (!room) return -1;
        e[0] = (body_edit){vs, ve - vs, LIT("{\"include_usage\":true}")};
        return 1;
    }
    size_t n = 0, i = vs + 1;
    int members = 0, found = 0;
    for (;;) {
        i = skip_ws(b, i, ve);
        if (i >= ve || b[i] == '}') break;
        size_t ks = i, ke = skip_string(b, i, ve);
        i = skip_ws(b, skip_ws(b, ke, ve) + 1, ve); /* past ':' */
        size_t s = i, end = skip_value(b, i, ve);
        members++;
        if (sy_ow_key_is(b + ks + 1, ke - ks - 2, "include_usage")) {
            found = 1;
            if (!(end - s == 4 && !memcmp(b + s, "true", 4))) {
                if (n == room) return -1;
                e[n++] = (body_edit){s, end - s, LIT("true")};
            }
        }
        i = skip_ws(b, end, ve);
        if (i < ve && b[i] == ',') i++;
    }
    if (!found) {
        if (!room) return -1;
        e[n++] = members ? (body_edit){vs + 1, 0, LIT("\"include_usage\":true,")}
                         : (body_edit){vs + 1, 0, LIT("\"include_usage\":true")};
    }
    return (int)n;
}

/* Where the rewrite edits a body: its edits in order of position, and what
 * it found of the top level. */
typedef struct body_plan {
    body_edit edits[MAX_EDITS];
    size_t n_edits;
    size_t open;         /* b[open] == '{' */
    int empty;           /* "{}": no members */
    int have_model;      /* (only looked for when the model is set) */
    int have_stream_options;
} body_plan;

/* The top-level "model" value b[vs, ve): replaced by the quoted model. */
static int plan_model(body_plan *pl, size_t vs, size_t ve, const char *quoted, size_t qlen,
                      char *err, size_t errlen)
{
    if (pl->n_edits == MAX_EDITS - 1) {
        set_err(err, errlen, "the request body repeats \"model\" too often");
        return -1;
    }
    pl->edits[pl->n_edits++] = (body_edit){vs, ve - vs, quoted, qlen};
    pl->have_model = 1;
    return 0;
}

/* A top-level "stream_options" value b[vs, ve): made to ask for usage when add_usage. */
static int plan_stream_options(const char *b, body_plan *pl, size_t vs, size_t ve, int add_usage,
                               char *err, size_t errlen)
{
    pl->have_stream_options = 1;
    int k = add_usage ? usage_edits(b, vs, ve, pl->edits + pl->n_edits,
                                    MAX_EDITS - 1 - pl->n_edits)
                      : 0;
    if (k < 0) {
        set_err(err, errlen, "the request body repeats \"stream_options\" too often");
        return -1;
    }
    pl->n_edits += (size_t)k;
    return 0;
}

/* Find the members by walking the body's whole top level (it repeats a key,
 * or the host did not say where they are). */
static int plan_by_walk(const char *b, size_t len, int set_model, int add_usage,
                        const char *quoted, size_t qlen, body_plan *pl, char *err, size_t errlen)
{
    size_t i = pl->open + 1;
    pl->empty = 1;
    for (;;) {
        i = skip_ws(b, i, len);
        if (i >= len || b[i] == '}') break;
        size_t ks = i, ke = skip_string(b, i, len);
        i = skip_ws(b, ke, len) + 1; /* past ':' */
        i = skip_ws(b, i, len);
        size_t vs = i, ve = skip_value(b, i, len);
        pl->empty = 0;
        if (set_model && sy_ow_key_is(b + ks + 1, ke - ks - 2, "model")) {
            if (plan_model(pl, vs, ve, quoted, qlen, err, errlen) != 0) return -1;
        } else if (sy_ow_key_is(b + ks + 1, ke - ks - 2, "stream_options")) {
            if (plan_stream_options(b, pl, vs, ve, add_usage, err, errlen) != 0) return -1;
        }
        i = skip_ws(b, ve, len);
        if (i < len && b[i] == ',') i++;
    }
    return 0;
}

/* Does span v (n bytes) lie inside b[0, len)? Then its offsets. */
static int span_in(const char *b, size_t len, const char *v, size_t n, size_t *vs, size_t *ve)
{
    if (!v || n == 0 || v < b || (size_t)(v - b) > len || n > len - (size_t)(v - b)) return 0;
    *vs = (size_t)(v - b);
    *ve = *vs + n;
    return 1;
}

/* Take the members from the spans the host recorded (ABI 1.5): no walk.
 * Returns 1 when done, 0 when the spans do not fit the body (then walk),
 * -1 on an error. */
static int plan_from_spans(const sy_request *req, int set_model, int add_usage,
                           const char *quoted, size_t qlen, body_plan *pl, char *err,
                           size_t errlen)
{
    const char *b = req->body;
    size_t len = req->body_len, ms = 0, me = 0, ss = 0, se = 0;
    int model = set_model && req->model_value;
    int so = req->stream_options_value != NULL;
    if ((model && !span_in(b, len, req->model_value, req->model_value_len, &ms, &me)) ||
        (so && !span_in(b, len, req->stream_options_value, req->stream_options_value_len, &ss,
                        &se)))
        return 0;
    size_t i = skip_ws(b, pl->open + 1, len);
    pl->empty = i >= len || b[i] == '}';
    /* In order of position, as the walk would meet them. */
    if (so && (!model || ss < ms) && plan_stream_options(b, pl, ss, se, add_usage, err, errlen))
        return -1;
    if (model && plan_model(pl, ms, me, quoted, qlen, err, errlen)) return -1;
    if (so && model && ss > ms && plan_stream_options(b, pl, ss, se, add_usage, err, errlen))
        return -1;
    return 1;
}

/* The client's body with every top-level "model" replaced by req->model and,
 * when add_usage, "stream_options" made to ask for usage: added as
 * {"include_usage": true} when the client sent none, its include_usage set to
 * true when the client sent one (stream_event then strips the usage chunk
 * the client did not ask for). The client's bytes are otherwise kept exactly
 * (numbers are never re-printed). */
static int rewrite_body(const sy_openai_wire *w, const sy_request *req, int set_model,
                        int add_usage, sy_http_request *out, char *err, size_t errlen)
{
    const char *b = req->body;
    size_t len = req->body_len;
    const char *end = NULL;
    char *quoted = NULL, *prefix = NULL, *nb = NULL;
    body_plan pl = {.n_edits = 0};
    body_edit *edits = pl.edits;
    int rc = -1;

    /* The edits below walk the body's top level as raw JSON: it must be one
     * valid object. The host's strict scanner (ABI 1.1) checks that without
     * building a tree; a 1.0 host gets cJSON. */
    const sy_host_api *h = w->host;
    int is_obj;
    if (req->body_checked) {
        is_obj = 1; /* the host's front did (ABI 1.4) */
    } else if (host_has_scanner(h)) {
        const char *why = NULL;
        is_obj = h->json_scan_object(b, len, NULL, 0, &why) == 0;
    } else {
        cJSON *doc = cJSON_ParseWithLengthOpts(b, len, &end, 0);
        is_obj = cJSON_IsObject(doc) && skip_ws(b, (size_t)(end - b), len) == len;
        cJSON_Delete(doc);
    }
    if (!is_obj) {
        set_err(err, errlen, "the request body is not a JSON object");
        return -1;
    }

    size_t qlen = 0;
    if (set_model) {
        qlen = json_quote(NULL, req->model);
        quoted = w->host->alloc(qlen);
        if (!quoted) goto oom;
        json_quote(quoted, req->model);
    }

    size_t i = 0;
    if (len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) i = 3; /* cJSON skips a BOM too */
    pl.open = skip_ws(b, i, len);
    /* The host says where the members are (ABI 1.5; this plugin is built
     * against it, so the fields are there): no walk over "messages". */
    int planned = 0;
    if (req->body_checked && req->body_spans_known) {
        planned = plan_from_spans(req, set_model, add_usage, quoted, qlen, &pl, err, errlen);
        if (planned < 0) goto out;
    }
    if (!planned && plan_by_walk(b, len, set_model, add_usage, quoted, qlen, &pl, err, errlen))
        goto out;
    size_t open = pl.open, n_edits = pl.n_edits;

    /* Members to add go right after the '{', so edits stay in order. */
    const char *usage_member = "\"stream_options\":{\"include_usage\":true}";
    int add_model_member = set_model && !pl.have_model;
    int add_usage_member = add_usage && !pl.have_stream_options;
    if (add_model_member || add_usage_member) {
        size_t plen = (add_model_member ? 8 + qlen + 1 : 0) +
                      (add_usage_member ? strlen(usage_member) + 1 : 0);
        prefix = w->host->alloc(plen + 1);
        if (!prefix) goto oom;
        size_t p = 0;
        if (add_model_member) {
            memcpy(prefix + p, "\"model\":", 8);
            memcpy(prefix + p + 8, quoted, qlen);
            p += 8 + qlen;
            prefix[p++] = ',';
        }
        if (add_usage_member) {
            memcpy(prefix + p, usage_member, strlen(usage_member));
            p += strlen(usage_member);
            prefix[p++] = ',';
        }
        if (pl.empty) p--; /* "{}": no comma before the closing brace */
        memmove(edits + 1, edits, n_edits * sizeof *edits);
        edits[0] = (body_edit){open + 1, 0, prefix, p};
        n_edits++;
    }

    if (n_edits == 0) {
        /* Nothing to change after all (the client asked for usage itself). */
        out->body = b;
        out->body_len = len;
        rc = 0;
        goto out;
    }
    size_t out_len = len;
    for (size_t e = 0; e < n_edits; e++) out_len = out_len - edits[e].del + edits[e].ins_len;
    nb = w->host->alloc(out_len + 1);
    if (!nb) goto oom;
    size_t o = 0, from = 0;
    for (size_t e = 0; e < n_edits; e++) {
        memcpy(nb + o, b + from, edits[e].at - from);
        o += edits[e].at - from;
        memcpy(nb + o, edits[e].ins, edits[e].ins_len);
        o += edits[e].ins_len;
        from = edits[e].at + edits[e].del;
    }
    memcpy(nb + o, b + from, len - from);
    o += len - from;
    nb[o] = '\0';
    out->body = nb;
    out->body_len = o;
    out->body_owned = nb;
    nb = NULL;
    rc = 0;
    goto out;

oom:
    set_err(err, errlen, "out of memory");
out:
    w->host->free(quoted);
    w->host->free(prefix);
    w->host->free(nb);
    return rc;
}

int sy_ow_join_url(const sy_endpoint *ep, const char *path, sy_http_request *out, char *err,
                   size_t errlen)
{
    const char *base = ep && ep->base_url ? ep->base_url : "";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    if (bl == 0) {
        set_err(err, errlen, "endpoint '%s' has no base_url", ep && ep->name ? ep->name : "?");
        return -1;
    }
    size_t pl = strlen(path);
    if (bl + pl >= sizeof out->url) {
        set_err(err, errlen, "base_url of endpoint '%s' plus the path is too long (over %d bytes)",
                ep->name ? ep->name : "?", SY_URL_MAX - 1);
        return -1;
    }
    memcpy(out->url, base, bl);
    memcpy(out->url + bl, path, pl + 1);
    return 0;
}

int sy_openai_wire_build_request(const sy_openai_wire *w, const sy_endpoint *ep,
                                 const sy_request *req, sy_http_request *out, char *err,
                                 size_t errlen)
{
    out->url[0] = '\0';
    out->n_headers = 0;
    out->body = NULL;
    out->body_len = 0;
    out->body_owned = NULL;
    out->method = NULL; /* a POST */

    if (req->op == SY_OP_RESPONSE_ITEM)
        return sy_ow_build_item_request(w, ep, req, out, err, errlen);
    const char *path = sy_openai_wire_path(req->op);
    if (!path) {
        set_err(err, errlen, "operation not supported");
        return -1;
    }
    if (sy_ow_join_url(ep, path, out, err, errlen) != 0) return -1;

    for (unsigned i = 0; i < w->n_headers; i++) out->headers[out->n_headers++] = w->headers[i];

    int set_model = req->model && (!req->client_model || strcmp(req->model, req->client_model));
    /* Only chat and completions streams take stream_options: the Responses
     * API reports usage in its response.completed event without being asked. */
    int add_usage = w->include_usage && req->stream &&
                    (req->op == SY_OP_CHAT || req->op == SY_OP_COMPLETIONS);
    if (!set_model && !add_usage) {
        out->body = req->body; /* zero copy */
        out->body_len = req->body_len;
        return 0;
    }
    return rewrite_body(w, req, set_model, add_usage, out, err, errlen);
}

int sy_openai_wire_health_request(const sy_openai_wire *w, const sy_endpoint *ep,
                                  const char *path, sy_http_request *out, char *err,
                                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path || path[0] != '/') {
        set_err(err, errlen, "health check path must start with '/'");
        return -1;
    }
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (*c <= ' ' || *c == 0x7f) {
            set_err(err, errlen, "health check path contains a space or a control character");
            return -1;
        }
    }
    if (sy_ow_join_url(ep, path, out, err, errlen) != 0) return -1;
    /* The key and the organization/project headers, so the provider accepts
     * the probe as it would a request; no Content-Type: there is no body. */
    for (unsigned i = 0; i < w->n_headers; i++)
        if (w->headers[i] != sy_ow_content_type) out->headers[out->n_headers++] = w->headers[i];
    return 0;
}

/* ----------------------------------------------------------- classifying */

sy_verdict sy_openai_wire_classify(int status)
{
    /* The one table the core and every plugin share (plugin.h). */
    return sy_status_verdict(status);
}

static int is_space(char c) { return (unsigned char)c <= ' ' || c == 0x7f; }

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int looks_secret(const sy_openai_wire *w, const char *s, size_t n)
{
    if (w && w->api_key) {
        size_t kl = strlen(w->api_key);
        if (kl >= 4 && n >= kl && memmem(s, n, w->api_key, kl)) return 1;
    }
    if (memmem(s, n, "***", 3)) return 1; /* a masked key, "sk-abc***wxyz" */
    for (size_t i = 0; i + 3 <= n; i++)
        if (s[i] == 's' && s[i + 1] == 'k' && (s[i + 2] == '-' || s[i + 2] == '_') &&
            (i == 0 || !alnum(s[i - 1])))
            return 1;
    return 0;
}

static int word_is_ci(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return 1;
}

void sy_openai_wire_summarise(const sy_openai_wire *w, const char *src, size_t len, char *dst,
                              size_t cap)
{
    if (!dst || cap == 0) return;
    dst[0] = '\0';
    if (cap < 8 || !src) return;
    size_t o = 0, room = cap - 4; /* keep space for "..." and the NUL */
    int redact_next = 0, cut = 0;
    for (size_t i = 0; i < len && !cut;) {
        if (is_space(src[i])) {
            if (o && dst[o - 1] != ' ') {
                if (o + 1 > room) cut = 1;
                else dst[o++] = ' ';
            }
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && !is_space(src[j])) j++;
        const char *word = src + i;
        size_t wl = j - i;
        int secret = redact_next || looks_secret(w, word, wl);
        redact_next = word_is_ci(word, wl, "bearer") || word_is_ci(word, wl, "bearer:");
        if (secret) {
            word = "[redacted]";
            wl = 10;
            if (o + wl > room) cut = 1;
        } else if (o + wl > room) {
            /* Cut inside the word, but not inside a UTF-8 sequence. */
            wl = room - o;
            while (wl && ((unsigned char)word[wl] & 0xC0) == 0x80) wl--;
            cut = 1;
        }
        if (!secret || !cut) {
            memcpy(dst + o, word, wl);
            o += wl;
        }
        i = j;
    }
    while (o && dst[o - 1] == ' ') o--;
    if (cut) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* A token count from a JSON number's text, as a tree parser would give it
 * (the double, cut to an integer): -1 when it is not a number, is negative
 * or is above 9e15. Plain digits, the usual case, are read without strtod. */
static int64_t count_of(const sy_json_field *f)
{
    if (f->type != SY_JSON_NUMBER || f->len == 0) return -1;
    int64_t v = 0;
    size_t i = 0;
    while (i < f->len && i < 15 && f->val[i] >= '0' && f->val[i] <= '9') v = v * 10 + (f->val[i++] - '0');
    if (i == f->len) return v;
    char text[64];
    if (f->len >= sizeof text) return -1; /* no count is written so long */
    memcpy(text, f->val, f->len);
    text[f->len] = '\0';
    double d = strtod(text, NULL);
    return d >= 0 && d <= 9e15 ? (int64_t)d : -1;
}

void sy_ow_usage_text(const sy_openai_wire *w, const char *usage, size_t len, sy_op op,
                      sy_usage *u, int64_t *reasoning)
{
    enum { PROMPT, INPUT, COMPLETION, OUTPUT, OUTPUT_DETAILS, COMPLETION_DETAILS, N };
    sy_json_field f[N] = {{.name = "prompt_tokens"},         {.name = "input_tokens"},
                          {.name = "completion_tokens"},     {.name = "output_tokens"},
                          {.name = "output_tokens_details"}, {.name = "completion_tokens_details"}};
    if (sy_ow_scan(w, usage, len, f, N) != 0) return; /* not an object */
    /* Chat's name, else the Responses API's. */
    u->input_tokens = count_of(&f[f[PROMPT].type == SY_JSON_NUMBER ? PROMPT : INPUT]);
    u->output_tokens = count_of(&f[f[COMPLETION].type == SY_JSON_NUMBER ? COMPLETION : OUTPUT]);
    if (u->output_tokens < 0 && op == SY_OP_EMBEDDINGS && u->input_tokens >= 0)
        u->output_tokens = 0; /* embeddings produce no output tokens */
    if (!reasoning) return;
    /* The Responses API's name, then chat's (o-series models report it too). */
    const sy_json_field *d = f[OUTPUT_DETAILS].type == SY_JSON_OBJECT ? &f[OUTPUT_DETAILS]
                                                                      : &f[COMPLETION_DETAILS];
    sy_json_field r = {.name = "reasoning_tokens"};
    if (d->type == SY_JSON_OBJECT && sy_ow_scan(w, d->val, d->len, &r, 1) == 0) {
        int64_t n = count_of(&r);
        if (n >= 0) *reasoning = n;
    }
}

/* The top-level "usage" of a whole answer, read as sy_ow_usage_text does. */
static void answer_usage(const sy_openai_wire *w, const char *body, size_t len, sy_op op,
                         sy_usage *u, int64_t *reasoning)
{
    sy_json_field f = {.name = "usage"};
    if (sy_ow_scan(w, body, len, &f, 1) == 0 && f.type == SY_JSON_OBJECT)
        sy_ow_usage_text(w, f.val, f.len, op, u, reasoning);
}

/* "HTTP 429 (rate_limit_exceeded): message" from an OpenAI error envelope, or
 * the start of whatever the body was. */
static void error_summary(const sy_openai_wire *w, int status, const cJSON *root,
                          const char *body, size_t body_len, char *dst, size_t cap)
{
    char raw[1024];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *msg = NULL;
    char code[64] = "";
    if (cJSON_IsObject(e)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (cJSON_IsString(m)) msg = m->valuestring;
        if (cJSON_IsString(c) && *c->valuestring)
            snprintf(code, sizeof code, " (%s)", c->valuestring);
        else if (cJSON_IsNumber(c))
            snprintf(code, sizeof code, " (%d)", c->valueint);
        else if (cJSON_IsString(t) && *t->valuestring)
            snprintf(code, sizeof code, " (%s)", t->valuestring);
    } else if (cJSON_IsString(e)) {
        msg = e->valuestring;
    }
    int n;
    if (msg)
        n = snprintf(raw, sizeof raw, "HTTP %d%s: %s", status, code, msg);
    else if (body_len)
        n = snprintf(raw, sizeof raw, "HTTP %d: %.*s", status,
                     (int)(body_len > 512 ? 512 : body_len), body);
    else
        n = snprintf(raw, sizeof raw, "HTTP %d with an empty body", status);
    if (n < 0) n = 0;
    size_t rl = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
    sy_openai_wire_summarise(w, raw, rl, dst, cap);
}

/* The common case, a good answer, without a cJSON tree of the whole body:
 * the host's scanner validates it and finds "usage", whose small object alone
 * is parsed. Returns 1 when it settled the answer, 0 to take the full path
 * (an error envelope to summarise, or a host older than ABI 1.1). */
static int fast_ok_answer(const sy_openai_wire *w, sy_op op, const sy_http_response *resp,
                          sy_result *res)
{
    const sy_host_api *h = w->host;
    if (!host_has_scanner(h)) return 0;
    sy_json_field f[4] = {{.name = "error"}, {.name = "choices"}, {.name = "data"},
                          {.name = "usage"}};
    const char *why = NULL;
    if (!resp->body || h->json_scan_object(resp->body, resp->body_len, f, 4, &why) != 0) {
        /* A 2xx that is not JSON is a broken upstream, not an answer. */
        res->verdict = SY_VERDICT_RETRY;
        snprintf(res->error, sizeof res->error, "HTTP %d with a body that is not a JSON object",
                 resp->status);
        return 1;
    }
    if ((f[0].type == SY_JSON_OBJECT || f[0].type == SY_JSON_STRING) &&
        f[1].type == SY_JSON_ABSENT && f[2].type == SY_JSON_ABSENT)
        return 0; /* an error envelope in a 200: the full path summarises it */
    if (f[3].type == SY_JSON_OBJECT)
        sy_ow_usage_text(w, f[3].val, f[3].len, op, &res->usage, &res->reasoning_tokens);
    return 1;
}

int sy_openai_wire_parse_response(const sy_openai_wire *w, const sy_request *req,
                                  const sy_http_response *resp, sy_result *res)
{
    sy_op op = req ? req->op : SY_OP_CHAT;
    res->verdict = sy_openai_wire_classify(resp->status);
    /* A 404 on one stored response is that resource's own answer ("no such
     * response"), for the client; another route cannot know the id either. */
    if (op == SY_OP_RESPONSE_ITEM && resp->status == 404) res->verdict = SY_VERDICT_FATAL;
    res->usage.input_tokens = res->usage.output_tokens = -1;
    res->error[0] = '\0';
    res->body = NULL;
    res->body_len = 0;
    res->reasoning_tokens = -1;
    res->response_id = NULL;
    res->response_id_len = 0;

    if (res->verdict == SY_VERDICT_OK && req && req->stream) {
        /* A stream's usage comes through stream_event. */
        return 0;
    }
    if (res->verdict == SY_VERDICT_OK) {
        int settled = op == SY_OP_RESPONSES || op == SY_OP_RESPONSE_ITEM
                          ? sy_ow_responses_ok_answer(w, req, resp, res)
                          : fast_ok_answer(w, op, resp, res);
        if (settled) return 0;
    }
    cJSON *root = resp->body && resp->body_len
                      ? cJSON_ParseWithLength(resp->body, resp->body_len)
                      : NULL;
    if (res->verdict == SY_VERDICT_OK) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (!cJSON_IsObject(root)) {
            /* A 2xx that is not JSON is a broken upstream, not an answer. */
            res->verdict = SY_VERDICT_RETRY;
            snprintf(res->error, sizeof res->error,
                     "HTTP %d with a body that is not a JSON object", resp->status);
        } else if ((cJSON_IsObject(e) || cJSON_IsString(e)) &&
                   !cJSON_GetObjectItemCaseSensitive(root, "choices") &&
                   !cJSON_GetObjectItemCaseSensitive(root, "data")) {
            /* Some relays wrap failures in a 200; believe the envelope. */
            res->verdict = SY_VERDICT_RETRY;
            error_summary(w, resp->status, root, resp->body, resp->body_len, res->error,
                          sizeof res->error);
        } else {
            answer_usage(w, resp->body, resp->body_len, op, &res->usage, &res->reasoning_tokens);
        }
    } else {
        error_summary(w, resp->status, root, resp->body, resp->body_len, res->error,
                      sizeof res->error);
    }
    cJSON_Delete(root);
    return 0;
}

/* Did the client's own body ask for stream_options.include_usage: true?
 * Read once per stream, at its usage chunk: the host's scanner finds
 * stream_options without building a tree of the whole body. */
static int client_asked_usage(const sy_openai_wire *w, const sy_request *req)
{
    if (!req->body) return 0;
    const char *so = NULL; /* the stream_options object's text, when there is one */
    size_t so_len = 0, ss, se;
    if (req->body_checked && req->body_spans_known &&
        (!req->stream_options_value ||
         span_in(req->body, req->body_len, req->stream_options_value, req->stream_options_value_len,
                 &ss, &se))) {
        /* The host said where stream_options is (ABI 1.5): read only that. */
        if (req->stream_options_value) so = req->body + ss, so_len = se - ss;
    } else {
        /* Most clients never name it: a byte search settles that without a
         * scan (unless the body has \u escapes, which could spell the key). */
        if (!memmem(req->body, req->body_len, "include_usage", 13) &&
            !memmem(req->body, req->body_len, "\\u", 2))
            return 0;
        sy_json_field f = {.name = "stream_options"};
        if (sy_ow_scan(w, req->body, req->body_len, &f, 1) == 0 && f.type == SY_JSON_OBJECT)
            so = f.val, so_len = f.len;
    }
    if (!so || so[0] != '{') return 0;
    sy_json_field u = {.name = "include_usage"};
    return sy_ow_scan(w, so, so_len, &u, 1) == 0 && u.type == SY_JSON_TRUE;
}

/* "[]", spaces inside or not. */
static int is_empty_array(const sy_json_field *f)
{
    if (f->type != SY_JSON_ARRAY) return 0;
    size_t i = skip_ws(f->val, 1, f->len);
    return i < f->len && f->val[i] == ']';
}

int sy_openai_wire_stream_event(const sy_openai_wire *w, const sy_request *req, const char *data,
                                size_t len, sy_stream_result *res)
{
    res->done = 0;
    res->drop = 0;
    res->error = 0;
    res->usage.input_tokens = res->usage.output_tokens = -1;
    res->data = NULL;
    res->data_len = 0;
    res->reasoning_tokens = -1;
    res->response_id = NULL;
    res->response_id_len = 0;
    if (!data) return 0;
    if (req && (req->op == SY_OP_RESPONSES || req->op == SY_OP_RESPONSE_ITEM))
        return sy_ow_responses_event(w, req->op, data, len, res);

    size_t s = 0, e = len;
    while (s < e && is_space(data[s])) s++;
    while (e > s && is_space(data[e - 1])) e--;
    if (e - s == 6 && !memcmp(data + s, "[DONE]", 6)) {
        res->done = 1;
        return 0;
    }
    /* Most events are content deltas: parse only those that may matter. */
    if (!memmem(data + s, e - s, "\"usage\"", 7) && !memmem(data + s, e - s, "\"error\"", 7))
        return 0;
    /* With include_usage, OpenAI puts "usage": null in every chunk: the
     * scanner (no tree) tells whether usage or error holds anything. */
    enum { USAGE, ERROR, CHOICES, N };
    sy_json_field f[N] = {{.name = "usage"}, {.name = "error"}, {.name = "choices"}};
    if (sy_ow_scan(w, data + s, e - s, f, N) != 0) return 0; /* not JSON: means nothing */
    int has_usage = f[USAGE].type != SY_JSON_ABSENT && f[USAGE].type != SY_JSON_NULL;
    res->error = f[ERROR].type != SY_JSON_ABSENT && f[ERROR].type != SY_JSON_NULL;
    if (!has_usage && !res->error) return 0;
    sy_op op = req ? req->op : SY_OP_CHAT;
    if (f[USAGE].type == SY_JSON_OBJECT)
        sy_ow_usage_text(w, f[USAGE].val, f[USAGE].len, op, &res->usage, &res->reasoning_tokens);
    /* The usage chunk (no choices) we asked for on the client's behalf. */
    if (w && w->include_usage && req && req->stream && !res->error &&
        f[USAGE].type == SY_JSON_OBJECT && is_empty_array(&f[CHOICES]) &&
        !client_asked_usage(w, req))
        res->drop = 1;
    return 0;
}
