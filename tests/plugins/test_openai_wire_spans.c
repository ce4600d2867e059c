/*
 * test_openai_wire_spans.c - plugin ABI 1.5: the host says where the body's
 * top-level "model" and "stream_options" values are (sy_request
 * .body_spans_known and the value spans), and the openai wire edits them
 * without walking the body.
 *
 * The spans come from the host's real strict scanner, called as the front
 * calls it (sy_json_scan_request_noting, sy_json_field_raw), so the front's
 * recording is covered too. For a corpus of bodies the upstream body built
 * from the spans must be byte for byte the one the walk builds (spans not
 * known), and the one built when the plugin checks the body itself.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "json_scan.h"
#include "openai_wire.h"

static sy_openai_wire w;
static char err[512];
static const sy_endpoint ep = {.provider = "p", .name = "e1",
                               .base_url = "https://api.example.com/v1"};

static void setup(void)
{
    sy_openai_wire_conf c = {.api_key = "sk-test-0123456789abcdef", .include_usage = 1};
    cr_assert_eq(sy_openai_wire_init(&w, fake_host(), "openai", &c, err, sizeof err), 0, "%s",
                 err);
}

static void teardown(void)
{
    sy_openai_wire_fini(&w);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(spans, .init = setup, .fini = teardown);

#define BOM "\xEF\xBB\xBF"

/* What the front (router/proxy/proxy.c) gives the engine for a body: the
 * strict scan with "model" and "stream" as routing fields and
 * "stream_options" noted; spans known when "stream_options" appears at most
 * once. Returns the scan's result (0: the front accepts the body). The front
 * refuses a BOM; here a BOM is stepped over, so that the plugin's own BOM
 * handling is covered (the spans still point into body). */
static int front_scan(const char *body, size_t len, sy_request *r, unsigned *so_count)
{
    size_t skip = len >= 3 && !memcmp(body, BOM, 3) ? 3 : 0;
    sy_json_field fields[2] = {{.name = "model"}, {.name = "stream"}};
    sy_json_field noted[1] = {{.name = "stream_options"}};
    unsigned count[1] = {99};
    const char *why = NULL;
    size_t which = 0;
    int rc = sy_json_scan_request_noting(body + skip, len - skip, fields, 2, noted, count, 1, &why,
                                         &which);
    *so_count = count[0];
    if (rc != 0) return rc;
    r->body_checked = 1;
    r->body_spans_known = count[0] <= 1;
    r->model_value_len = sy_json_field_raw(&fields[0], &r->model_value);
    r->stream_options_value_len = sy_json_field_raw(&noted[0], &r->stream_options_value);
    return 0;
}

typedef struct built {
    int rc;
    char err[512];
    char *body; /* a copy (malloc) */
    size_t len;
    int zero_copy;
} built;

static built build(const sy_request *req)
{
    built b = {0};
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    err[0] = '\0';
    b.rc = sy_openai_wire_build_request(&w, &ep, req, &out, err, sizeof err);
    snprintf(b.err, sizeof b.err, "%s", err);
    if (b.rc == 0) {
        b.zero_copy = out.body == req->body;
        b.len = out.body_len;
        b.body = malloc(out.body_len + 1);
        memcpy(b.body, out.body, out.body_len);
        b.body[b.len] = '\0';
        if (!b.zero_copy) {
            cr_assert_eq(out.body_owned, (void *)out.body);
            fake_host()->free(out.body_owned);
        }
    }
    return b;
}

static void assert_same(const built *a, const built *b, const char *what, const char *body)
{
    cr_assert_eq(a->rc, b->rc, "%s: rc %d vs %d (%s / %s) on %s", what, a->rc, b->rc, a->err,
                 b->err, body);
    if (a->rc != 0) {
        cr_assert_str_eq(a->err, b->err, "%s on %s", what, body);
        return;
    }
    cr_assert_eq(a->zero_copy, b->zero_copy, "%s: zero copy differs on %s", what, body);
    cr_assert(a->len == b->len && !memcmp(a->body, b->body, a->len),
              "%s differs on\n  %s\nspans: %.*s\nwalk:  %.*s", what, body, (int)a->len, a->body,
              (int)b->len, b->body);
}

static unsigned n_compared, n_spans_used, n_edited;

/* Build the body's upstream request every way, for every (set_model,
 * add_usage) and two model names, and assert the same bytes. */
