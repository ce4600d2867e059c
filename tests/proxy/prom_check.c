/* prom_check.c - strict Prometheus text-format checker for tests (see prom_check.h). */
#include "prom_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                     \
    do {                                                              \
        snprintf(err, errlen, "line %d: ", lineno);                   \
        size_t used_ = strlen(err);                                   \
        snprintf(err + used_, errlen - used_, __VA_ARGS__);           \
        goto fail;                                                    \
    } while (0)

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        abort();
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        abort();
    return p;
}

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* Metric name at s (colons allowed unless label): returns its length, 0 if none. */
static size_t scan_name(const char *s, const char *end, bool label)
{
    size_t n = 0;
    if (s >= end || !name_start(s[0]) || (label && s[0] == ':'))
        return 0;
    while (s + n < end && name_char(s[n]) && !(label && s[n] == ':'))
        n++;
    return n;
}

static bool valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        cp = c & (0x3f >> (len - 1));
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* A Go ParseFloat-style number, or +Inf/-Inf/Inf/NaN. */
static bool parse_value(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcmp(buf, "+Inf") || !strcmp(buf, "Inf")) {
        *out = INFINITY;
        return true;
    }
    if (!strcmp(buf, "-Inf")) {
        *out = -INFINITY;
        return true;
    }
    if (!strcmp(buf, "NaN")) {
        *out = NAN;
        return true;
    }
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (!strchr(".eE+-", c))
            return false;
    }
    if (!digit)
        return false;
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0';
}

static int family_find(const prom_doc *doc, const char *name, size_t n)
{
    for (size_t i = 0; i < doc->nf; i++)
        if (strlen(doc->families[i].name) == n && !memcmp(doc->families[i].name, name, n))
            return (int)i;
    return -1;
}

static int family_add(prom_doc *doc, const char *name, size_t n)
{
    if (doc->nf == doc->fcap) {
        doc->fcap = doc->fcap ? doc->fcap * 2 : 16;
        doc->families = xrealloc(doc->families, doc->fcap * sizeof *doc->families);
    }
    prom_family *f = &doc->families[doc->nf];
    memset(f, 0, sizeof *f);
    f->name = xstrndup(name, n);
    return (int)doc->nf++;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n > k && !memcmp(s + n - k, suf, k);
}

/* The family a sample name belongs to, or -1. */
static int sample_family(const prom_doc *doc, const char *name, size_t n)
{
    int f = family_find(doc, name, n);
    if (f >= 0 && doc->families[f].type[0])
        return f;
    static const char *const sufs[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < 3; i++) {
        if (!ends_with(name, n, sufs[i]))
            continue;
        int g = family_find(doc, name, n - strlen(sufs[i]));
        if (g < 0)
            continue;
        const char *t = doc->families[g].type;
        if (!strcmp(t, "histogram") || (i > 0 && !strcmp(t, "summary")))
            return g;
    }
    return -1;
}

/* A family starts (header or sample): close the one before it. */
static bool family_enter(prom_doc *doc, int *open_family, int f)
{
    if (f == *open_family)
        return true;
    if (doc->families[f].closed)
        return false;
    if (*open_family >= 0)
        doc->families[*open_family].closed = true;
    *open_family = f;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const prom_label *)a)->name, ((const prom_label *)b)->name);
}

/* "name\x01l1=v1\x01..." with labels sorted, skipping label `skip` (or none). */
static char *series_key(const prom_sample *s, const char *name, const char *skip)
{
    prom_label *ls = xrealloc(NULL, (size_t)(s->nlabels + 1) * sizeof *ls);
    int n = 0;
    size_t len = strlen(name) + 2;
    for (int i = 0; i < s->nlabels; i++) {
        if (skip && !strcmp(s->labels[i].name, skip))
            continue;
        ls[n++] = s->labels[i];
        len += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 3;
    }
    qsort(ls, (size_t)n, sizeof *ls, cmp_label);
    char *k = xrealloc(NULL, len), *p = k;
    p += sprintf(p, "%s", name);
    for (int i = 0; i < n; i++)
        p += sprintf(p, "\x01%s=%s", ls[i].name, ls[i].value);
    free(ls);
    return k;
}

static const char *label_get(const prom_sample *s, const char *name)
{
    for (int i = 0; i < s->nlabels; i++)
        if (!strcmp(s->labels[i].name, name))
            return s->labels[i].value;
    return NULL;
}

