/* json_scan.c - strict JSON validation with top-level field capture (see json_scan.h). */
#include "json_scan.h"

#include <stdint.h>
#include <string.h>

typedef struct scanner {
    const char *p, *end;
    const char *why;
    int strict;       /* sy_json_scan_request: note keys that make routing ambiguous */
    const char *ambiguous; /* the first such problem, or NULL */
    size_t which;     /* the field it concerns */
    sy_json_field *noted; /* sy_json_scan_request_noting: keys found, never refused */
    unsigned *noted_count;
    size_t n_noted;
} scanner;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static int fail(scanner *s, const char *why)
{
    if (!s->why) s->why = why;
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, unsigned *v);
static size_t put_utf8(char *out, unsigned cp);

/* Bytes that end a run of plain string content: '"', '\\' and controls.
 * Bytes from 0x80 up are plain: the scanner does not validate UTF-8. */
static const unsigned char string_stop[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The stop bytes of an 8-byte word (SWAR): the high bit of each byte that is
 * below 0x20, '"' or '\\' may be set, and the word has a stop byte exactly when
 * the mask is not 0. Each term is the classic "has a byte less than n" test,
 * (x - n*ONES) & ~x & HIGHS: x = w ^ 0x02 in each byte is below 0x21 just when
 * the byte is a control or '"' (0x22 becomes 0x20, 0x20 becomes 0x22), and
 * x = w ^ '\\' is below 1 just for a backslash. Those XORs keep each byte's high
 * bit, so ~w stands for ~x in both (bytes from 0x80 up are never flagged).
 * A borrow starts only at a byte that really is a stop byte and runs only
 * towards the more significant end ('#' or ']' above a stop byte can be
 * flagged), so the least significant flag is always exact. */
static inline uint64_t stop_mask(uint64_t w)
{
    uint64_t control_or_quote = (w ^ (0x02 * ONES)) - 0x21 * ONES;
    uint64_t backslash = (w ^ ('\\' * ONES)) - ONES;
    return (control_or_quote | backslash) & ~w & HIGHS;
}

/* Little-endian, the least significant flag of stop_mask is the first stop
 * byte in memory; elsewhere (big-endian, or a compiler that does not say) a
 * word with a flag is finished bytewise with the table. SY_JSON_SCAN_NO_CTZ
 * forces that path (to try it on a little-endian machine), and
 * SY_JSON_SCAN_BYTEWISE skips the words altogether: tests/gateway/
 * test_json_scan.c builds this file so, as the reference for the word loop. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(SY_JSON_SCAN_NO_CTZ)
#define WORD_FINDS_STOP 1
#else
#define WORD_FINDS_STOP 0
#endif

/* The first byte in [p, end) that ends plain string content, or end. Reads
 * 8-byte words (memcpy: no alignment assumed) while 8 bytes are left, then
 * goes bytewise; never reads at or past end. */
static inline const char *skip_plain(const char *p, const char *end)
{
#ifndef SY_JSON_SCAN_BYTEWISE
    const char *words_end = p + ((size_t)(end - p) & ~(size_t)7);
    for (; p != words_end; p += 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        uint64_t m = stop_mask(w);
        if (m) {
#if WORD_FINDS_STOP
            return p + ((unsigned)__builtin_ctzll(m) >> 3);
#else
            break; /* the table finds it in this word */
#endif
        }
    }
#endif
    while (p < end && !string_stop[(unsigned char)*p]) p++;
    return p;
}

/* At an opening quote: scan to after the closing one. */
static int scan_string(scanner *s, const char **start, size_t *len, int *escaped)
{
    s->p++; /* the quote */
    const char *b = s->p;
    int esc = 0;
    while (s->p < s->end) {
        /* Skipping plain content is most of the scanner's work on a chat body. */
        s->p = skip_plain(s->p, s->end);
        if (s->p >= s->end) break;
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *start = b;
            *len = (size_t)(s->p - b);
            *escaped = esc;
            s->p++;
            return 0;
        }
        if (c < 0x20) return fail(s, "a raw control character inside a JSON string");
        if (c == '\\') {
            esc = 1;
            if (++s->p >= s->end) break;
            switch (*s->p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                s->p++;
                continue;
            case 'u': {
                /* Unicode escapes must form whole characters: a high
                 * surrogate needs its low half right after it. */
                unsigned cp;
                if (s->end - s->p < 5 || hex4(s->p + 1, &cp) != 0)
                    return fail(s, "a bad \\u escape in a JSON string");
                s->p += 5;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(s, "a lone low surrogate escape in a JSON string");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        hex4(s->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(s, "a lone high surrogate escape in a JSON string");
                    s->p += 6;
                }
                continue;
            }
            default:
                return fail(s, "a bad escape in a JSON string");
            }
        }
        s->p++;
    }
    return fail(s, "an unterminated JSON string");
}

