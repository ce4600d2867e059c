/* Unit tests for the strict JSON scanner, including a differential check
 * against cJSON on many generated bodies, and one against the scanner's own
 * byte-at-a-time string loop. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference for the word-at-a-time string loop: the scanner compiled again
 * into this test with SY_JSON_SCAN_BYTEWISE (plain content skipped one byte at
 * a time with the table, as before the words), its entry points renamed ref_*.
 * Everything else in it is the same code, so any difference in a whole-body
 * result comes from the string loop. */
#define SY_JSON_SCAN_BYTEWISE 1
#define sy_json_scan_object ref_json_scan_object
#define sy_json_scan_request ref_json_scan_request
#define sy_json_scan_request_noting ref_json_scan_request_noting
#define sy_json_field_raw ref_json_field_raw
#define sy_json_unescape ref_json_unescape
#include "json_scan.c"
#undef sy_json_scan_object
#undef sy_json_scan_request
#undef sy_json_scan_request_noting
#undef sy_json_field_raw
#undef sy_json_unescape
#undef SY_JSON_SCAN_H /* now the real entry points */
#include "json_scan.h"

static int scan(const char *body, sy_json_field *f, size_t nf)
{
    const char *why = NULL;
    int rc = sy_json_scan_object(body, strlen(body), f, nf, &why);
    if (rc != 0) cr_assert_not_null(why);
    return rc;
}