/* Histogram rules, per label set (minus le). */
static int check_histograms(prom_doc *doc, char *err, size_t errlen)
{
    int lineno = 0, rc = -1;
    size_t *idx = xrealloc(NULL, (doc->n + 1) * sizeof *idx);
    char **keys = xrealloc(NULL, (doc->n + 1) * sizeof *keys);
    size_t m = 0;
    for (size_t fi = 0; fi < doc->nf; fi++) {
        prom_family *f = &doc->families[fi];
        if (strcmp(f->type, "histogram"))
            continue;
        size_t fl = strlen(f->name);
        for (size_t i = 0; i < m; i++)
            free(keys[i]);
        m = 0;
        for (size_t i = 0; i < doc->n; i++) {
            prom_sample *s = &doc->samples[i];
            if (s->family != (int)fi)
                continue;
            lineno = s->line;
            bool bucket = !strcmp(s->name + fl, "_bucket");
            if (!strcmp(s->name, f->name))
                FAIL("histogram %s has a bare sample", f->name);
            if (bucket != (label_get(s, "le") != NULL))
                FAIL("%s: le label belongs on _bucket samples only", s->name);
            idx[m] = i;
            keys[m++] = series_key(s, f->name, "le");
        }
        /* each group is checked once, from its first sample */
        for (size_t a = 0; a < m; a++) {
            bool seen = false;
            for (size_t b = 0; b < a && !seen; b++)
                seen = !strcmp(keys[a], keys[b]);
            if (seen)
                continue;
            double last_le = -INFINITY, last_count = 0, inf_count = -1, count = -1;
            bool has_sum = false;
            for (size_t b = a; b < m; b++) {
                if (strcmp(keys[a], keys[b]))
                    continue;
                prom_sample *t = &doc->samples[idx[b]];
                lineno = t->line;
                const char *suffix = t->name + fl;
                if (!strcmp(suffix, "_bucket")) {
                    double le;
                    const char *lv = label_get(t, "le");
                    if (!parse_value(lv, strlen(lv), &le) || isnan(le))
                        FAIL("bad le \"%s\"", lv);
                    if (inf_count >= 0)
                        FAIL("bucket after le=\"+Inf\"");
                    if (le <= last_le)
                        FAIL("le not increasing (%s)", lv);
                    if (t->value < last_count)
                        FAIL("bucket counts not cumulative");
                    last_le = le;
                    last_count = t->value;
                    if (isinf(le))
                        inf_count = t->value;
                } else if (!strcmp(suffix, "_count")) {
                    if (count >= 0)
                        FAIL("two _count samples");
                    count = t->value;
                } else if (!strcmp(suffix, "_sum")) {
                    if (has_sum)
                        FAIL("two _sum samples");
                    has_sum = true;
                } else {
                    FAIL("unexpected histogram sample %s", t->name);
                }
            }
            if (inf_count < 0)
                FAIL("histogram %s: no le=\"+Inf\" bucket", f->name);
            if (count < 0)
                FAIL("histogram %s: no _count", f->name);
            if (!has_sum)
                FAIL("histogram %s: no _sum", f->name);
            if (count != inf_count)
                FAIL("histogram %s: _count %g != +Inf bucket %g", f->name, count, inf_count);
        }
    }
    rc = 0;
fail:
    for (size_t i = 0; i < m; i++)
        free(keys[i]);
    free(keys);
    free(idx);
    return rc;
}