static void compare(const char *body, size_t len)
{
    sy_request base = {.op = SY_OP_CHAT, .client_model = "client", .body = body,
                       .body_len = len, .request_id = "r1", .method = "POST",
                       .path = "/chat/completions"};
    sy_request spans = base;
    unsigned so_count;
    cr_assert_eq(front_scan(body, len, &spans, &so_count), 0, "the front refuses %s", body);
    /* The host's scanner, which the plugin runs on an unchecked body,
     * refuses a BOM as the front does. */
    int bom = len >= 3 && !memcmp(body, BOM, 3);
    if (so_count > 1) cr_assert_eq(spans.body_spans_known, 0, "%s", body);
    static const char *const models[] = {"fallback", "we\"ird\\\x01"};
    for (int set_model = 0; set_model < 2; set_model++) {
        for (int add_usage = 0; add_usage < 2; add_usage++) {
            for (size_t m = 0; m < (set_model ? 2u : 1u); m++) {
                const char *model = set_model ? models[m] : "client";
                sy_request with = spans, walk = spans, own = base;
                with.model = walk.model = own.model = model;
                with.stream = walk.stream = own.stream = add_usage;
                walk.body_spans_known = 0;
                walk.model_value = walk.stream_options_value = NULL;
                walk.model_value_len = walk.stream_options_value_len = 0;
                built a = build(&with), b = build(&walk), c = build(&own);
                assert_same(&a, &b, "spans vs walk", body);
                if (!bom) assert_same(&a, &c, "spans vs the plugin's own check", body);
                n_compared++;
                if (spans.body_spans_known && (set_model || add_usage)) n_spans_used++;
                if (a.rc == 0 && !a.zero_copy) n_edited++;
                free(a.body);
                free(b.body);
                free(c.body);
            }
        }
    }
}

/* ------------------------------------------------------------ the corpus */

typedef struct member {
    const char *key, *value; /* key with its quotes, raw value text */
} member;

/* "model" as a client may send it (NULL key: absent). */
static const member models[] = {
    {NULL, NULL},
    {"\"model\"", "\"client\""},
    {"\"m\\u006fdel\"", "\"client\""},
    {"\"model\"", "\"cli\\u0065nt\""},
    {"\"\\u006d\\u006F\\u0064\\u0065\\u006c\"", "\"client\""},
};

/* "stream_options" as a client may send it (NULL key: absent). */
static const member stream_options[] = {
    {NULL, NULL},
    {"\"stream_options\"", "{}"},
    {"\"stream_options\"", "{ \n }"},
    {"\"stream_options\"", "{\"include_usage\":false}"},
    {"\"stream_options\"", "{\"include_usage\":true}"},
    {"\"stream_options\"", "{ \"x\" : [1,{\"include_usage\":false}] , \"include_usage\" : null }"},
    {"\"stream_options\"", "{\"x\":{\"include_usage\":false}}"},
    {"\"stream_options\"", "{\"include_usage\":false,\"incl\\u0075de_usage\":true}"},
    {"\"stream_options\"", "null"},
    {"\"stream_options\"", "7"},
    {"\"stream_options\"", "-1.5e+3"},
    {"\"stream_options\"", "\"include_usage\""},
    {"\"stream_options\"", "[{\"include_usage\":false}]"},
    {"\"stream_options\"", "true"},
    {"\"stre\\u0061m_options\"", "{\"include_usage\":false}"},
};

/* Members that must never be touched: nested "model" and "stream_options",
 * keys that only look like ours, unicode, strings holding braces and quotes. */
static const member others[] = {
    {"\"messages\"", "[{\"role\":\"user\",\"content\":\"hi \\\"model\\\": {} ] \\u00e9 \xc3\xa9 "
                     "\xe2\x82\xac \\ud83d\\ude00\"},{\"model\":\"nested\",\"stream_options\":"
                     "{\"include_usage\":false}}]"},
    {"\"metadata\"", "{\"model\":\"x\",\"stream_options\":null}"},
    {"\"stream\"", "true"},
    {"\"seed\"", "12345678901234567890"},
    {"\"modelx\"", "\"y\""},
    {"\"mode\"", "1"},
    {"\"m\\u00f6del\"", "\"z\""},
    {"\"m\xc3\xb6" "del\"", "\"z\""},
    {"\"stream_options\\u0000x\"", "{\"include_usage\":false}"},
    {"\"\\ud83d\\ude00\"", "\"\\\"}\""},
    {"\"\"", "{}"},
};
#define N(a) (sizeof(a) / sizeof *(a))

/* JSON whitespace styles: none, spaces, everything JSON allows. */
static const char *const ws_styles[] = {"", " ", " \n\t\r "};

typedef struct body_buf {
    char s[4096];
    size_t n;
} body_buf;

static void put(body_buf *b, const char *s)
{
    size_t l = strlen(s);
    cr_assert_lt(b->n + l, sizeof b->s);
    memcpy(b->s + b->n, s, l);
    b->n += l;
    b->s[b->n] = '\0';
}

