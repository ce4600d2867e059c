/* Unit tests for the strict JSON scanner, including a differential check
 * against cJSON on many generated bodies. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
