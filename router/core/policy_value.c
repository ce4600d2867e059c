/*
 * policy_value.c - reading policy values: ${VAR} expansion, typed scalars
 * with their units and ranges, and the generic walk of a mapping against its
 * key table (unknown keys, required keys, defaults).
 *
 * Secrets: a value that came from the environment is never put in a
 * message. Every message quotes the node's raw text (v->str, e.g.
 * "${OPENAI_API_KEY}"), never an expanded value; values of secret keys are
 * not quoted at all, not even when written literally.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_keys.h"
#include "units.h"

const sy_config_key sy_pk_any_extra[] = {{.name = NULL}};

#define SHOW_MAX 60

/* The raw text of a scalar for messages: shortened, control characters
 * replaced, so a message stays one line. */
static const char *show(const sy_ynode *v, char *buf, size_t cap)
{
    const char *s = v && v->str ? v->str : "";
    size_t n = strlen(s), j = 0;
    size_t lim = n > SHOW_MAX ? SHOW_MAX : n;
    for (size_t i = 0; i < lim && j + 1 < cap; i++)
        buf[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[j] = 0;
    if (n > SHOW_MAX && j + 4 < cap) strcat(buf, "...");
    return buf;
}

const char *sy_pk_join(char *buf, size_t cap, const char *path, const char *name)
{
    int w = path && *path ? snprintf(buf, cap, "%s.%s", path, name)
                          : snprintf(buf, cap, "%s", name);
    if (w < 0 || (size_t)w >= cap) buf[cap - 1] = 0;
    return buf;
}

void sy_pk_expect(sy_pctx *c, const sy_ynode *v, const char *path, const char *what)
{
    if (v->kind == SY_YSCALAR && v->is_null)
        sy_error(c->d, v->loc, "`%s`: expected %s, got nothing", path, what);
    else if (v->kind == SY_YSCALAR) {
        char b[80];
        sy_error(c->d, v->loc, "`%s`: expected %s, got the scalar `%s`", path, what,
                 show(v, b, sizeof b));
    } else
        sy_error(c->d, v->loc, "`%s`: expected %s, got %s", path, what,
                 sy_ynode_kind_name(v->kind));
}

/* ----------------------------------------------------------- name sets */

#define SUGGESTION_BUDGET 100
#define SUGGESTION_MAX_CANDIDATES 2000

const char *sy_pk_nearest(sy_pctx *c, const char *word, const char *const *cands, size_t n)
{
    if (n == 0 || n > SUGGESTION_MAX_CANDIDATES || c->suggestions >= SUGGESTION_BUDGET)
        return NULL;
    c->suggestions++;
    const char **list = sy_xcalloc(n + 1, sizeof *list);
    memcpy(list, cands, n * sizeof *list);
    const char *r = sy_nearest(word, list);
    free(list);
    return r;
}

typedef struct name_ref {
    const char *s;
    size_t i;
} name_ref;

static int cmp_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int r = strcmp(x->s, y->s);
    if (r) return r;
    return x->i < y->i ? -1 : x->i > y->i;
}

size_t *sy_pk_first_of(const char *const *names, size_t n)
{
    size_t *first = sy_xcalloc(n ? n : 1, sizeof *first);
    name_ref *refs = sy_xcalloc(n ? n : 1, sizeof *refs);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = i;
        if (names[i]) refs[m++] = (name_ref){names[i], i};
    }
    qsort(refs, m, sizeof *refs, cmp_ref);
    for (size_t j = 1; j < m; j++)
        if (!strcmp(refs[j].s, refs[j - 1].s)) first[refs[j].i] = first[refs[j - 1].i];
    free(refs);
    return first;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void sy_pk_sort_names(const char **names, size_t n)
{
    if (n > 1) qsort(names, n, sizeof *names, cmp_name);
}

int sy_pk_sorted_has(const char *const *sorted, size_t n, const char *name)
{
    return n && bsearch(&name, sorted, n, sizeof *sorted, cmp_name) != NULL;
}

/* ------------------------------------------------------------ ${VAR} */

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            fputs("switchyard: out of memory\n", stderr);
            abort();
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_wipe(sbuf *b)
{
    if (b->s) {
        memset(b->s, 0, b->cap);
        free(b->s);
    }
    b->s = NULL;
    b->n = b->cap = 0;
}