static int scan_number(scanner *s)
{
    const char *q = s->p;
    if (q < s->end && *q == '-') q++;
    if (q >= s->end) return fail(s, "a bad JSON number");
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < s->end && *q >= '0' && *q <= '9') q++;
    } else {
        return fail(s, "a bad JSON number");
    }
    if (q < s->end && *q == '.') {
        q++;
        if (q >= s->end || *q < '0' || *q > '9') return fail(s, "a bad JSON number");
        while (q < s->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < s->end && (*q == '+' || *q == '-')) q++;
        if (q >= s->end || *q < '0' || *q > '9') return fail(s, "a bad JSON number");
        while (q < s->end && *q >= '0' && *q <= '9') q++;
    }
    s->p = q;
    return 0;
}

static int scan_literal(scanner *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return fail(s, "an unexpected character in the JSON body");
    s->p += n;
    return 0;
}

static int scan_value(scanner *s, int depth, sy_json_type *type);

#define KEY_OTHER 0
#define KEY_SAME 1
#define KEY_SAME_UP_TO_NUL 2 /* "model\u0000...": a C parser cuts it to "model" */

/* key_is for a key with escapes: decode as it compares. */
static int key_is_escaped(const char *k, size_t klen, const char *name)
{
    size_t nl = strlen(name);
    size_t o = 0; /* bytes of name matched so far */
    for (size_t i = 0; i < klen;) {
        char buf[4];
        size_t bl = 1;
        if (k[i] != '\\') {
            buf[0] = k[i++];
        } else {
            char e = k[i + 1];
            i += 2;
            switch (e) {
            case 'b': buf[0] = '\b'; break;
            case 'f': buf[0] = '\f'; break;
            case 'n': buf[0] = '\n'; break;
            case 'r': buf[0] = '\r'; break;
            case 't': buf[0] = '\t'; break;
            case 'u': {
                unsigned cp = 0, lo = 0; /* set by hex4; initialised for -O3 -Werror (maybe-uninitialized) */
                hex4(k + i, &cp);
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    hex4(k + i + 2, &lo);
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) return o == nl ? KEY_SAME_UP_TO_NUL : KEY_OTHER;
                bl = put_utf8(buf, cp);
                break;
            }
            default: buf[0] = e; break; /* '"', '\\', '/' */
            }
        }
        if (o + bl > nl || memcmp(name + o, buf, bl) != 0) return KEY_OTHER;
        o += bl;
    }
    return o == nl ? KEY_SAME : KEY_OTHER;
}

/* Compare a key (the bytes between its quotes, escapes already checked) with
 * name as a parser that decodes it sees it. Every top-level key is compared
 * with every wanted name: the plain case stays small enough to inline, and
 * most keys differ in their first byte (no strlen then). */
static inline int key_is(const char *k, size_t klen, int escaped, const char *name)
{
    if (escaped) return key_is_escaped(k, klen, name);
    if (klen && k[0] != name[0]) return KEY_OTHER;
    return strlen(name) == klen && memcmp(k, name, klen) == 0 ? KEY_SAME : KEY_OTHER;
}

/* Fill in field f from the value just scanned, vstart up to s->p. */
static void set_field(const scanner *s, sy_json_field *f, const char *vstart, sy_json_type t)
{
    f->type = t;
    if (t == SY_JSON_STRING) {
        /* Re-scan the string to get its inner span. */
        scanner rs = {.p = vstart, .end = s->p};
        scan_string(&rs, &f->val, &f->len, &f->escaped);
    } else {
        f->val = vstart;
        f->len = (size_t)(s->p - vstart);
        f->escaped = 0;
    }
}

/* A top-level key was scanned: count it in the noted keys it is (exactly:
 * "key\u0000..." is another key here), the first occurrence's value kept. */
static void take_noted(scanner *s, const char *key, size_t klen, int kesc, const char *vstart,
                       sy_json_type t)
{
    for (size_t i = 0; i < s->n_noted; i++) {
        if (key_is(key, klen, kesc, s->noted[i].name) != KEY_SAME) continue;
        if (s->noted_count[i]++ == 0) set_field(s, &s->noted[i], vstart, t);
    }
}

/* A top-level key and its value were scanned: fill in the fields it is. */
static void take_field(scanner *s, sy_json_field *fields, size_t nf, const char *key, size_t klen,
                       int kesc, const char *vstart, sy_json_type t)
{
    if (s->n_noted) take_noted(s, key, klen, kesc, vstart, t);
    for (size_t i = 0; i < nf; i++) {
        sy_json_field *f = &fields[i];
        int m = key_is(key, klen, kesc, f->name);
        if (m == KEY_OTHER) continue;
        if (m == KEY_SAME_UP_TO_NUL || f->type != SY_JSON_ABSENT) {
            /* Lenient: the first one wins, as with cJSON. */
            if (s->strict && !s->ambiguous) {
                s->ambiguous = m == KEY_SAME_UP_TO_NUL
                                   ? "is followed by \\u0000 in a key, and a parser that "
                                     "stops at the NUL reads that key as this one"
                                   : "appears more than once, and JSON parsers differ on which "
                                     "one counts";
                s->which = i;
            }
            continue;
        }
        set_field(s, f, vstart, t);
    }
}