int prom_parse(const char *text, size_t len, prom_doc *doc, char *err, size_t errlen)
{
    memset(doc, 0, sizeof *doc);
    err[0] = '\0';
    int open_family = -1;
    int lineno = 0;
    const char *p = text, *end = text + len;
    if (len == 0 || text[len - 1] != '\n') {
        lineno = 0;
        FAIL("text does not end with a newline");
    }
    if (memchr(text, '\0', len))
        FAIL("NUL byte in text");
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        lineno++;
        if (eol == p)
            FAIL("empty line");
        if (eol[-1] == '\r' || eol[-1] == ' ' || eol[-1] == '\t')
            FAIL("trailing whitespace");
        if (p[0] == '#') {
            bool help = eol - p > 7 && !memcmp(p, "# HELP ", 7);
            bool type = eol - p > 7 && !memcmp(p, "# TYPE ", 7);
            if (help || type) {
                const char *q = p + 7;
                size_t n = scan_name(q, eol, false);
                if (n == 0)
                    FAIL("bad metric name in %s", help ? "HELP" : "TYPE");
                int f = family_find(doc, q, n);
                if (f < 0)
                    f = family_add(doc, q, n);
                if (!family_enter(doc, &open_family, f))
                    FAIL("family %s continues after another family", doc->families[f].name);
                q += n;
                if (help) {
                    if (doc->families[f].has_help)
                        FAIL("second HELP for %s", doc->families[f].name);
                    doc->families[f].has_help = true;
                    if (q < eol && *q != ' ')
                        FAIL("HELP name not followed by a space");
                    for (const char *c = q; c < eol; c++) {
                        if (*c == '\\') {
                            if (c + 1 >= eol || (c[1] != '\\' && c[1] != 'n'))
                                FAIL("bad escape in HELP");
                            c++;
                        }
                    }
                    if (!valid_utf8((const unsigned char *)q, (size_t)(eol - q)))
                        FAIL("HELP is not UTF-8");
                } else {
                    if (doc->families[f].type[0])
                        FAIL("second TYPE for %s", doc->families[f].name);
                    for (size_t i = 0; i < doc->n; i++)
                        if (doc->samples[i].family == f)
                            FAIL("TYPE after samples of %s", doc->families[f].name);
                    if (q >= eol || *q != ' ')
                        FAIL("TYPE without a type");
                    q++;
                    size_t tl = (size_t)(eol - q);
                    static const char *const types[] = {"counter", "gauge", "histogram",
                                                        "summary", "untyped"};
                    bool ok = false;
                    for (int i = 0; i < 5; i++)
                        if (strlen(types[i]) == tl && !memcmp(q, types[i], tl))
                            ok = true;
                    if (!ok)
                        FAIL("unknown TYPE \"%.*s\"", (int)tl, q);
                    memcpy(doc->families[f].type, q, tl);
                    doc->families[f].type[tl] = '\0';
                }
            }
            p = eol + 1;
            continue;
        }

        /* a sample */
        if (doc->n == doc->cap) {
            doc->cap = doc->cap ? doc->cap * 2 : 64;
            doc->samples = xrealloc(doc->samples, doc->cap * sizeof *doc->samples);
        }
        prom_sample *s = &doc->samples[doc->n++];
        memset(s, 0, sizeof *s);
        s->line = lineno;
        const char *q = p;
        size_t n = scan_name(q, eol, false);
        if (n == 0)
            FAIL("bad metric name");
        s->name = xstrndup(q, n);
        q += n;
        s->family = sample_family(doc, s->name, n);
        if (s->family < 0)
            FAIL("sample %s has no TYPE", s->name);
        if (!doc->families[s->family].has_help)
            FAIL("sample %s has no HELP", s->name);
        if (!family_enter(doc, &open_family, s->family))
            FAIL("family %s continues after another family", doc->families[s->family].name);
        if (q < eol && *q == '{') {
            q++;
            while (q < eol && *q != '}') {
                size_t ln = scan_name(q, eol, true);
                if (ln == 0)
                    FAIL("bad label name");
                if (ln >= 2 && q[0] == '_' && q[1] == '_')
                    FAIL("reserved label name");
                char *lname = xstrndup(q, ln);
                for (int i = 0; i < s->nlabels; i++) {
                    if (!strcmp(s->labels[i].name, lname)) {
                        free(lname);
                        FAIL("duplicate label %s", s->labels[i].name);
                    }
                }
                s->labels = xrealloc(s->labels, (size_t)(s->nlabels + 1) * sizeof *s->labels);
                s->labels[s->nlabels].name = lname;
                s->labels[s->nlabels].value = NULL;
                s->nlabels++;
                q += ln;
                if (q + 1 >= eol || q[0] != '=' || q[1] != '"')
                    FAIL("expected =\" after label name");
                q += 2;
                char *val = xrealloc(NULL, (size_t)(eol - q) + 1);
                size_t vn = 0;
                while (q < eol && *q != '"') {
                    if (*q == '\\') {
                        if (q + 1 >= eol) {
                            free(val);
                            FAIL("dangling backslash");
                        }
                        char c = q[1];
                        if (c == '\\' || c == '"')
                            val[vn++] = c;
                        else if (c == 'n')
                            val[vn++] = '\n';
                        else {
                            free(val);
                            FAIL("bad escape \\%c in label value", c);
                        }
                        q += 2;
                    } else {
                        val[vn++] = *q++;
                    }
                }
                val[vn] = '\0';
                s->labels[s->nlabels - 1].value = val;
                if (q >= eol)
                    FAIL("unterminated label value");
                if (!valid_utf8((const unsigned char *)val, vn))
                    FAIL("label value is not UTF-8");
                q++;
                if (q < eol && *q == ',')
                    q++;
                else if (q < eol && *q != '}')
                    FAIL("expected , or } after label value");
            }
            if (q >= eol)
                FAIL("unterminated label set");
            q++;
        }
        if (q >= eol || *q != ' ')
            FAIL("expected one space before the value");
        q++;
        const char *vend = memchr(q, ' ', (size_t)(eol - q));
        if (!vend)
            vend = eol;
        if (!parse_value(q, (size_t)(vend - q), &s->value))
            FAIL("bad value \"%.*s\"", (int)(vend - q), q);
        if (vend < eol) {
            const char *ts = vend + 1;
            if (ts >= eol)
                FAIL("empty timestamp");
            for (const char *c = ts; c < eol; c++)
                if (!((*c >= '0' && *c <= '9') || (c == ts && *c == '-')))
                    FAIL("bad timestamp");
        }
        if (!strcmp(doc->families[s->family].type, "counter") && !(s->value >= 0))
            FAIL("counter %s is negative or NaN", s->name);
        p = eol + 1;
    }

    /* duplicate series */
    {
        char **keys = xrealloc(NULL, (doc->n + 1) * sizeof *keys);
        for (size_t i = 0; i < doc->n; i++)
            keys[i] = series_key(&doc->samples[i], doc->samples[i].name, NULL);
        qsort(keys, doc->n, sizeof *keys, cmp_str);
        int dup = -1;
        for (size_t i = 1; i < doc->n && dup < 0; i++)
            if (!strcmp(keys[i - 1], keys[i]))
                dup = (int)i;
        if (dup >= 0)
            snprintf(err, errlen, "duplicate series %s", keys[dup]);
        for (size_t i = 0; i < doc->n; i++)
            free(keys[i]);
        free(keys);
        if (dup >= 0)
            return -1;
    }
    return check_histograms(doc, err, errlen);