static int var_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128) return 0;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
    return 1;
}

char *sy_pk_text(sy_pctx *c, const sy_ynode *v, const char *path, unsigned flags, int *from_env,
                 int *unset)
{
    if (from_env) *from_env = 0;
    if (unset) *unset = 0;
    if (!v) return NULL;
    if (v->kind != SY_YSCALAR) {
        sy_pk_expect(c, v, path, "a value");
        return NULL;
    }
    if (v->is_null && !v->quoted) {
        sy_error(c->d, v->loc, "`%s` needs a value", path);
        return NULL;
    }
    const char *s = v->str ? v->str : "";
    if (!strstr(s, "${")) return sy_xstrdup(s);

    sbuf b = {0};
    int missing = 0, bad = 0;
    const char *p = s;
    while (*p) {
        const char *dollar = strstr(p, "${");
        if (!dollar) {
            sb_add(&b, p, strlen(p));
            break;
        }
        sb_add(&b, p, (size_t)(dollar - p));
        const char *name = dollar + 2;
        const char *end = strchr(name, '}');
        if (!end || !var_name_ok(name, (size_t)(end - name))) {
            char sh[80];
            sy_error(c->d, v->loc,
                     "`%s`: `%s` has a bad variable reference: write ${NAME} (letters, digits, _)",
                     path, show(v, sh, sizeof sh));
            bad = 1;
            break;
        }
        char var[130];
        size_t vn = (size_t)(end - name);
        memcpy(var, name, vn);
        var[vn] = 0;
        const char *val = getenv(var);
        if (!val) {
            missing = 1;
            if (flags & SY_PKF_QUIET_UNSET) {
                /* the caller says what it means */
            } else if (flags & SY_PKF_ENV_OPTIONAL) {
                sy_warning(c->d, v->loc,
                           "`%s`: environment variable %s is not set (`${%s}`): treated as not "
                           "given",
                           path, var, var);
            } else if (c->mode == SY_LOAD_SERVE) {
                sy_error(c->d, v->loc, "`%s`: environment variable %s is not set (`${%s}`)", path,
                         var, var);
            } else {
                sy_warning(c->d, v->loc,
                           "`%s`: environment variable %s is not set (`${%s}`); `serve` will "
                           "refuse to start without it",
                           path, var, var);
            }
        } else {
            sb_add(&b, val, strlen(val));
        }
        p = end + 1;
    }
    if (bad || missing) {
        if (missing && unset) *unset = 1;
        sb_wipe(&b);
        return NULL;
    }
    if (from_env) *from_env = 1;
    if (!b.s) sb_add(&b, "", 0);
    return b.s; /* exactly sized buffers are not needed: the caller frees it */
}

char *sy_pk_literal(sy_pctx *c, const sy_ynode *v, const char *path)
{
    if (!v) return NULL;
    if (v->kind != SY_YSCALAR) {
        sy_pk_expect(c, v, path, "a name");
        return NULL;
    }
    if (v->is_null && !v->quoted) {
        sy_error(c->d, v->loc, "`%s` needs a value", path);
        return NULL;
    }
    if (strstr(v->str ? v->str : "", "${")) {
        char sh[80];
        sy_error(c->d, v->loc,
                 "`%s`: `%s`: names are written as they are, not read from the environment",
                 path, show(v, sh, sizeof sh));
        return NULL;
    }
    return sy_xstrdup(v->str);
}