Test(json_scan, picks_top_level_fields)
{
    sy_json_field f[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
    cr_assert_eq(scan("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"model\":\"inner\"}],"
                      " \"model\" : \"gpt-4.1\", \"stream\": true, \"user\": \"al\\u00e9x\"}",
                      f, 3),
                 0);
    cr_assert_eq(f[0].type, SY_JSON_STRING);
    cr_assert_eq(f[0].len, 7);
    cr_assert(memcmp(f[0].val, "gpt-4.1", 7) == 0);
    cr_assert_eq(f[1].type, SY_JSON_TRUE);
    cr_assert_eq(f[2].type, SY_JSON_STRING);
    cr_assert(f[2].escaped);
    char buf[32];
    cr_assert_eq(sy_json_unescape(f[2].val, f[2].len, buf, sizeof buf), 5);
    cr_assert_str_eq(buf, "al\xc3\xa9x");
}

Test(json_scan, absent_and_other_types)
{
    sy_json_field f[3] = {{.name = "model"}, {.name = "stream"}, {.name = "n"}};
    cr_assert_eq(scan("{\"stream\": null, \"n\": -1.5e3}", f, 3), 0);
    cr_assert_eq(f[0].type, SY_JSON_ABSENT);
    cr_assert_eq(f[1].type, SY_JSON_NULL);
    cr_assert_eq(f[2].type, SY_JSON_NUMBER);
    cr_assert_eq(f[2].len, 6);
}

Test(json_scan, first_duplicate_wins)
{
    /* The lenient scan (plugins reading answers): the first key wins, as with cJSON. */
    sy_json_field f[1] = {{.name = "model"}};
    cr_assert_eq(scan("{\"model\":\"a\",\"model\":\"b\"}", f, 1), 0);
    cr_assert_eq(f[0].val[0], 'a');
    cr_assert_eq(scan("{\"model\\u0000\":\"x\",\"model\":\"b\"}", f, 1), 0);
    cr_assert_eq(f[0].val[0], 'b');
}

Test(json_scan, escaped_keys_are_read_decoded)
{
    /* "m\u006fdel" is "model" to every parser: it counts. */
    sy_json_field f[2] = {{.name = "model"}, {.name = "user"}};
    cr_assert_eq(scan("{\"m\\u006fdel\":\"gpt-4.1\",\"\\u0075ser\":\"u\"}", f, 2), 0);
    cr_assert_eq(f[0].type, SY_JSON_STRING);
    cr_assert_eq(f[0].len, 7);
    cr_assert_eq(f[1].type, SY_JSON_STRING);
    /* Not a match: a longer key, a shorter one, a different character. */
    cr_assert_eq(scan("{\"model\\u0041\":1,\"mode\\u006c\\u006c\":1,\"\\u006dodeX\":1}", f, 2), 0);
    cr_assert_eq(f[0].type, SY_JSON_ABSENT);
}

/* The strict scan of a request body. */
static int scan_req(const char *body, sy_json_field *f, size_t nf, size_t *which, const char **why)
{
    *why = NULL;
    int rc = sy_json_scan_request(body, strlen(body), f, nf, why, which);
    if (rc != 0) cr_assert_not_null(*why);
    return rc;
}

Test(json_scan, request_refuses_duplicate_routing_keys)
{
    static const struct {
        const char *body;
        size_t which;
        const char *why;
    } cases[] = {
        {"{\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4.1\"}", 0, "more than once"},
        {"{\"model\":\"a\",\"stream\":false,\"stream\":true}", 1, "more than once"},
        {"{\"model\":\"a\",\"user\":\"u1\",\"messages\":[],\"user\":\"u2\"}", 2, "more than once"},
        {"{\"model\":\"a\",\"m\\u006fdel\":\"b\"}", 0, "more than once"}, /* escaped, same key */
        {"{\"model\":\"a\",\"stream\":true,\"model\":\"a\"}", 0, "more than once"}, /* same value */
        /* Keys a C parser cuts at the NUL and reads as a routing key. */
        {"{\"model\\u0000\":\"x\",\"model\":\"a\"}", 0, "NUL"},
        {"{\"model\":\"a\",\"user\\u0000x\":\"b\"}", 2, "NUL"},
        {"{\"model\\u0000\":\"\\u0000\"}", 0, "NUL"}, /* the fuzzer's find */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sy_json_field f[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
        size_t which = 99;
        const char *why;
        cr_assert_eq(scan_req(cases[i].body, f, 3, &which, &why), -2, "accepted: %s", cases[i].body);
        cr_assert_eq(which, cases[i].which, "%s: which %zu", cases[i].body, which);
        cr_assert(strstr(why, cases[i].why), "%s: %s", cases[i].body, why);
        /* The lenient scan takes the same body. */
        cr_assert_eq(scan(cases[i].body, f, 3), 0, "%s", cases[i].body);
    }
}

Test(json_scan, request_accepts_what_is_not_ambiguous)
{
    static const char *const ok[] = {
        "{\"model\":\"a\",\"stream\":true,\"user\":\"u\"}",
        /* Duplicates the router does not read, and nested ones, are the upstream's business. */
        "{\"model\":\"a\",\"temperature\":1,\"temperature\":0}",
        "{\"model\":\"a\",\"messages\":[{\"model\":\"b\",\"model\":\"c\"}],\"metadata\":{\"user\":1,\"user\":2}}",
        /* A NUL elsewhere in a key cuts it to something routing does not read. */
        "{\"model\":\"a\",\"mo\\u0000del\":\"b\",\"\\u0000model\":\"c\",\"x\\u0000\":1}",
        /* Keys that only look alike. */
        "{\"model\":\"a\",\"Model\":\"b\",\"model \":\"c\",\"models\":[]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        sy_json_field f[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
        size_t which = 99;
        const char *why;
        cr_assert_eq(scan_req(ok[i], f, 3, &which, &why), 0, "refused: %s (%s)", ok[i], why);
        cr_assert_eq(f[0].type, SY_JSON_STRING);
        cr_assert_eq(f[0].val[0], 'a', "%s", ok[i]);
    }
}

/* Noted keys (the members a plugin edits, ABI 1.5 spans): found and counted,
 * a repeat never refused, nothing accepted or refused differently. */
Test(json_scan, request_notes_keys_without_refusing_repeats)
{
    static const struct {
        const char *body;
        int rc;
        unsigned count;
        const char *first; /* the first value's raw text, NULL: absent */
    } cases[] = {
        {"{\"model\":\"a\",\"stream_options\":{\"include_usage\":true}}", 0, 1,
         "{\"include_usage\":true}"},
        {"{\"stream_options\" : \"s\\\"o\" ,\"model\":\"a\"}", 0, 1, "\"s\\\"o\""},
        {"{\"model\":\"a\",\"stream_options\":null,\"stream_opti\\u006fns\":{}}", 0, 2, "null"},
        {"{\"model\":\"a\",\"messages\":[{\"stream_options\":1}],\"x\":{\"stream_options\":2}}", 0,
         0, NULL},
        /* A NUL makes another key: not counted (and not refused). */
        {"{\"model\":\"a\",\"stream_options\\u0000x\":1}", 0, 0, NULL},
        /* Routing keys are still refused, bad JSON still bad. */
        {"{\"model\":\"a\",\"stream_options\":1,\"model\":\"b\"}", -2, 1, "1"},
        {"{\"model\":\"a\",\"stream_options\":1,}", -1, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *b = cases[i].body;
        sy_json_field f[2] = {{.name = "model"}, {.name = "stream"}};
        sy_json_field noted[1] = {{.name = "stream_options"}};
        unsigned count[1] = {42};
        size_t which = 99;
        const char *why = NULL;
        int rc = sy_json_scan_request_noting(b, strlen(b), f, 2, noted, count, 1, &why, &which);
        cr_assert_eq(rc, cases[i].rc, "%s: %d (%s)", b, rc, why ? why : "");
        sy_json_field g[2] = {{.name = "model"}, {.name = "stream"}};
        cr_assert_eq(sy_json_scan_request(b, strlen(b), g, 2, &why, &which), rc, "%s", b);
        if (rc == -1) continue;
        cr_assert_eq(count[0], cases[i].count, "%s: count %u", b, count[0]);
        const char *at;
        size_t len = sy_json_field_raw(&noted[0], &at);
        if (!cases[i].first) {
            cr_assert_eq(len, 0, "%s", b);
            cr_assert_null(at, "%s", b);
        } else {
            cr_assert_eq(at, strstr(b, cases[i].first), "%s", b);
            cr_assert_eq(len, strlen(cases[i].first), "%s", b);
        }
        /* The routing field's raw text too: quotes included. */
        len = sy_json_field_raw(&f[0], &at);
        cr_assert_eq(at, strstr(b, "\"a\""), "%s", b);
        cr_assert_eq(len, 3);
    }
    /* Noting alone (no routing fields) works too. */
    static const char only[] = "{\"stream_options\":[]}";
    sy_json_field noted[1] = {{.name = "stream_options"}};
    unsigned count[1];
    size_t which;
    const char *why;
    cr_assert_eq(sy_json_scan_request_noting(only, sizeof only - 1, NULL, 0, noted, count, 1, &why,
                                             &which), 0);
    cr_assert_eq(count[0], 1);
    cr_assert_eq(noted[0].type, SY_JSON_ARRAY);
}

Test(json_scan, request_reports_bad_json_before_ambiguity)
{
    sy_json_field f[1] = {{.name = "model"}};
    size_t which = 99;
    const char *why;
    cr_assert_eq(scan_req("{\"model\":\"a\",\"model\":\"b\",}", f, 1, &which, &why), -1);
    cr_assert_eq(which, 1);
    cr_assert(strstr(why, "trailing comma"), "%s", why);
}

Test(json_scan, refuses_what_is_not_strict_json)
{
    static const char *const bad[] = {
        "", "   ", "[]", "\"x\"", "42", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
        "{\"a\":1}x", "{\"a\":1} {}", "{a:1}", "{'a':1}", "{\"a\":tru}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}", "{\"a\":[1,2,]}", "{\"a\":[1 2]}",
        "{\"a\":\"unterminated}", "{\"a\":1 /* c */}", "{\"a\":NaN}", "{\"a\":+1}",
        /* escapes must form whole characters */
        "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83d\\u0041\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sy_json_field f[1] = {{.name = "a"}};
        cr_assert_eq(scan(bad[i], f, 1), -1, "accepted: %s", bad[i]);
    }
}

Test(json_scan, nesting_is_bounded)
{
    size_t depth = 100000;
    char *b = malloc(depth * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(b, "{\"a\":");
    for (size_t i = 0; i < depth; i++) b[n++] = '[';
    for (size_t i = 0; i < depth; i++) b[n++] = ']';
    b[n++] = '}';
    b[n] = '\0';
    sy_json_field f[1] = {{.name = "a"}};
    const char *why = NULL;
    cr_assert_eq(sy_json_scan_object(b, n, f, 1, &why), -1);
    cr_assert(strstr(why, "nested"));
    free(b);
}

Test(json_scan, unescape_edges)
{
    char buf[16];
    cr_assert_eq(sy_json_unescape("\\ud83d\\ude00", 12, buf, sizeof buf), 4); /* U+1F600 */
    cr_assert_eq(sy_json_unescape("\\ud83d", 6, buf, sizeof buf), -1);       /* lone high surrogate */
    cr_assert_eq(sy_json_unescape("\\ude00", 6, buf, sizeof buf), -1);       /* lone low surrogate */
    cr_assert_eq(sy_json_unescape("\\u0000", 6, buf, sizeof buf), -1);       /* NUL */
    cr_assert_eq(sy_json_unescape("0123456789abcdef", 16, buf, sizeof buf), -1); /* too long */
}

/* Whatever the scanner accepts, cJSON accepts too, with the same top-level
 * "model" string; and a well-formed body built at random is accepted. */
static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static void gen_value(char *b, size_t *n, unsigned *seed, int depth)
{
    static const char *const atoms[] = {"1", "-0.5e2", "true", "false", "null", "\"s\"",
                                        "\"\\u00e9\\n\"", "\"model\"", "12345678901234567890"};
    unsigned r = rnd(seed) % (depth > 4 ? 1 : 3);
    if (r == 0) {
        const char *a = atoms[rnd(seed) % 9];
        *n += (size_t)sprintf(b + *n, "%s", a);
    } else if (r == 1) {
        b[(*n)++] = '[';
        unsigned k = rnd(seed) % 4;
        for (unsigned i = 0; i < k; i++) {
            if (i) b[(*n)++] = ',';
            gen_value(b, n, seed, depth + 1);
        }
        b[(*n)++] = ']';
    } else {
        b[(*n)++] = '{';
        unsigned k = rnd(seed) % 4;
        for (unsigned i = 0; i < k; i++) {
            if (i) b[(*n)++] = ',';
            *n += (size_t)sprintf(b + *n, "\"k%u\": ", rnd(seed) % 5);
            gen_value(b, n, seed, depth + 1);
        }
        b[(*n)++] = '}';
    }
}

Test(json_scan, agrees_with_cjson)
{
    unsigned seed = 12345;
    char *b = malloc(1 << 20);
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        n += (size_t)sprintf(b, "{\"model\": \"m%d\", \"x\": ", iter);
        gen_value(b, &n, &seed, 0);
        b[n++] = '}';
        b[n] = '\0';
        /* Corrupt one byte in a third of the cases. */
        if (iter % 3 == 0) b[rnd(&seed) % n] = "{}[],:\"x1 \\"[rnd(&seed) % 12];
        sy_json_field f[1] = {{.name = "model"}};
        const char *why;
        int ours = sy_json_scan_object(b, n, f, 1, &why);
        cJSON *j = cJSON_ParseWithLength(b, n);
        if (iter % 3 != 0) cr_assert_eq(ours, 0, "refused a well-formed body: %s (%s)", b, why);
        if (ours == 0) {
            cr_assert_not_null(j, "cJSON refuses what we accept: %s", b);
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
            if (cJSON_IsString(m)) {
                cr_assert_eq(f[0].type, SY_JSON_STRING);
                cr_assert_eq(strlen(m->valuestring), f[0].len);
                cr_assert(memcmp(m->valuestring, f[0].val, f[0].len) == 0);
            }
        }
        cJSON_Delete(j);
    }
    free(b);
}

/* The string scanner skips plain content eight bytes at a time: every byte
 * value, at every position of the first words, must still be seen as what it
 * is: the closing quote, a control (refused), an escape, or plain content. */
Test(json_scan, every_byte_at_every_position_of_a_string)
{
    char body[64];
    for (int pos = 0; pos < 20; pos++) {
        for (int byte = 1; byte < 256; byte++) {
            char str[32];
            memset(str, 'a', 24);
            str[pos] = (char)byte;
            str[24] = '\0';
            int n = snprintf(body, sizeof body, "{\"k\":\"%s\"}", str);
            sy_json_field f = {.name = "k"};
            const char *why = NULL;
            int rc = sy_json_scan_object(body, (size_t)n, &f, 1, &why);
            if (byte == '"') {
                /* the string ends at pos; what follows is not JSON */
                cr_assert_neq(rc, 0, "pos %d: quote", pos);
            } else if (byte < 0x20) {
                cr_assert_neq(rc, 0, "pos %d: control 0x%02x must be refused", pos, byte);
            } else if (byte == '\\') {
                /* "\a" is no escape */
                cr_assert_neq(rc, 0, "pos %d: bad escape", pos);
            } else {
                cr_assert_eq(rc, 0, "pos %d: byte 0x%02x: %s", pos, byte, why ? why : "");
                cr_assert_eq(f.len, 24, "pos %d byte 0x%02x", pos, byte);
            }
        }
        /* a real escape and the end quote at pos */
        char str[32];
        memset(str, 'a', 24);
        str[pos] = '\\';
        str[pos + 1] = 'n';
        str[24] = '\0';
        int n = snprintf(body, sizeof body, "{\"k\":\"%s\"}", str);
        sy_json_field f = {.name = "k"};
        const char *why = NULL;
        cr_assert_eq(sy_json_scan_object(body, (size_t)n, &f, 1, &why), 0, "pos %d", pos);
        cr_assert(f.escaped);
        cr_assert_eq(f.len, 24);
        memset(str, 'a', 24);
        str[pos] = '\0';
        n = snprintf(body, sizeof body, "{\"k\":\"%s\"}", str);
        f = (sy_json_field){.name = "k"};
        cr_assert_eq(sy_json_scan_object(body, (size_t)n, &f, 1, &why), 0);
        cr_assert_eq(f.len, (size_t)pos, "a string of %d bytes", pos);
    }
}

/* ---- The word-at-a-time string loop against the bytewise reference ---- */

/* One field's capture as an offset into the body (-1: none), for comparing. */
static int same_field(const sy_json_field *a, const char *abuf, const sy_json_field *b,
                      const char *bbuf)
{
    long ao = a->val ? (long)(a->val - abuf) : -1, bo = b->val ? (long)(b->val - bbuf) : -1;
    return a->type == b->type && ao == bo && a->len == b->len && a->escaped == b->escaped;
}

static int same_why(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Scan body[0..n) with the real scanner and the reference, both ways (the
 * lenient object scan and the strict request scan with a noted key), each
 * from its own heap buffer of exactly n bytes so that ASan sees any read past
 * the end. Every result must agree: rc, why, which, and each field's type,
 * start, length and escaped flag. Returns the real object scan's rc and why. */
static int differential(const char *body, size_t n, const char **why_out)
{
    char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
    cr_assert(a && b);
    memcpy(a, body, n);
    memcpy(b, body, n);
    int same = 1;

    /* The lenient scan, capturing the key under test and a few others. */
    sy_json_field fa[4] = {{.name = "k"}, {.name = "model"}, {.name = "z"}, {.name = "k2"}};
    sy_json_field fb[4] = {{.name = "k"}, {.name = "model"}, {.name = "z"}, {.name = "k2"}};
    const char *wa = NULL, *wb = NULL;
    int ra = sy_json_scan_object(a, n, fa, 4, &wa);
    int rb = ref_json_scan_object(b, n, fb, 4, &wb);
    same &= ra == rb && same_why(wa, wb);
    for (int i = 0; i < 4; i++) same &= same_field(&fa[i], a, &fb[i], b);
    if (why_out) *why_out = wa;
    int rc = ra;

    /* The strict request scan, routing by model/stream/user and noting k. */
    sy_json_field ga[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
    sy_json_field gb[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
    sy_json_field na[1] = {{.name = "k"}}, nb[1] = {{.name = "k"}};
    unsigned ca[1] = {7}, cb[1] = {7};
    size_t whicha = 99, whichb = 99;
    wa = wb = NULL;
    ra = sy_json_scan_request_noting(a, n, ga, 3, na, ca, 1, &wa, &whicha);
    rb = ref_json_scan_request_noting(b, n, gb, 3, nb, cb, 1, &wb, &whichb);
    same &= ra == rb && same_why(wa, wb) && whicha == whichb && ca[0] == cb[0];
    for (int i = 0; i < 3; i++) same &= same_field(&ga[i], a, &gb[i], b);
    same &= same_field(&na[0], a, &nb[0], b);

    if (!same) {
        /* Say which body, printably. */
        char shown[1024];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 5 < sizeof shown; i++) {
            unsigned char c = (unsigned char)body[i];
            o += (size_t)(c >= 0x20 && c < 0x7f && c != '\\'
                              ? snprintf(shown + o, sizeof shown - o, "%c", c)
                              : snprintf(shown + o, sizeof shown - o, "\\x%02x", c));
        }
        free(a);
        free(b);
        cr_assert_fail("the word loop and the bytewise reference differ on %zu bytes: %s", n,
                       shown);
    }
    free(a);
    free(b);
    return rc;
}

/* What goes into a string at a position: one raw byte or an escape. */
typedef struct {
    const char *text;
    size_t len;
} piece;

/* Escapes, good and bad, and the ones that stop being escapes when cut. */
static const char *const escapes[] = {
    "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9", "\\uFFFF",
    "\\u0000", "\\ud83d\\ude00", "\\a", "\\x", "\\'", "\\U0041", "\\u12", "\\u12g4", "\\ud83d",
    "\\ude00", "\\ud83d\\u0041", "\\ud83dx", "\\", "\\\\\\",
};

/* The raw bytes worth trying: every stop byte, the bytes the SWAR terms can
 * flag falsely after a borrow, their neighbours, DEL, and bytes with the high
 * bit set (plain content: the scanner does not validate UTF-8): all of them,
 * or, when all_high is 0, the ones next to the terms' edges. Then escapes. */
static size_t stop_pieces(piece *out, char bytes[256], int all_high)
{
    static const unsigned char some_high[] = {0x80, 0x81, 0x9f, 0xa0, 0xa1, 0xa2, 0xa3, 0xc3,
                                              0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xfe, 0xff};
    size_t n = 0;
    for (int c = 0; c < 256; c++) {
        int high = c >= 0x80 && (all_high || memchr(some_high, c, sizeof some_high));
        if (c < 0x20 || c == 0x7f || high || c == '"' || c == '\\' || c == ' ' || c == '!' ||
            c == '#' || c == '[' || c == ']' || c == 'a') {
            bytes[c] = (char)c;
            out[n++] = (piece){&bytes[c], 1};
        }
    }
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++)
        out[n++] = (piece){escapes[i], strlen(escapes[i])};
    return n;
}

/* Plain content around the piece: the bytes after a true stop that a borrow
 * could flag ('#' and ']' for the quote and backslash terms, ' ' and '!' near
 * them), bytes from 0x80 up, and a mixture. */
static const char *const fillers[] = {"a", "#", "]", " ", "!", "\xc3\xa9", "\x80\xff",
                                      " !#[]a\x7f\xc3\xa9Z"};

static size_t fill(char *out, size_t len, const char *filler)
{
    size_t fl = strlen(filler);
    for (size_t i = 0; i < len; i++) out[i] = filler[i % fl];
    return len;
}

/* The bodies around a string of content S: the string closes the object, or
 * more members follow it (so that the word loop, not the tail, meets the
 * string's end), or it is the key. */
static const char *const heads[] = {"{\"k\":\"", "{\"model\":\"m\",\"k\":\"", "{\""};
static const char *const tails[] = {"\"}", "\",\"z\":[1,\"abcdefghijk\",null],\"k2\":\"x\"}",
                                    "\":\"value of the key under test\"}"};

static size_t wrap(char *body, int shape, const char *str, size_t sl)
{
    size_t n = 0, hl = strlen(heads[shape]), tl = strlen(tails[shape]);
    memcpy(body + n, heads[shape], hl);
    n += hl;
    memcpy(body + n, str, sl);
    n += sl;
    memcpy(body + n, tails[shape], tl);
    return n + tl;
}

/* Strings of every length 0..40 with each stop byte or escape at every
 * position, in each filler; the body's shape turns with the length. */
Test(json_scan, word_loop_agrees_with_bytewise_at_every_position)
{
    static char bytes[256];
    static piece pieces[300];
    char str[128], body[256];
    unsigned long bodies = 0;
    for (size_t f = 0; f < sizeof fillers / sizeof *fillers; f++) {
        size_t np = stop_pieces(pieces, bytes, f == 0);
        for (size_t len = 0; len <= 40; len++) {
            int shape = (int)((len + f) % 3);
            /* No stop at all: the whole string is plain. */
            fill(str, len, fillers[f]);
            size_t n = wrap(body, shape, str, len);
            const char *why;
            cr_assert_eq(differential(body, n, &why), 0, "len %zu filler %zu: %s", len, f, why);
            bodies++;
            for (size_t pos = 0; pos < len; pos++) {
                for (size_t i = 0; i < np; i++) {
                    /* the piece replaces bytes from pos on; the string grows if it must */
                    size_t sl = pos + pieces[i].len > len ? pos + pieces[i].len : len;
                    fill(str, sl, fillers[f]);
                    memcpy(str + pos, pieces[i].text, pieces[i].len);
                    differential(body, wrap(body, shape, str, sl), NULL);
                    bodies++;
                }
            }
        }
    }
    cr_log_info("%lu bodies", bodies);
}

/* Two stop or borrow-prone bytes in one string, at every pair of positions of
 * two words: the first one decides, whatever the second one is. */
Test(json_scan, word_loop_agrees_with_bytewise_on_pairs)
{
    static const char pair_bytes[] = {'"', '\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23,
                                      0x5b, 0x5c, 0x5d, 0x7f, (char)0x80, (char)0xdf, (char)0xff};
    char str[32], body[128];
    for (size_t len = 15; len <= 17; len++)
        for (size_t i = 0; i < len; i++)
            for (size_t j = i + 1; j < len; j++)
                for (size_t x = 0; x < sizeof pair_bytes; x++)
                    for (size_t y = 0; y < sizeof pair_bytes; y++) {
                        fill(str, len, "a");
                        str[i] = pair_bytes[x];
                        str[j] = pair_bytes[y];
                        differential(body, wrap(body, (int)((i + j) % 3), str, len), NULL);
                    }
}

/* A body that ends inside a string, at every offset within the words the
 * string spans: "an unterminated JSON string", never a read past the end
 * (differential() scans a heap buffer of exactly the body's length). */
Test(json_scan, a_body_cut_inside_a_string_is_unterminated)
{
    static const char *const contents[] = {
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
        "\xc3\xa9\xc3\xa9 # ] [ ! \x7f\x80\xff plain content of every kind \xe2\x82\xac!!",
        "        ########]]]]]]]]!!!!!!!![[[[[[[[[        ",
    };
    char body[128];
    for (size_t c = 0; c < sizeof contents / sizeof *contents; c++) {
        for (int shape = 0; shape < 3; shape++) {
            wrap(body, shape, contents[c], strlen(contents[c]));
            size_t head = strlen(heads[shape]);
            /* from just after the opening quote to just before the closing one */
            for (size_t n = head; n < head + strlen(contents[c]); n++) {
                const char *why = NULL;
                cr_assert_eq(differential(body, n, &why), -1, "cut at %zu", n);
                cr_assert_str_eq(why, "an unterminated JSON string", "cut at %zu", n);
            }
        }
    }
    /* Cut right after a backslash, or inside a \\u escape: refused, the same way. */
    static const char *const cut[] = {"{\"k\":\"abcdefg\\", "{\"k\":\"abcdefghijklmno\\",
                                      "{\"k\":\"abcdefgh\\u00", "{\"k\":\"abcdefgh\\ud83d\\u"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++)
        cr_assert_eq(differential(cut[i], strlen(cut[i]), NULL), -1, "%s", cut[i]);
}

/* Random bodies: members with strings of random bytes (biased towards the
 * stop bytes and escapes), nested values, routing keys (sometimes twice), and
 * now and then one byte changed. */
static void gen_string(char *b, size_t *n, unsigned *seed)
{
    /* Plain bytes the SWAR terms could flag after a borrow, good escapes, then bad ones. */
    static const char *const bits[] = {" ", "#", "]", "\\n", "\\\"", "\\\\", "\\u00e9",
                                       "\\ud83d\\ude00", "\\u0000", "\\x", "\\ud83d", "\\u12"};
    int dirty = rnd(seed) % 8 == 0; /* may hold a bad escape or a raw control */
    b[(*n)++] = '"';
    unsigned len = rnd(seed) % 48;
    for (unsigned i = 0; i < len; i++) {
        unsigned r = rnd(seed) % 100;
        if (r < 70) {
            b[(*n)++] = (char)('a' + rnd(seed) % 26);
        } else if (r < 80) {
            b[(*n)++] = (char)(0x80 + rnd(seed) % 0x80);
        } else if (r < 97 || !dirty) {
            const char *bit = bits[rnd(seed) % (dirty ? 12 : 9)];
            memcpy(b + *n, bit, strlen(bit));
            *n += strlen(bit);
        } else {
            b[(*n)++] = (char)(rnd(seed) % 0x23); /* a control, ' ', '!', '"' or '#' */
        }
    }
    b[(*n)++] = '"';
}

static void gen_member_value(char *b, size_t *n, unsigned *seed, int depth)
{
    unsigned r = rnd(seed) % (depth > 3 ? 3 : 5);
    if (r < 2) {
        gen_string(b, n, seed);
    } else if (r == 2) {
        static const char *const atoms[] = {"1", "-0.5e2", "true", "false", "null", "[]", "{}"};
        const char *a = atoms[rnd(seed) % 7];
        memcpy(b + *n, a, strlen(a));
        *n += strlen(a);
    } else {
        int object = r == 4;
        b[(*n)++] = object ? '{' : '[';
        unsigned k = rnd(seed) % 4;
        for (unsigned i = 0; i < k; i++) {
            if (i) b[(*n)++] = ',';
            if (object) {
                gen_string(b, n, seed);
                b[(*n)++] = ':';
            }
            gen_member_value(b, n, seed, depth + 1);
        }
        b[(*n)++] = object ? '}' : ']';
    }
}

Test(json_scan, word_loop_agrees_with_bytewise_on_random_bodies)
{
    static const char *const keys[] = {"\"k\"", "\"model\"", "\"stream\"", "\"user\"", "\"z\"",
                                       "\"k2\"", "\"m\\u006fdel\"", "\"model\\u0000\""};
    unsigned seed = 20240611;
    char *b = malloc(1 << 16);
    unsigned accepted = 0;
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = 0;
        b[n++] = '{';
        unsigned members = 1 + rnd(&seed) % 6;
        for (unsigned i = 0; i < members; i++) {
            if (i) n += (size_t)sprintf(b + n, "%s", rnd(&seed) % 4 ? "," : " ,\n ");
            if (rnd(&seed) % 3)
                n += (size_t)sprintf(b + n, "%s", keys[rnd(&seed) % 8]);
            else
                gen_string(b, &n, &seed);
            b[n++] = ':';
            gen_member_value(b, &n, &seed, 0);
        }
        b[n++] = '}';
        if (iter % 4 == 0) b[rnd(&seed) % n] = "{}[],:\"\\ #]\x01\x80"[rnd(&seed) % 14];
        if (iter % 7 == 0) n = rnd(&seed) % n; /* cut short */
        accepted += differential(b, n, NULL) == 0;
    }
    free(b);
    cr_log_info("%u of 5000 random bodies accepted", accepted);
    /* The generator must reach both sides for this to mean anything. */
    cr_assert_gt(accepted, 200u);
    cr_assert_lt(accepted, 4800u);
}