fail:
    return -1;
}

void prom_doc_free(prom_doc *doc)
{
    for (size_t i = 0; i < doc->n; i++) {
        prom_sample *s = &doc->samples[i];
        for (int k = 0; k < s->nlabels; k++) {
            free(s->labels[k].name);
            free(s->labels[k].value);
        }
        free(s->labels);
        free(s->name);
    }
    for (size_t i = 0; i < doc->nf; i++)
        free(doc->families[i].name);
    free(doc->samples);
    free(doc->families);
    memset(doc, 0, sizeof *doc);
}

#define MAX_PAIRS 16

static int collect_pairs(va_list ap, const char *pairs[MAX_PAIRS][2])
{
    int n = 0;
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (n < MAX_PAIRS) {
            pairs[n][0] = k;
            pairs[n][1] = v;
            n++;
        }
    }
    return n;
}

static bool has_pairs(const prom_sample *s, const char *pairs[MAX_PAIRS][2], int n)
{
    for (int i = 0; i < n; i++) {
        const char *v = label_get(s, pairs[i][0]);
        if (!v || strcmp(v, pairs[i][1]))
            return false;
    }
    return true;
}

bool prom_get(const prom_doc *doc, double *out, const char *name, ...)
{
    const char *pairs[MAX_PAIRS][2];
    va_list ap;
    va_start(ap, name);
    int n = collect_pairs(ap, pairs);
    va_end(ap);
    for (size_t i = 0; i < doc->n; i++) {
        const prom_sample *s = &doc->samples[i];
        if (!strcmp(s->name, name) && s->nlabels == n && has_pairs(s, pairs, n)) {
            *out = s->value;
            return true;
        }
    }
    return false;
}

double prom_sum(const prom_doc *doc, const char *name, ...)
{
    const char *pairs[MAX_PAIRS][2];
    va_list ap;
    va_start(ap, name);
    int n = collect_pairs(ap, pairs);
    va_end(ap);
    double sum = 0;
    for (size_t i = 0; i < doc->n; i++) {
        const prom_sample *s = &doc->samples[i];
        if (!strcmp(s->name, name) && has_pairs(s, pairs, n))
            sum += s->value;
    }
    return sum;
}

size_t prom_count(const prom_doc *doc, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->n; i++)
        if (!strcmp(doc->samples[i].name, name))
            n++;
    return n;
}

const prom_family *prom_family_get(const prom_doc *doc, const char *name)
{
    int f = family_find(doc, name, strlen(name));
    return f >= 0 ? &doc->families[f] : NULL;
}