/* Free a string that may hold a secret. */
static void wipe_free(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

/* Typed scalars refuse quoted text ("3" is a string, as the JSON Schema and
 * editors see it) unless it is a ${VAR} reference that needed the quotes. */
static int quoted_number(sy_pctx *c, const sy_ynode *v, const char *path, int from_env,
                         const char *what)
{
    if (!v->quoted || from_env) return 0;
    char sh[80];
    sy_error(c->d, v->loc, "`%s`: expected %s, got the quoted string \"%s\"; remove the quotes",
             path, what, show(v, sh, sizeof sh));
    return 1;
}

static const char *env_note(int from_env)
{
    return from_env ? " (from the environment)" : "";
}

/* One unquoted scalar parsed by parse; on failure "expected WHAT, got ...". */
static int pk_typed(sy_pctx *c, const sy_ynode *v, const char *path, int *unset,
                    const char *what, int (*parse)(const char *t, void *out), void *out)
{
    int env = 0;
    char *t = sy_pk_text(c, v, path, 0, &env, unset);
    if (!t) return -1;
    int rc = -1;
    char sh[80];
    if (quoted_number(c, v, path, env, what)) goto out;
    if (parse(t, out) != 0) {
        sy_error(c->d, v->loc, "`%s`: expected %s, got `%s`%s", path, what,
                 show(v, sh, sizeof sh), env_note(env));
        goto out;
    }
    rc = 0;
out:
    free(t);
    return rc;
}

static int parse_int(const char *t, void *out)
{
    const char *why;
    return sy_parse_int(t, out, &why);
}

static int parse_finite(const char *t, void *out)
{
    const char *why;
    return sy_parse_number(t, out, &why) != 0 || !isfinite(*(double *)out) ? -1 : 0;
}

static int parse_bool(const char *t, void *out)
{
    const char *why;
    return sy_parse_bool(t, out, &why);
}

int sy_pk_int(sy_pctx *c, const sy_ynode *v, const char *path, int64_t *out, int *unset)
{
    return pk_typed(c, v, path, unset, "an integer", parse_int, out);
}

int sy_pk_number(sy_pctx *c, const sy_ynode *v, const char *path, double *out, int *unset)
{
    return pk_typed(c, v, path, unset, "a number", parse_finite, out);
}

int sy_pk_bool(sy_pctx *c, const sy_ynode *v, const char *path, int *out, int *unset)
{
    return pk_typed(c, v, path, unset, "true or false", parse_bool, out);
}

int sy_pk_duration(sy_pctx *c, const sy_ynode *v, const char *path, int64_t *out, int *unset)
{
    int env = 0;
    char *t = sy_pk_text(c, v, path, 0, &env, unset);
    if (!t) return -1;
    int rc = -1;
    const char *why = NULL;
    char sh[80];
    if (sy_parse_duration_ms(t, out, &why) != 0) {
        sy_error(c->d, v->loc, "`%s`: `%s`%s is not a valid duration: %s", path,
                 show(v, sh, sizeof sh), env_note(env),
                 why ? why : "write a number and a unit (ms, s, m or h), e.g. 500ms");
        goto out;
    }
    rc = 0;
out:
    free(t);
    return rc;
}

int sy_pk_percent(sy_pctx *c, const sy_ynode *v, const char *path, double *out, int *unset)
{
    int env = 0;
    char *t = sy_pk_text(c, v, path, 0, &env, unset);
    if (!t) return -1;
    int rc = -1;
    const char *why = NULL;
    char sh[80];
    if (sy_parse_percent(t, out, &why) != 0 || !isfinite(*out)) {
        /* Say "out of range" when it is a number, just not one in 0..100. */
        double n;
        char *pct = strchr(t, '%');
        if (pct && pct[1] == 0) *pct = 0;
        if (sy_parse_number(t, &n, &why) == 0 && isfinite(n))
            sy_error(c->d, v->loc, "`%s`: `%s`%s is out of range: a percentage is 0..100", path,
                     show(v, sh, sizeof sh), env_note(env));
        else
            sy_error(c->d, v->loc,
                     "`%s`: `%s`%s is not a percentage: write a number in 0..100, e.g. 10 or "
                     "99.5%%",
                     path, show(v, sh, sizeof sh), env_note(env));
        goto out;
    }
    rc = 0;
out:
    free(t);
    return rc;
}

const char *sy_pk_url_problem(const char *s)
{
    const char *rest;
    if (!strncmp(s, "http://", 7))
        rest = s + 7;
    else if (!strncmp(s, "https://", 8))
        rest = s + 8;
    else
        return "it must start with http:// or https://";
    if (!*rest || *rest == '/' || *rest == ':') return "it has no host";
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch == 0x7f) return "it contains a space or control character";
        if (ch == '?' || ch == '#') return "a base URL takes no query or fragment";
    }
    if (strlen(s) > SY_URL_MAX / 2) return "it is too long";
    return NULL;
}

