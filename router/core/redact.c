/* redact.c - scrub the policy's secrets from bodies and messages (see redact.h). */
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

typedef struct secret {
    char *value;
    size_t len;
    char *shown; /* what replaces it */
    size_t shown_len;
} secret;

struct sy_redactor {
    secret *v; /* longest first, so a secret that contains another goes whole */
    size_t n, cap;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

sy_redactor *sy_redactor_new(void)
{
    sy_redactor *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    return r;
}

static void add_one(sy_redactor *r, const char *value, size_t len, const char *shown)
{
    if (len < SY_REDACT_MIN_LEN) return;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].len == len && !memcmp(r->v[i].value, value, len)) return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = xrealloc(r->v, r->cap * sizeof *r->v);
    }
    size_t at = r->n;
    while (at > 0 && r->v[at - 1].len < len) at--;
    memmove(&r->v[at + 1], &r->v[at], (r->n - at) * sizeof *r->v);
    r->v[at] = (secret){xstrndup(value, len), len, xstrndup(shown, strlen(shown)), strlen(shown)};
    r->n++;
}

void sy_redactor_add(sy_redactor *r, const char *value, const char *shown)
{
    if (!r || !value) return;
    if (!shown) shown = SY_REDACT_MARK;
    size_t len = strlen(value);
    add_one(r, value, len, shown);
    /* The form a JSON encoder may write it in (some escape '/'). */
    char *esc = xrealloc(NULL, len * 6 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\' || c == '/') {
            esc[o++] = '\\';
            esc[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(esc + o, 7, "\\u%04x", c);
        } else {
            esc[o++] = (char)c;
        }
    }
    if (o != len) add_one(r, esc, o, shown);
    memset(esc, 0, o);
    free(esc);
}

void sy_redactor_free(sy_redactor *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        memset(r->v[i].value, 0, r->v[i].len);
        free(r->v[i].value);
        free(r->v[i].shown);
    }
    free(r->v);
    free(r);
}

/* ${NAME} references in the raw text of a base_url: the value each brought in. */
static void add_env_values(sy_redactor *r, const char *raw)
{
    for (const char *p = raw; (p = strstr(p, "${"));) {
        const char *end = strchr(p + 2, '}');
        if (!end) return;
        char *name = xstrndup(p + 2, (size_t)(end - p - 2));
        char *shown = xstrndup(p, (size_t)(end + 1 - p));
        const char *val = getenv(name);
        if (val) sy_redactor_add(r, val, shown);
        free(name);
        free(shown);
        p = end + 1;
    }
}

static void add_config_secrets(sy_redactor *r, const sy_config_key *keys,
                               const sy_config_value *vals)
{
    if (!keys || !vals) return;
    for (size_t i = 0; keys[i].name; i++)
        if (keys[i].type == SY_CFG_SECRET && vals[i].set && vals[i].s)
            sy_redactor_add(r, vals[i].s, NULL);
}

sy_redactor *sy_redactor_for_policy(const sy_policy *p)
{
    sy_redactor *r = sy_redactor_new();
    for (size_t i = 0; i < p->server.n_client_keys; i++)
        sy_redactor_add(r, p->server.client_keys[i], NULL);
    sy_redactor_add(r, p->server.admin_key, NULL);
    /* shared_state.url's password, and the URL itself (it holds it). */
    sy_redactor_add(r, p->shared_state.url, p->shared_state.url_shown);
    sy_redactor_add(r, p->shared_state.password, NULL);
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *pr = &p->providers[i];
        if (pr->plugin) add_config_secrets(r, pr->plugin->config_keys, pr->plugin_cfg);
        for (size_t j = 0; j < pr->n_endpoints; j++) {
            const sy_policy_endpoint *ep = &pr->endpoints[j];
            if (pr->plugin) add_config_secrets(r, pr->plugin->endpoint_keys, ep->plugin_cfg);
            if (ep->base_url_raw) add_env_values(r, ep->base_url_raw);
        }
    }
    return r;
}