/* "{" members "}" with whitespace ws around every token. */
static void make_body(body_buf *b, int bom, const char *ws, const member *const *ms, size_t n)
{
    b->n = 0;
    b->s[0] = '\0';
    if (bom) put(b, BOM);
    put(b, ws);
    put(b, "{");
    for (size_t i = 0; i < n; i++) {
        put(b, ws);
        put(b, ms[i]->key);
        put(b, ws);
        put(b, ":");
        put(b, ws);
        put(b, ms[i]->value);
        put(b, ws);
        if (i + 1 < n) put(b, ",");
    }
    if (n == 0) put(b, ws);
    put(b, "}");
    put(b, ws);
}

Test(spans, empty_objects)
{
    static const char *const bodies[] = {"{}", " { } ", "{\n}", "\t{\r\n}\n", BOM "{}",
                                         BOM " {  } "};
    for (size_t i = 0; i < N(bodies); i++) compare(bodies[i], strlen(bodies[i]));
}

/* Every model variant with every stream_options variant, in each order
 * (model first, last, between, absent), with and without other members
 * around them, in every whitespace style, with and without a BOM. */
Test(spans, the_spans_build_the_walks_bytes)
{
    body_buf b;
    for (size_t mi = 0; mi < N(models); mi++) {
        for (size_t si = 0; si < N(stream_options); si++) {
            for (size_t layout = 0; layout < 4; layout++) {
                for (size_t wi = 0; wi < N(ws_styles); wi++) {
                    const member *ms[8];
                    size_t n = 0;
                    const member *mo = models[mi].key ? &models[mi] : NULL;
                    const member *so = stream_options[si].key ? &stream_options[si] : NULL;
                    switch (layout) {
                    case 0: /* model first, stream_options last, others between */
                        if (mo) ms[n++] = mo;
                        ms[n++] = &others[0];
                        ms[n++] = &others[2];
                        if (so) ms[n++] = so;
                        break;
                    case 1: /* stream_options first, model last */
                        if (so) ms[n++] = so;
                        ms[n++] = &others[1];
                        ms[n++] = &others[8];
                        if (mo) ms[n++] = mo;
                        break;
                    case 2: /* only them */
                        if (mo) ms[n++] = mo;
                        if (so) ms[n++] = so;
                        break;
                    default: /* both in the middle of look-alikes */
                        ms[n++] = &others[4];
                        ms[n++] = &others[6];
                        if (so) ms[n++] = so;
                        ms[n++] = &others[7];
                        if (mo) ms[n++] = mo;
                        ms[n++] = &others[9];
                        ms[n++] = &others[10];
                        ms[n++] = &others[0];
                        break;
                    }
                    for (int bom = 0; bom < 2; bom++) {
                        make_body(&b, bom, ws_styles[wi], ms, n);
                        compare(b.s, b.n);
                    }
                }
            }
        }
    }
    /* The spans were used for most of them, and most were edited. */
    cr_assert_gt(n_spans_used, n_compared / 2, "%u of %u", n_spans_used, n_compared);
    cr_assert_gt(n_edited, n_compared / 2, "%u of %u", n_edited, n_compared);
}

/* Random orders of random members: every member of the corpus, "model" at
 * most once (the front refuses it twice), "stream_options" up to twice. */
static uint64_t prng = 0x5eed;
static unsigned rnd(size_t n)
{
    prng = prng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((prng >> 33) % n);
}
#define RND(n) rnd(n)

Test(spans, random_bodies)
{
    body_buf b;
    for (int iter = 0; iter < 3000; iter++) {
        const member *ms[12];
        size_t n = 0;
        if (RND(4)) ms[n++] = &models[1 + RND(N(models) - 1)];
        for (unsigned k = 0, want = RND(3); k < want; k++)
            ms[n++] = &stream_options[1 + RND(N(stream_options) - 1)];
        for (unsigned k = 0, want = RND(6); k < want; k++) ms[n++] = &others[RND(N(others))];
        for (size_t i = n; i > 1; i--) { /* shuffle */
            size_t j = RND(i);
            const member *t = ms[i - 1];
            ms[i - 1] = ms[j];
            ms[j] = t;
        }
        int bom = RND(8) == 0;
        make_body(&b, bom, ws_styles[RND(N(ws_styles))], ms, n);
        sy_request r;
        unsigned count;
        if (front_scan(b.s, b.n, &r, &count) != 0) continue; /* "stream" twice: refused */
        compare(b.s, b.n);
    }
}

/* ------------------------------------------------ the front's recording */