char *sy_pk_url(sy_pctx *c, const sy_ynode *v, const char *path, int *unset)
{
    int env = 0;
    char *t = sy_pk_text(c, v, path, 0, &env, unset);
    if (!t) return NULL;
    const char *why = sy_pk_url_problem(t);
    if (why) {
        char sh[80];
        sy_error(c->d, v->loc, "`%s`: `%s`%s is not a usable URL: %s", path,
                 show(v, sh, sizeof sh), env_note(env), why);
        free(t);
        return NULL;
    }
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == '/') t[--n] = 0;
    return t;
}

int sy_pk_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        /* Names go into metric labels, headers and log lines. */
        if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '\\' || ch == ',' || ch == '{' ||
            ch == '}' || ch == '=')
            return 0;
    }
    return 1;
}

char *sy_pk_resolve_path(const sy_pctx *c, const char *path)
{
    if (path[0] == '/' || !c->dir || !strcmp(c->dir, ".")) return sy_xstrdup(path);
    while (path[0] == '.' && path[1] == '/') path += 2;
    size_t n = strlen(c->dir) + strlen(path) + 2;
    char *r = malloc(n);
    if (!r) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    snprintf(r, n, "%s/%s", c->dir, path);
    return r;
}

/* ------------------------------------------------------- generic values */

static void range_error(sy_pctx *c, const sy_ynode *v, const char *path, const sy_pkey *k,
                        const char *val)
{
    if (k->hi >= 1e9)
        sy_error(c->d, v->loc, "`%s`: %s is out of range: must be at least %g", path, val, k->lo);
    else
        sy_error(c->d, v->loc, "`%s`: %s is out of range: must be %g..%g", path, val, k->lo,
                 k->hi);
}

static void store_scalar(sy_pctx *c, const sy_ynode *v, void *base, const sy_pkey *k,
                         const char *path)
{
    void *dst = (char *)base + k->offset;
    int unset = 0, env = 0;
    char sh[80];
    switch (k->type) {
    case SY_PK_STRING: {
        char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
        if (!t) return;
        free(*(char **)dst);
        *(char **)dst = t;
        return;
    }
    case SY_PK_SECRET: {
        char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
        if (!t) return;
        if (!env && *t && v->loc.line > 0) {
            sy_diags_redact(c->d, v->loc, v->len, v->quoted);
            sy_warning(c->d, v->loc,
                       "`%s` holds a secret written into the policy; prefer ${VAR} from the "
                       "environment",
                       path);
        }
        wipe_free(*(char **)dst);
        *(char **)dst = t;
        return;
    }
    case SY_PK_URL: {
        char *t = sy_pk_url(c, v, path, &unset);
        if (!t) return;
        free(*(char **)dst);
        *(char **)dst = t;
        return;
    }
    case SY_PK_PATH: {
        char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
        if (!t) return;
        if (!*t) {
            sy_error(c->d, v->loc, "`%s`: the path is empty", path);
            free(t);
            return;
        }
        free(*(char **)dst);
        *(char **)dst = sy_pk_resolve_path(c, t);
        free(t);
        return;
    }
    case SY_PK_INT: {
        int64_t i;
        if (sy_pk_int(c, v, path, &i, &unset) != 0) return;
        if ((k->flags & SY_PKF_RANGE) && (i < (int64_t)k->lo || i > (int64_t)k->hi)) {
            range_error(c, v, path, k, show(v, sh, sizeof sh));
            return;
        }
        if (i < -2147483647LL || i > 2147483647LL) {
            sy_error(c->d, v->loc, "`%s`: %s is too large", path, show(v, sh, sizeof sh));
            return;
        }
        *(int *)dst = (int)i;
        return;
    }
    case SY_PK_NUMBER: {
        double d;
        if (sy_pk_number(c, v, path, &d, &unset) != 0) return;
        if ((k->flags & SY_PKF_POSITIVE) && !(d > 0)) {
            sy_error(c->d, v->loc, "`%s`: must be greater than 0, got %s", path,
                     show(v, sh, sizeof sh));
            return;
        }
        if ((k->flags & SY_PKF_RANGE) && (d < k->lo || d > k->hi)) {
            range_error(c, v, path, k, show(v, sh, sizeof sh));
            return;
        }
        *(double *)dst = d;
        return;
    }
    case SY_PK_BOOL: {
        int b;
        if (sy_pk_bool(c, v, path, &b, &unset) != 0) return;
        *(int *)dst = b;
        return;
    }
    case SY_PK_DURATION: {
        int64_t ms;
        if (sy_pk_duration(c, v, path, &ms, &unset) != 0) return;
        if ((k->flags & SY_PKF_POSITIVE) && ms <= 0) {
            sy_error(c->d, v->loc, "`%s`: must be longer than 0, got %s", path,
                     show(v, sh, sizeof sh));
            return;
        }
        *(int64_t *)dst = ms;
        return;
    }
    case SY_PK_SIZE: {
        char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
        if (!t) return;
        uint64_t n;
        const char *why = NULL;
        if (sy_parse_size(t, &n, &why) != 0) {
            sy_error(c->d, v->loc, "`%s`: `%s`%s is not a valid size: %s", path,
                     show(v, sh, sizeof sh), env_note(env),
                     why ? why : "write bytes or a number with KiB, MiB or GiB, e.g. 8MiB");
        } else if ((k->flags & SY_PKF_POSITIVE) && n == 0) {
            sy_error(c->d, v->loc, "`%s`: must be greater than 0", path);
        } else {
            *(uint64_t *)dst = n;
        }
        free(t);
        return;
    }
    case SY_PK_PERCENT: {
        double d;
        if (sy_pk_percent(c, v, path, &d, &unset) != 0) return;
        *(double *)dst = d;
        return;
    }
    case SY_PK_ENUM: {
        char *t = sy_pk_text(c, v, path, k->flags, &env, &unset);
        if (!t) return;
        int found = -1;
        for (int i = 0; k->choices[i]; i++)
            if (!strcmp(k->choices[i], t)) found = i;
        if (found < 0) {
            char list[256] = "";
            for (int i = 0; k->choices[i]; i++) {
                if (i) strncat(list, " | ", sizeof list - strlen(list) - 1);
                strncat(list, k->choices[i], sizeof list - strlen(list) - 1);
            }
            const char *near = env ? NULL : sy_nearest(t, (const char *const *)k->choices);
            if (near)
                sy_error(c->d, v->loc, "`%s`: `%s` is not one of %s; did you mean `%s`?", path,
                         show(v, sh, sizeof sh), list, near);
            else
                sy_error(c->d, v->loc, "`%s`: `%s`%s is not one of %s", path,
                         show(v, sh, sizeof sh), env_note(env), list);
        } else {
            *(int *)dst = found;
        }
        free(t);
        return;
    }
    default:
        return;
    }
}