int sy_redact_found(const sy_redactor *r, const char *p, size_t n)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (memmem(p, n, r->v[i].value, r->v[i].len)) return 1;
    return 0;
}

/* p[0..n) with every occurrence of s replaced, into a new buffer; NULL when
 * out of memory. */
static char *replace_all(const char *p, size_t n, const secret *s, const char *first,
                         size_t *out_len)
{
    size_t count = 0;
    for (const char *q = first; q; q = memmem(q + s->len, n - (size_t)(q + s->len - p), s->value, s->len))
        count++;
    size_t len = n - count * s->len + count * s->shown_len;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0;
    const char *from = p;
    for (const char *q = first; q; q = memmem(q + s->len, n - (size_t)(q + s->len - p), s->value, s->len)) {
        memcpy(out + o, from, (size_t)(q - from));
        o += (size_t)(q - from);
        memcpy(out + o, s->shown, s->shown_len);
        o += s->shown_len;
        from = q + s->len;
    }
    memcpy(out + o, from, (size_t)(p + n - from));
    o += (size_t)(p + n - from);
    out[o] = '\0';
    *out_len = o;
    return out;
}

int sy_redact_copy(const sy_redactor *r, const char *p, size_t n, char **out, size_t *out_len)
{
    *out = NULL;
    char *cur = NULL; /* owned once something was replaced */
    size_t cur_len = n;
    for (size_t i = 0; r && i < r->n; i++) {
        const char *src = cur ? cur : p;
        const char *hit = memmem(src, cur_len, r->v[i].value, r->v[i].len);
        if (!hit) continue;
        size_t nl;
        char *next = replace_all(src, cur_len, &r->v[i], hit, &nl);
        free(cur);
        if (!next) return -1;
        cur = next;
        cur_len = nl;
    }
    if (!cur) return 0;
    *out = cur;
    *out_len = cur_len;
    return 1;
}

/* Put shown at s[off..], dropping len bytes there, within cap; returns the new length. */
static size_t splice(char *s, size_t slen, size_t cap, size_t off, size_t len, const char *shown,
                     size_t shown_len)
{
    size_t room = cap - 1 - off;
    size_t sl = shown_len < room ? shown_len : room;
    size_t tail = slen - off - len;
    size_t tl = tail < room - sl ? tail : room - sl;
    memmove(s + off + sl, s + off + len, tl);
    memcpy(s + off, shown, sl);
    s[off + sl + tl] = '\0';
    return off + sl + tl;
}

void sy_redact_str(const sy_redactor *r, char *s, size_t cap)
{
    if (!r || !s || cap == 0) return;
    size_t len = strlen(s);
    int cut = 0;
    for (size_t i = 0; i < r->n; i++) {
        const secret *e = &r->v[i];
        size_t off = 0;
        char *q;
        while (off < len && (q = memmem(s + off, len - off, e->value, e->len))) {
            size_t at = (size_t)(q - s), before = len;
            len = splice(s, len, cap, at, e->len, e->shown, e->shown_len);
            if (len < before - e->len + e->shown_len) cut = 1;
            off = at + e->shown_len;
        }
    }
    /* A message cut short inside a secret ("... Bearer sk-proj-12"). */
    for (size_t i = 0; i < r->n; i++) {
        const secret *e = &r->v[i];
        size_t k = e->len - 1 < len ? e->len - 1 : len;
        for (; k >= SY_REDACT_TAIL_MIN; k--) {
            if (memcmp(s + len - k, e->value, k) != 0) continue;
            size_t before = len;
            len = splice(s, len, cap, len - k, k, e->shown, e->shown_len);
            if (len < before - k + e->shown_len) cut = 1;
            break;
        }
    }
    if (cut) {
        /* Do not leave half a UTF-8 character at the end. */
        size_t e = len;
        while (e > 0 && ((unsigned char)s[e - 1] & 0xC0) == 0x80) e--;
        if (e > 0 && ((unsigned char)s[e - 1] & 0xC0) == 0xC0) {
            unsigned char lead = (unsigned char)s[e - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (len - (e - 1) < need) len = e - 1;
        }
        s[len] = '\0';
    }
}