static int scan_container(scanner *s, int depth, int object, sy_json_field *fields, size_t nf)
{
    if (depth > SY_JSON_MAX_DEPTH) return fail(s, "the JSON body is nested too deeply");
    char close = object ? '}' : ']';
    s->p++; /* the opener */
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        int kesc = 0;
        if (object) {
            if (s->p >= s->end || *s->p != '"') return fail(s, "a JSON object key must be a string");
            if (scan_string(s, &key, &klen, &kesc) != 0) return -1;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return fail(s, "a ':' is missing after a JSON key");
            s->p++;
            skip_ws(s);
        }
        const char *vstart = s->p;
        sy_json_type t;
        if (scan_value(s, depth + 1, &t) != 0) return -1;
        if (fields || (object && depth == 1 && s->n_noted))
            take_field(s, fields, nf, key, klen, kesc, vstart, t);
        skip_ws(s);
        if (s->p >= s->end) return fail(s, "the JSON body ends too early");
        if (*s->p == ',') {
            s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == close) return fail(s, "a trailing comma in the JSON body");
            continue;
        }
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        return fail(s, object ? "a ',' or '}' is missing in a JSON object"
                              : "a ',' or ']' is missing in a JSON array");
    }
}

static int scan_value(scanner *s, int depth, sy_json_type *type)
{
    if (s->p >= s->end) return fail(s, "the JSON body ends too early");
    const char *st;
    size_t sl;
    int se;
    switch (*s->p) {
    case '"': *type = SY_JSON_STRING; return scan_string(s, &st, &sl, &se);
    case '{': *type = SY_JSON_OBJECT; return scan_container(s, depth, 1, NULL, 0);
    case '[': *type = SY_JSON_ARRAY; return scan_container(s, depth, 0, NULL, 0);
    case 't': *type = SY_JSON_TRUE; return scan_literal(s, "true", 4);
    case 'f': *type = SY_JSON_FALSE; return scan_literal(s, "false", 5);
    case 'n': *type = SY_JSON_NULL; return scan_literal(s, "null", 4);
    default: *type = SY_JSON_NUMBER; return scan_number(s);
    }
}

static void clear_fields(sy_json_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fields[i].type = SY_JSON_ABSENT;
        fields[i].val = NULL;
        fields[i].len = 0;
        fields[i].escaped = 0;
    }
}

static int scan_top(scanner *s, sy_json_field *fields, size_t n_fields, const char **why)
{
    clear_fields(fields, n_fields);
    clear_fields(s->noted, s->n_noted);
    for (size_t i = 0; i < s->n_noted; i++) s->noted_count[i] = 0;
    skip_ws(s);
    if (s->p >= s->end || *s->p != '{') {
        *why = s->p >= s->end ? "the request body is empty" : "the request body is not a JSON object";
        return -1;
    }
    if (scan_container(s, 1, 1, fields, n_fields) != 0) {
        *why = s->why;
        return -1;
    }
    skip_ws(s);
    if (s->p != s->end) {
        *why = "unexpected data after the JSON object";
        return -1;
    }
    return 0;
}

int sy_json_scan_object(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                        const char **why)
{
    scanner s = {.p = p, .end = p + n};
    return scan_top(&s, fields, n_fields, why);
}

int sy_json_scan_request_noting(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                                sy_json_field *noted, unsigned *noted_count, size_t n_noted,
                                const char **why, size_t *which)
{
    scanner s = {.p = p, .end = p + n, .strict = 1, .noted = noted, .noted_count = noted_count,
                 .n_noted = noted ? n_noted : 0};
    *which = n_fields;
    if (scan_top(&s, fields, n_fields, why) != 0) return -1;
    if (!s.ambiguous) return 0;
    *why = s.ambiguous;
    *which = s.which;
    return -2;
}

int sy_json_scan_request(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                         const char **why, size_t *which)
{
    return sy_json_scan_request_noting(p, n, fields, n_fields, NULL, NULL, 0, why, which);
}

size_t sy_json_field_raw(const sy_json_field *f, const char **start)
{
    if (f->type == SY_JSON_ABSENT) {
        *start = NULL;
        return 0;
    }
    if (f->type == SY_JSON_STRING) {
        *start = f->val - 1; /* the opening quote */
        return f->len + 2;
    }
    *start = f->val;
    return f->len;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const char *s, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0) return -1;
        r = (r << 4) | (unsigned)h;
    }
    *v = r;
    return 0;
}

long sy_json_unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (o + 5 > cap) return -1;
        char c = s[i];
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        if (++i >= len) return -1;
        char e = s[i++];
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (i + 4 > len || hex4(s + i, &cp) != 0) return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            if (cp == 0) return -1; /* a NUL would cut the C string short */
            o += put_utf8(out + o, cp);
            break;
        }
        default: return -1;
        }
    }
    if (o >= cap) return -1;
    out[o] = '\0';
    return (long)o;
}