void sy_pk_parse_value(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                       const sy_pkey *k, const char *path)
{
    switch (k->type) {
    case SY_PK_MAP: {
        char *child = (char *)base + k->offset;
        if (k->flags & SY_PKF_PRESENT) *(int *)(child + k->present) = 1;
        sy_pk_parse_map(c, key, v, k->child, child, path, NULL, NULL);
        return;
    }
    case SY_PK_MAP_OF:
    case SY_PK_LIST_OF_MAPS:
    case SY_PK_LIST:
    case SY_PK_CUSTOM:
        k->parse(c, key, v, base, k, path);
        return;
    default:
        store_scalar(c, v, base, k, path);
        return;
    }
}

/* ------------------------------------------------------------- mappings */

static int extra_has(const sy_config_key *extra, const char *name)
{
    if (!extra) return 0;
    if (extra == sy_pk_any_extra) return 1;
    for (const sy_config_key *e = extra; e->name; e++)
        if (!strcmp(e->name, name)) return 1;
    return 0;
}

static const sy_pkey *table_find(const sy_pkey *table, const char *name)
{
    for (const sy_pkey *k = table; k->name; k++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

static void unknown_key(sy_pctx *c, const sy_ynode *key, const sy_pkey *table, const char *path,
                        const sy_config_key *extra, const char *extra_owner)
{
    const char *cands[128];
    size_t n = 0;
    char valid[1024] = "";
    for (const sy_pkey *k = table; k->name && n < 120; k++) cands[n++] = k->name;
    size_t n_core = n;
    if (extra && extra != sy_pk_any_extra)
        for (const sy_config_key *e = extra; e->name && n < 127; e++)
            if (!table_find(table, e->name)) cands[n++] = e->name;
    cands[n] = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i) strncat(valid, ", ", sizeof valid - strlen(valid) - 1);
        strncat(valid, cands[i], sizeof valid - strlen(valid) - 1);
        if (i + 1 == n && n > n_core && extra_owner) {
            char tail[160];
            snprintf(tail, sizeof tail, " (the last %zu from plugin `%s`)", n - n_core,
                     extra_owner);
            strncat(valid, tail, sizeof valid - strlen(valid) - 1);
        }
    }
    char sh[80];
    const char *near = sy_nearest(key->str ? key->str : "", cands);
    char where[300];
    if (path && *path)
        snprintf(where, sizeof where, "`%s`: unknown key", path);
    else
        snprintf(where, sizeof where, "unknown key");
    if (near)
        sy_error(c->d, key->loc, "%s `%s`; did you mean `%s`? Valid keys here: %s", where,
                 show(key, sh, sizeof sh), near, valid);
    else
        sy_error(c->d, key->loc, "%s `%s`; valid keys here: %s", where, show(key, sh, sizeof sh),
                 valid);
}