Test(spans, the_front_records_exact_spans)
{
    const char *body = "{\"stream_options\" : {\"include_usage\":false} ,\"m\\u006fdel\":\"a\\\"b\","
                       "\"messages\":[{\"model\":\"x\"}]}";
    sy_request r = {0};
    unsigned count;
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(r.body_spans_known, 1);
    cr_assert_eq(r.model_value, strstr(body, "\"a\\\"b\""));
    cr_assert_eq(r.model_value_len, strlen("\"a\\\"b\""));
    cr_assert_eq(r.stream_options_value, strstr(body, "{\"include_usage\""));
    cr_assert_eq(r.stream_options_value_len, strlen("{\"include_usage\":false}"));

    /* Absent: NULL, 0. */
    body = "{\"messages\":[{\"model\":\"x\",\"stream_options\":{}}]}";
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), 0);
    cr_assert_eq(count, 0);
    cr_assert_eq(r.body_spans_known, 1);
    cr_assert_null(r.model_value);
    cr_assert_eq(r.model_value_len, 0);
    cr_assert_null(r.stream_options_value);
    cr_assert_eq(r.stream_options_value_len, 0);

    /* "stream_options" twice (escaped the second time): accepted, counted,
     * not known; the first value kept. */
    body = "{\"model\":\"a\",\"stream_options\":null,\"stream_opti\\u006fns\":{}}";
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), 0);
    cr_assert_eq(count, 2);
    cr_assert_eq(r.body_spans_known, 0);
    cr_assert_eq(r.stream_options_value, strstr(body, "null"));

    /* "stream_options\u0000x" is another key, here as in the plugin. */
    body = "{\"model\":\"a\",\"stream_options\\u0000x\":null}";
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), 0);
    cr_assert_eq(count, 0);
    cr_assert_eq(r.body_spans_known, 1);

    /* "model" twice is refused as before (-2), whatever else is noted. */
    body = "{\"model\":\"a\",\"stream_options\":{},\"m\\u006fdel\":\"b\"}";
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), -2);
}

Test(spans, stream_options_twice_falls_back_to_the_walk_and_edits_both)
{
    const char *body = "{\"model\":\"client\",\"stream_options\":{\"include_usage\":false},"
                       "\"stream_options\":{\"include_usage\":false}}";
    sy_request r = {.op = SY_OP_CHAT, .model = "fallback", .client_model = "client",
                    .body = body, .body_len = strlen(body), .stream = 1};
    unsigned count;
    cr_assert_eq(front_scan(body, strlen(body), &r, &count), 0);
    cr_assert_eq(r.body_spans_known, 0);
    built a = build(&r);
    cr_assert_eq(a.rc, 0, "%s", a.err);
    cr_assert_str_eq(a.body, "{\"model\":\"fallback\",\"stream_options\":{\"include_usage\":true},"
                             "\"stream_options\":{\"include_usage\":true}}");
    free(a.body);
}

/* ------------------------------------------- the plugin trusts the spans */

/* With spans known the plugin edits where they say and never walks the
 * body to find the members: spans that (falsely) point elsewhere are
 * followed. Spans that do not lie inside the body are not: it walks. */
Test(spans, the_plugin_follows_the_spans_without_walking)
{
    const char *body = "{\"model\":\"client\",\"x\":\"decoy\",\"stream_options\":7}";
    const char *decoy = strstr(body, "\"decoy\"");
    sy_request r = {.op = SY_OP_CHAT, .model = "fallback", .client_model = "client",
                    .body = body, .body_len = strlen(body), .body_checked = 1,
                    .body_spans_known = 1, .model_value = decoy, .model_value_len = 7};
    built a = build(&r);
    cr_assert_eq(a.rc, 0, "%s", a.err);
    /* No stream_options span and not a stream: only the decoy changed. */
    cr_assert_str_eq(a.body, "{\"model\":\"client\",\"x\":\"fallback\",\"stream_options\":7}");
    free(a.body);

    /* A span outside the body: the walk, and the right bytes. */
    static const char elsewhere[] = "\"client\"";
    r.model_value = elsewhere;
    r.model_value_len = sizeof elsewhere - 1;
    a = build(&r);
    cr_assert_eq(a.rc, 0, "%s", a.err);
    cr_assert_str_eq(a.body, "{\"model\":\"fallback\",\"x\":\"decoy\",\"stream_options\":7}");
    free(a.body);

    /* Spans known without body_checked (no host sets that): not trusted. */
    r.body_checked = 0;
    r.model_value = decoy;
    r.model_value_len = 7;
    a = build(&r);
    cr_assert_eq(a.rc, 0, "%s", a.err);
    cr_assert_str_eq(a.body, "{\"model\":\"fallback\",\"x\":\"decoy\",\"stream_options\":7}");
    free(a.body);
}