void sy_pk_parse_map(sy_pctx *c, const sy_ynode *key, const sy_ynode *map, const sy_pkey *table,
                     void *base, const char *path, const sy_config_key *extra,
                     const char *extra_owner)
{
    if (!map) return;
    if (map->kind == SY_YSCALAR && map->is_null && !map->quoted) {
        map = NULL; /* "retry:" with nothing under it: an empty mapping */
    } else if (map->kind != SY_YMAP) {
        sy_pk_expect(c, map, path && *path ? path : "the policy", "a mapping");
        return;
    }
    char sub[512];
    for (size_t i = 0; map && i < map->n_pairs; i++) {
        const sy_ynode *kn = map->pairs[i].key;
        const sy_ynode *vn = map->pairs[i].value;
        if (!kn || kn->kind != SY_YSCALAR || !kn->str) continue;
        const sy_pkey *k = table_find(table, kn->str);
        if (!k) {
            if (!extra_has(extra, kn->str)) unknown_key(c, kn, table, path, extra, extra_owner);
            continue;
        }
        if ((k->flags & SY_PKF_EARLY) && c->early_done) continue;
        sy_pk_parse_value(c, kn, vn, base, k, sy_pk_join(sub, sizeof sub, path, k->name));
    }
    for (const sy_pkey *k = table; k->name; k++) {
        if (!(k->flags & SY_PKF_REQUIRED)) continue;
        if (map && sy_ymap_get(map, k->name)) continue;
        sy_loc loc = key ? key->loc : (map ? map->loc : (sy_loc){c->file, 1, 1});
        if (path && *path)
            sy_error(c->d, loc, "`%s`: missing required key `%s` (%s)", path, k->name, k->help);
        else
            sy_error(c->d, loc, "missing required key `%s` (%s)", k->name, k->help);
    }
}

/* ------------------------------------------------------------- defaults */

void sy_pk_defaults(sy_pctx *c, const sy_pkey *table, void *base)
{
    for (const sy_pkey *k = table; k->name; k++) {
        if (k->type == SY_PK_MAP) {
            sy_pk_defaults(c, k->child, (char *)base + k->offset);
            continue;
        }
        if (!k->def) continue;
        if (k->def[0] == '[' || k->def[0] == '{') {
            /* A list default: parse it as YAML, with its own diagnostics
             * (a bad default is a bug, reported as one). */
            char text[256];
            snprintf(text, sizeof text, "v: %s\n", k->def);
            sy_diags scratch;
            sy_diags_init(&scratch);
            sy_ydoc doc = {0};
            if (sy_ydoc_load_buffer(&doc, "<default>", text, strlen(text), &scratch) == 0 &&
                doc.root) {
                const sy_ynode *v = sy_ymap_get(doc.root, "v");
                if (v) sy_pk_parse_value(c, NULL, v, base, k, k->name);
            } else {
                sy_error(c->d, ((sy_loc){c->file, 0, 0}), "internal: bad default for `%s`",
                         k->name);
            }
            sy_ydoc_free(&doc);
            sy_diags_free(&scratch);
            continue;
        }
        sy_ynode n;
        memset(&n, 0, sizeof n);
        n.kind = SY_YSCALAR;
        n.str = (char *)k->def;
        n.len = strlen(k->def);
        n.loc = (sy_loc){c->file, 0, 0};
        sy_pk_parse_value(c, NULL, &n, base, k, k->name);
    }
}
