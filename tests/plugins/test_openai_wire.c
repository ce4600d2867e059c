/*
 * test_openai_wire.c - the OpenAI wire code shared by openai and holysheep:
 * request building (URL, headers, body rewriting), the classification table,
 * error summaries (never a key), and stream events. No network: a fake host.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fake_host.h"
#include "openai_wire.h"

#define KEY "sk-test-0123456789abcdef"

static sy_openai_wire w;
static char err[512];
static const sy_endpoint ep = {.provider = "p", .name = "e1",
                               .base_url = "https://api.example.com/v1"};

static void setup(void)
{
    sy_openai_wire_conf c = {.api_key = KEY};
    cr_assert_eq(sy_openai_wire_init(&w, fake_host(), "openai", &c, err, sizeof err), 0, "%s",
                 err);
}

static void teardown(void)
{
    sy_openai_wire_fini(&w);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(wire, .init = setup, .fini = teardown);

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

static sy_request chat(const char *body, const char *model, const char *client_model)
{
    return (sy_request){.op = SY_OP_CHAT, .model = model, .client_model = client_model,
                        .body = body, .body_len = strlen(body), .request_id = "r1"};
}

/* Build, check the body equals want, free what the host would free. */
static void expect_body(const sy_request *req, const char *want)
{
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, req, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(out.body_len, strlen(want), "got %.*s", (int)out.body_len, out.body);
    cr_assert(!memcmp(out.body, want, out.body_len), "got %.*s\nwant %s", (int)out.body_len,
              out.body, want);
    if (out.body != req->body) {
        cr_assert_eq(out.body_owned, (void *)out.body);
        fake_host()->free(out.body_owned);
    } else {
        cr_assert_null(out.body_owned);
    }
}

/* ------------------------------------------------------------ building */

Test(wire, urls_per_operation)
{
    static const struct {
        sy_op op;
        const char *base, *url;
    } cases[] = {
        {SY_OP_CHAT, "https://api.example.com/v1", "https://api.example.com/v1/chat/completions"},
        {SY_OP_COMPLETIONS, "https://api.example.com/v1/",
         "https://api.example.com/v1/completions"},
        {SY_OP_EMBEDDINGS, "http://127.0.0.1:9999/r1/v1", "http://127.0.0.1:9999/r1/v1/embeddings"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sy_endpoint e = {.name = "e", .base_url = cases[i].base};
        sy_request r = chat("{\"model\":\"m\"}", "m", "m");
        r.op = cases[i].op;
        sy_http_request out;
        cr_assert_eq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0);
        cr_assert_str_eq(out.url, cases[i].url);
    }
}

Test(wire, missing_or_overlong_base_url_is_an_error)
{
    sy_request r = chat("{\"model\":\"m\"}", "m", "m");
    sy_http_request out;
    sy_endpoint e = {.name = "e1", .base_url = ""};
    cr_assert_neq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0);
    assert_has(err, "endpoint 'e1' has no base_url");
    static char longurl[SY_URL_MAX + 10];
    memset(longurl, 'a', sizeof longurl - 1);
    memcpy(longurl, "https://", 8);
    e.base_url = longurl;
    cr_assert_neq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0);
    assert_has(err, "too long");
    r.op = (sy_op)42;
    e.base_url = "https://x";
    cr_assert_neq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0);
}

Test(wire, headers_carry_only_the_plugins_key)
{
    sy_request r = chat("{\"model\":\"m\"}", "m", "m");
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.n_headers, 2);
    int auth = 0;
    for (unsigned i = 0; i < out.n_headers; i++) {
        cr_assert_null(strchr(out.headers[i], '\n'));
        if (!strncasecmp(out.headers[i], "Authorization:", 14)) {
            auth++;
            cr_assert_str_eq(out.headers[i], "Authorization: Bearer " KEY);
        }
    }
    cr_assert_eq(auth, 1);
    cr_assert_str_eq(out.headers[1], "Content-Type: application/json");
}

Test(wire, organization_and_project_headers)
{
    sy_openai_wire w2;
    sy_openai_wire_conf c = {.api_key = KEY, .organization = "org-1", .project = "proj_2"};
    cr_assert_eq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    sy_request r = chat("{\"model\":\"m\"}", "m", "m");
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w2, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.n_headers, 4);
    cr_assert_str_eq(out.headers[2], "OpenAI-Organization: org-1");
    cr_assert_str_eq(out.headers[3], "OpenAI-Project: proj_2");
    sy_openai_wire_fini(&w2);
}

/* ---------------------------------------------------------- health checks */

Test(wire, health_request_is_a_get_of_base_url_plus_path_with_the_key)
{
    sy_openai_wire w2;
    sy_openai_wire_conf c = {.api_key = KEY, .organization = "org-1"};
    cr_assert_eq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    sy_endpoint e = {.name = "e1", .base_url = "http://127.0.0.1:9999/r1/v1/"};
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_health_request(&w2, &e, "/models", &out, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(out.url, "http://127.0.0.1:9999/r1/v1/models");
    cr_assert_eq(out.n_headers, 2, "the key and the organization, no Content-Type");
    cr_assert_str_eq(out.headers[0], "Authorization: Bearer " KEY);
    cr_assert_str_eq(out.headers[1], "OpenAI-Organization: org-1");
    cr_assert_null(out.body, "a probe has no body: it never costs tokens");
    cr_assert_eq(out.body_len, 0);
    cr_assert_null(out.body_owned);
    sy_openai_wire_fini(&w2);
}

Test(wire, health_request_refuses_bad_paths_and_base_urls)
{
    sy_http_request out;
    sy_endpoint e = {.name = "e1", .base_url = "https://api.example.com/v1"};
    cr_assert_neq(sy_openai_wire_health_request(&w, &e, "models", &out, err, sizeof err), 0);
    assert_has(err, "must start with '/'");
    cr_assert_neq(sy_openai_wire_health_request(&w, &e, "/a b", &out, err, sizeof err), 0);
    cr_assert_neq(sy_openai_wire_health_request(&w, &e, "/a\r\nX: y", &out, err, sizeof err), 0);
    cr_assert_neq(sy_openai_wire_health_request(&w, &e, NULL, &out, err, sizeof err), 0);
    e.base_url = "";
    cr_assert_neq(sy_openai_wire_health_request(&w, &e, "/models", &out, err, sizeof err), 0);
    assert_has(err, "endpoint 'e1' has no base_url");
}

Test(wire, health_request_without_a_key_has_no_headers)
{
    sy_openai_wire w2;
    sy_openai_wire_conf c = {0};
    cr_assert_eq(sy_openai_wire_init(&w2, fake_host(), "mock", &c, err, sizeof err), 0);
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_health_request(&w2, &ep, "/models", &out, err, sizeof err), 0);
    cr_assert_str_eq(out.url, "https://api.example.com/v1/models");
    cr_assert_eq(out.n_headers, 0);
    sy_openai_wire_fini(&w2);
}

Test(wire, init_refuses_header_injection_without_quoting_the_key)
{
    sy_openai_wire w2;
    sy_openai_wire_conf c = {.api_key = "sk-secret\r\nX-Evil: 1"};
    cr_assert_neq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    cr_assert_null(strstr(err, "sk-secret"));
    assert_has(err, "api_key");
    c = (sy_openai_wire_conf){.api_key = ""};
    cr_assert_neq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    c = (sy_openai_wire_conf){.api_key = KEY, .organization = "o\nX: y"};
    cr_assert_neq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    assert_has(err, "organization");
}

Test(wire, same_model_is_zero_copy)
{
    sy_request r = chat("{\"model\":\"gpt-4.1\",\"messages\":[]}", "gpt-4.1", "gpt-4.1");
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.body, r.body);
    cr_assert_eq(out.body_len, r.body_len);
    cr_assert_null(out.body_owned);
}

Test(wire, fallback_model_is_replaced_and_nothing_else_changes)
{
    /* Formatting, key order and a number cJSON could not print back exactly survive. */
    const char *body = "{ \"messages\": [{\"role\":\"user\",\"content\":\"hi \\\"model\\\"\"}],\n"
                       "  \"model\" : \"gpt-4.1\" , \"seed\": 12345678901234567890, "
                       "\"temperature\":0.70}";
    const char *want = "{ \"messages\": [{\"role\":\"user\",\"content\":\"hi \\\"model\\\"\"}],\n"
                       "  \"model\" : \"gpt-4o\" , \"seed\": 12345678901234567890, "
                       "\"temperature\":0.70}";
    sy_request r = chat(body, "gpt-4o", "gpt-4.1");
    expect_body(&r, want);
}

Test(wire, only_top_level_model_keys_are_replaced)
{
    sy_request r = chat("{\"metadata\":{\"model\":\"a\"},\"model\":\"a\",\"model\":\"a\"}", "b",
                        "a");
    expect_body(&r, "{\"metadata\":{\"model\":\"a\"},\"model\":\"b\",\"model\":\"b\"}");
}

Test(wire, escaped_model_key_is_found)
{
    sy_request r = chat("{\"mod\\u0065l\":\"a\",\"x\":[1,{\"y\":\"}\"}]}", "b", "a");
    expect_body(&r, "{\"mod\\u0065l\":\"b\",\"x\":[1,{\"y\":\"}\"}]}");
}

Test(wire, missing_model_is_added)
{
    sy_request r = chat("{\"messages\":[]}", "b", "a");
    expect_body(&r, "{\"model\":\"b\",\"messages\":[]}");
    r = chat(" { } ", "b", "a");
    expect_body(&r, " {\"model\":\"b\" } ");
}

Test(wire, model_names_are_json_escaped)
{
    sy_request r = chat("{\"model\":\"a\"}", "we\"ird\\m\n", "a");
    expect_body(&r, "{\"model\":\"we\\\"ird\\\\m\\u000a\"}");
}

Test(wire, body_that_is_not_a_json_object_is_refused)
{
    const char *bad[] = {"{\"model\":", "[1,2]", "{\"model\":\"a\"} trailing", "", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sy_request r = chat(bad[i], "b", "a");
        sy_http_request out;
        cr_assert_neq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0,
                      "accepted %s", bad[i]);
        assert_has(err, "not a JSON object");
    }
}

Test(wire, body_is_not_read_past_its_length)
{
    /* The body is not NUL-terminated where body_len ends. */
    const char buf[] = "{\"model\":\"a\"}GARBAGE";
    sy_request r = chat(buf, "b", "a");
    r.body_len = 13;
    expect_body(&r, "{\"model\":\"b\"}");
}

Test(wire, include_usage_only_when_asked)
{
    sy_openai_wire wu;
    sy_openai_wire_conf c = {.api_key = KEY, .include_usage = 1};
    cr_assert_eq(sy_openai_wire_init(&wu, fake_host(), "openai", &c, err, sizeof err), 0);
    sy_http_request out;

    /* Option on, stream: added. */
    sy_request r = chat("{\"model\":\"m\",\"stream\":true}", "m", "m");
    r.stream = 1;
    cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_str_eq(out.body, "{\"stream_options\":{\"include_usage\":true},\"model\":\"m\","
                               "\"stream\":true}");
    fake_host()->free(out.body_owned);

    /* With a fallback model too. */
    r.model = "n";
    cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_str_eq(out.body, "{\"stream_options\":{\"include_usage\":true},\"model\":\"n\","
                               "\"stream\":true}");
    fake_host()->free(out.body_owned);

    /* A client that asked for usage itself: unchanged, zero copy. */
    r = chat("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}", "m",
             "m");
    r.stream = 1;
    cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.body, r.body);
    cr_assert_null(out.body_owned);

    /* Its own stream_options without usage: include_usage set, the rest kept. */
    static const struct {
        const char *in, *out;
    } so[] = {
        {"{\"include_usage\":false}", "{\"include_usage\":true}"},
        {"{ \"include_usage\" : null , \"x\":1}", "{ \"include_usage\" : true , \"x\":1}"},
        {"{}", "{\"include_usage\":true}"},
        {"{ }", "{\"include_usage\":true }"},
        {"{\"x\":{\"include_usage\":false}}", "{\"include_usage\":true,\"x\":{\"include_usage\":false}}"},
        {"null", "{\"include_usage\":true}"},
        {"7", "{\"include_usage\":true}"},
    };
    for (size_t i = 0; i < sizeof so / sizeof *so; i++) {
        char in[256], want[256];
        snprintf(in, sizeof in, "{\"model\":\"m\",\"stream\":true,\"stream_options\":%s}", so[i].in);
        snprintf(want, sizeof want, "{\"model\":\"m\",\"stream\":true,\"stream_options\":%s}",
                 so[i].out);
        r = chat(in, "m", "m");
        r.stream = 1;
        cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(out.body, want);
        fake_host()->free(out.body_owned);
    }

    /* Not a stream, or embeddings: unchanged. */
    r = chat("{\"model\":\"m\"}", "m", "m");
    cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.body, r.body);
    r.op = SY_OP_EMBEDDINGS;
    r.stream = 1;
    cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.body, r.body);
    sy_openai_wire_fini(&wu);

    /* Option off (the wire's default; the plugins turn it on): a stream passes unchanged. */
    r = chat("{\"model\":\"m\",\"stream\":true}", "m", "m");
    r.stream = 1;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0);
    cr_assert_eq(out.body, r.body);
}

/* ------------------------------------------------------------ classifying */

Test(wire, classification_table)
{
    static const struct {
        int status;
        sy_verdict v;
    } t[] = {
        {200, SY_VERDICT_OK},    {201, SY_VERDICT_OK},    {299, SY_VERDICT_OK},
        {408, SY_VERDICT_RETRY}, {409, SY_VERDICT_RETRY}, {429, SY_VERDICT_RETRY},
        {500, SY_VERDICT_RETRY}, {502, SY_VERDICT_RETRY}, {503, SY_VERDICT_RETRY},
        {504, SY_VERDICT_RETRY}, {529, SY_VERDICT_RETRY}, {401, SY_VERDICT_NEXT},
        {403, SY_VERDICT_NEXT},  {404, SY_VERDICT_NEXT},  {301, SY_VERDICT_NEXT},
        {400, SY_VERDICT_FATAL}, {413, SY_VERDICT_FATAL}, {422, SY_VERDICT_FATAL},
        {0, SY_VERDICT_RETRY},   {600, SY_VERDICT_RETRY}, {-1, SY_VERDICT_RETRY},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(sy_openai_wire_classify(t[i].status), t[i].v, "status %d", t[i].status);
}

static sy_result parse(int status, const char *body, sy_op op, int stream)
{
    sy_request r = chat("{}", "m", "m");
    r.op = op;
    r.stream = stream;
    sy_http_response resp = {.status = status, .body = body, .body_len = body ? strlen(body) : 0};
    sy_result res;
    memset(&res, 0x5A, sizeof res);
    cr_assert_eq(sy_openai_wire_parse_response(&w, &r, &resp, &res), 0);
    cr_assert_null(res.body);
    /* A host without the ABI 1.1 JSON scanner (full cJSON path) must agree. */
    sy_openai_wire w10;
    sy_openai_wire_conf c = {.api_key = KEY};
    cr_assert_eq(sy_openai_wire_init(&w10, fake_host_v10(), "openai", &c, err, sizeof err), 0);
    sy_result res10;
    memset(&res10, 0x5A, sizeof res10);
    cr_assert_eq(sy_openai_wire_parse_response(&w10, &r, &resp, &res10), 0);
    sy_openai_wire_fini(&w10);
    cr_assert_eq(res10.verdict, res.verdict, "verdicts differ for %s", body ? body : "(null)");
    cr_assert_eq(res10.usage.input_tokens, res.usage.input_tokens);
    cr_assert_eq(res10.usage.output_tokens, res.usage.output_tokens);
    cr_assert_str_eq(res10.error, res.error);
    cr_assert_lt(strlen(res.error), sizeof res.error);
    return res;
}

Test(wire, ok_answers_give_usage)
{
    sy_result r = parse(200,
                        "{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                        "\"completion_tokens\":7,\"total_tokens\":19}}",
                        SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_eq(r.usage.input_tokens, 12);
    cr_assert_eq(r.usage.output_tokens, 7);
    cr_assert_str_eq(r.error, "");

    r = parse(200, "{\"data\":[],\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}",
              SY_OP_EMBEDDINGS, 0);
    cr_assert_eq(r.usage.input_tokens, 5);
    cr_assert_eq(r.usage.output_tokens, 0);

    r = parse(200, "{\"choices\":[]}", SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_eq(r.usage.input_tokens, -1);
    cr_assert_eq(r.usage.output_tokens, -1);

    /* Streams: the body is SSE, usage comes from stream events. */
    r = parse(200, "data: {}\n\n", SY_OP_CHAT, 1);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
}

Test(wire, broken_ok_answers_are_retried)
{
    sy_result r = parse(200, "<html>oops</html>", SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    assert_has(r.error, "not a JSON object");
    r = parse(200, NULL, SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    r = parse(200, "{\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\"}}",
              SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    assert_has(r.error, "upstream overloaded");
}

Test(wire, error_summary_from_the_envelope)
{
    sy_result r = parse(429,
                        "{\"error\":{\"message\":\"Rate limit reached for gpt-4.1\",\"type\":"
                        "\"requests\",\"code\":\"rate_limit_exceeded\"}}",
                        SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    cr_assert_str_eq(r.error, "HTTP 429 (rate_limit_exceeded): Rate limit reached for gpt-4.1");

    r = parse(404,
              "{\"error\":{\"message\":\"The model `x` does not exist\",\"type\":"
              "\"invalid_request_error\",\"code\":\"model_not_found\"}}",
              SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);
    cr_assert_str_eq(r.error, "HTTP 404 (model_not_found): The model `x` does not exist");

    r = parse(400, "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"}}",
              SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_FATAL);
    cr_assert_str_eq(r.error, "HTTP 400 (invalid_request_error): bad");

    r = parse(502, "<html>\r\n<h1>Bad Gateway</h1></html>", SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    cr_assert_str_eq(r.error, "HTTP 502: <html> <h1>Bad Gateway</h1></html>");

    r = parse(503, NULL, SY_OP_CHAT, 0);
    cr_assert_str_eq(r.error, "HTTP 503 with an empty body");
}

Test(wire, error_summary_never_holds_a_key)
{
    sy_result r = parse(401,
                        "{\"error\":{\"message\":\"Incorrect API key provided: sk-test-****cdef. "
                        "You can find your API key at https://platform.openai.com.\","
                        "\"code\":\"invalid_api_key\"}}",
                        SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);
    cr_assert_null(strstr(r.error, "sk-"), "%s", r.error);
    assert_has(r.error, "[redacted]");
    assert_has(r.error, "Incorrect API key provided");

    /* An upstream that echoes the whole key, or a bearer header. */
    r = parse(403, "{\"error\":{\"message\":\"key=" KEY " refused; Authorization: Bearer abc\"}}",
              SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);
    cr_assert_null(strstr(r.error, KEY), "%s", r.error);
    cr_assert_null(strstr(r.error, "abc"), "%s", r.error);
}

Test(wire, long_errors_are_truncated)
{
    char body[4096];
    int n = snprintf(body, sizeof body, "{\"error\":{\"message\":\"");
    for (int i = 0; i < 600; i++) body[n++] = (char)('a' + i % 26);
    strcpy(body + n, "\"}}");
    sy_result r = parse(500, body, SY_OP_CHAT, 0);
    cr_assert_eq(strlen(r.error), sizeof r.error - 1);
    cr_assert_str_eq(r.error + sizeof r.error - 4, "...");
}

Test(wire, summarise_keeps_utf8_whole)
{
    char dst[16];
    /* "é" is two bytes; the cut must not split it. */
    sy_openai_wire_summarise(&w, "abcdefghijk\xc3\xa9zz", 15, dst, sizeof dst);
    cr_assert_str_eq(dst, "abcdefghijk...");
    sy_openai_wire_summarise(&w, "tab\there\x01", 9, dst, sizeof dst);
    cr_assert_str_eq(dst, "tab here");
}

/* ------------------------------------------------------------ streaming */

static sy_stream_result event(const char *data)
{
    sy_request r = chat("{}", "m", "m");
    r.stream = 1;
    sy_stream_result res;
    memset(&res, 0x5A, sizeof res);
    cr_assert_eq(sy_openai_wire_stream_event(&w, &r, data, strlen(data), &res), 0);
    cr_assert_null(res.data);
    return res;
}

/* With include_usage on, the usage chunk (empty choices) goes to the client
 * only when the client's own body asked for it; its usage counts either way. */
Test(wire, usage_chunk_dropped_unless_the_client_asked)
{
    static const char usage_chunk[] =
        "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}";
    static const struct {
        const char *body;
        int drop;
    } cases[] = {
        {"{\"model\":\"m\",\"stream\":true}", 1},
        {"{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":false}}", 1},
        {"{\"model\":\"m\",\"stream\":true,\"stream_options\":null}", 1},
        {"{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"x\":1}}", 1},
        {"{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}", 0},
        {"{\"stream_options\" : { \"x\":[1], \"include_usage\" : true },\"model\":\"m\"}", 0},
    };
    /* The host's scanner (ABI 1.1), and a host without it (whole-body parse). */
    const sy_host_api *hosts[] = {fake_host(), fake_host_v10()};
    for (size_t h = 0; h < 2; h++) {
        sy_openai_wire wu;
        sy_openai_wire_conf c = {.api_key = KEY, .include_usage = 1};
        cr_assert_eq(sy_openai_wire_init(&wu, hosts[h], "openai", &c, err, sizeof err), 0);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            sy_request r = chat(cases[i].body, "m", "m");
            r.stream = 1;
            sy_stream_result res;
            memset(&res, 0x5A, sizeof res);
            cr_assert_eq(sy_openai_wire_stream_event(&wu, &r, usage_chunk, strlen(usage_chunk),
                                                     &res), 0);
            cr_assert_eq(res.drop, cases[i].drop, "host %zu: %s", h, cases[i].body);
            cr_assert_eq(res.usage.input_tokens, 9);
            cr_assert_eq(res.usage.output_tokens, 4);
            cr_assert_null(res.data);

            /* Content chunks, usage riding on a content chunk, errors, [DONE]: never dropped. */
            const char *kept[] = {
                "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}",
                "{\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}",
                "{\"choices\":[],\"error\":{\"message\":\"x\"},\"usage\":{\"prompt_tokens\":1}}",
                "[DONE]",
            };
            for (size_t k = 0; k < sizeof kept / sizeof *kept; k++) {
                memset(&res, 0x5A, sizeof res);
                cr_assert_eq(sy_openai_wire_stream_event(&wu, &r, kept[k], strlen(kept[k]), &res), 0);
                cr_assert_eq(res.drop, 0, "%s", kept[k]);
            }
        }
        sy_openai_wire_fini(&wu);
    }
    /* include_usage off: the router did not ask, so it strips nothing. */
    sy_request r = chat("{\"model\":\"m\",\"stream\":true}", "m", "m");
    r.stream = 1;
    sy_stream_result res;
    memset(&res, 0x5A, sizeof res);
    cr_assert_eq(sy_openai_wire_stream_event(&w, &r, usage_chunk, strlen(usage_chunk), &res), 0);
    cr_assert_eq(res.drop, 0);
}

Test(wire, stream_events)
{
    sy_stream_result s = event("[DONE]");
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.error, 0);
    s = event(" [DONE]\n");
    cr_assert_eq(s.done, 1);

    s = event("{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":"
              "{\"content\":\"Hi\"}}]}");
    cr_assert_eq(s.done, 0);
    cr_assert_eq(s.error, 0);
    cr_assert_eq(s.usage.input_tokens, -1);
    cr_assert_eq(s.usage.output_tokens, -1);

    s = event("{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}");
    cr_assert_eq(s.usage.input_tokens, 9);
    cr_assert_eq(s.usage.output_tokens, 4);

    s = event("{\"choices\":[{\"delta\":{}}],\"usage\":null}");
    cr_assert_eq(s.usage.input_tokens, -1);

    s = event("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}");
    cr_assert_eq(s.error, 1);
    cr_assert_eq(s.done, 0);

    /* A chunk that merely mentions "error" in its text is not an error. */
    s = event("{\"choices\":[{\"delta\":{\"content\":\"\\\"error\\\"\"}}]}");
    cr_assert_eq(s.error, 0);

    s = event("{\"usage\": broken");
    cr_assert_eq(s.error, 0);
    cr_assert_eq(s.done, 0);
    s = event("");
    cr_assert_eq(s.done, 0);
}

/* ------------------------------------------------ property: random bodies */

static uint64_t prng = 0x1234567;
static unsigned rnd(unsigned n)
{
    prng = prng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(prng >> 33) % n;
}

static cJSON *random_value(int depth);

static cJSON *random_string(void)
{
    static const char *const pieces[] = {"a", "model", "\"", "\\", "}", "{", "]", ",", ":",
                                         "\n", "é", "\xe2\x82\xac", " ", "null", "0"};
    char s[64] = "";
    for (unsigned i = 0, n = rnd(6); i < n; i++) strcat(s, pieces[rnd(15)]);
    return cJSON_CreateString(s);
}

static cJSON *random_object(int depth, int top)
{
    static const char *const keys[] = {"model", "messages", "stream_options", "x", "m\"odel",
                                       "", "temperature", "mod", "include_usage"};
    cJSON *o = cJSON_CreateObject();
    for (unsigned i = 0, n = rnd(top ? 6 : 4); i < n; i++)
        cJSON_AddItemToObject(o, keys[rnd(9)], random_value(depth + 1));
    return o;
}

/* What a client's stream_options becomes on a stream: an object with every
 * include_usage true (added first when it had none); anything else
 * {"include_usage": true}. Returns the item now in so's place. */
static cJSON *want_usage(cJSON *parent, cJSON *so)
{
    if (!cJSON_IsObject(so)) {
        cJSON *n = cJSON_CreateObject();
        cJSON_AddTrueToObject(n, "include_usage");
        n->string = strdup("stream_options");
        cJSON_ReplaceItemViaPointer(parent, so, n);
        return n;
    }
    int found = 0;
    for (cJSON *c = so->child; c; c = c->next) {
        if (strcmp(c->string, "include_usage")) continue;
        found = 1;
        if (!cJSON_IsTrue(c)) {
            cJSON *t = cJSON_CreateTrue();
            t->string = strdup("include_usage");
            cJSON_ReplaceItemViaPointer(so, c, t);
            c = t;
        }
    }
    if (!found) {
        cJSON *t = cJSON_CreateTrue();
        t->string = strdup("include_usage");
        cJSON_InsertItemInArray(so, 0, t);
    }
    return so;
}

static cJSON *random_value(int depth)
{
    switch (depth > 4 ? rnd(4) : rnd(7)) {
    case 0: return cJSON_CreateNumber((double)(int)rnd(100000) / 7.0);
    case 1: return random_string();
    case 2: return rnd(2) ? cJSON_CreateTrue() : cJSON_CreateNull();
    case 3: return cJSON_CreateNumber(-(double)rnd(1000));
    case 4: case 5: return random_object(depth, 0);
    default: {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = 0, n = rnd(4); i < n; i++)
            cJSON_AddItemToArray(a, random_value(depth + 1));
        return a;
    }
    }
}

Test(wire, rewritten_bodies_equal_the_original_with_the_new_model)
{
    sy_openai_wire wu;
    sy_openai_wire_conf c = {.api_key = KEY, .include_usage = 1};
    cr_assert_eq(sy_openai_wire_init(&wu, fake_host(), "openai", &c, err, sizeof err), 0);
    for (int iter = 0; iter < 2000; iter++) {
        cJSON *orig = random_object(0, 1);
        char *text = rnd(2) ? cJSON_Print(orig) : cJSON_PrintUnformatted(orig);
        const char *model = rnd(2) ? "gpt-4o" : "we\"ird\\\x01";
        sy_request r = chat(text, model, "client-model");
        r.stream = (int)rnd(2);
        sy_http_request out;
        cr_assert_eq(sy_openai_wire_build_request(&wu, &ep, &r, &out, err, sizeof err), 0,
                     "%s on %s", err, text);

        /* Expected: every top-level "model" replaced, else one added first;
         * for streams stream_options added (after an added model) when there
         * was none, and made to ask for usage when there was. */
        cJSON *want = cJSON_Duplicate(orig, 1);
        int had_model = 0, had_so = 0;
        for (cJSON *it = want->child; it; it = it->next) {
            if (!strcmp(it->string, "model")) {
                cJSON *n = cJSON_CreateString(model);
                n->string = strdup("model"); /* ReplaceItemViaPointer keeps no key */
                cJSON_ReplaceItemViaPointer(want, it, n);
                it = n;
                had_model = 1;
            } else if (!strcmp(it->string, "stream_options")) {
                had_so = 1;
                if (r.stream) it = want_usage(want, it);
            }
        }
        if (r.stream && !had_so) {
            cJSON *so = cJSON_CreateObject();
            cJSON_AddTrueToObject(so, "include_usage");
            so->string = strdup("stream_options");
            so->next = want->child;
            if (want->child) {
                so->prev = want->child->prev;
                want->child->prev = so;
            } else {
                so->prev = so;
            }
            want->child = so;
        }
        if (!had_model) {
            cJSON *n = cJSON_CreateString(model);
            n->string = strdup("model");
            n->next = want->child;
            if (want->child) {
                n->prev = want->child->prev;
                want->child->prev = n;
            } else {
                n->prev = n;
            }
            want->child = n;
        }
        cJSON *got = cJSON_ParseWithLength(out.body, out.body_len);
        cr_assert_not_null(got, "not JSON: %.*s", (int)out.body_len, out.body);
        char *ws = cJSON_PrintUnformatted(want), *gs = cJSON_PrintUnformatted(got);
        cr_assert_str_eq(gs, ws, "from %s\ngot  %s\nwant %s", text, gs, ws);
        cJSON_free(ws);
        cJSON_free(gs);
        cJSON_Delete(got);
        cJSON_Delete(want);
        cJSON_Delete(orig);
        cJSON_free(text);
        fake_host()->free(out.body_owned);
    }
    sy_openai_wire_fini(&wu);
}

/* The reference: a usage object's counts as a cJSON tree gives them (what the
 * wire read before it read usage with the scanner). */
static int64_t tree_count(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (!cJSON_IsNumber(v) && b) v = cJSON_GetObjectItemCaseSensitive(o, b);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15) return -1;
    return (int64_t)v->valuedouble;
}

/* Usage read from the text (no tree) agrees with the tree on every odd case:
 * names of both APIs, repeated and escaped keys, numbers that are not plain
 * digits, negative or too large, and the reasoning part. */
Test(wire, usage_counts_read_as_a_tree_parser_reads_them)
{
    static const char *usages[] = {
        "{\"prompt_tokens\":12,\"completion_tokens\":7}",
        "{\"input_tokens\":3,\"output_tokens\":4}",
        "{\"prompt_tokens\":null,\"input_tokens\":3,\"completion_tokens\":\"7\",\"output_tokens\":4}",
        "{\"prompt_tokens\":1,\"prompt_tokens\":2,\"completion_tokens\":0}",
        "{\"pr\\u006fmpt_tokens\":5,\"completion_tokens\":1.9}",
        "{\"prompt_tokens\":-1,\"completion_tokens\":2e3}",
        "{\"prompt_tokens\":9000000000000000,\"completion_tokens\":9000000000000001}",
        "{\"prompt_tokens\":123456789012345678901234567890,\"completion_tokens\":1e400}",
        "{\"prompt_tokens\":0.5e1,\"completion_tokens\":-0}",
        "{\"prompt_tokens\":100000000000000,\"completion_tokens\":999999999999999}",
        "{\"prompt_tokens\":10,\"completion_tokens\":20,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":15}}",
        "{\"input_tokens\":10,\"output_tokens\":20,\"output_tokens_details\":{\"reasoning_tokens\":8},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":9}}",
        "{\"input_tokens\":10,\"output_tokens_details\":null,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":-3}}",
        "{\"prompt_tokens\":5,\"completion_tokens_details\":{\"reasoning_tokens\":\"4\"}}",
        "{}",
    };
    const sy_host_api *hosts[] = {fake_host(), fake_host_v10()};
    for (size_t h = 0; h < 2; h++) {
        sy_openai_wire wu;
        sy_openai_wire_conf c = {.api_key = KEY};
        cr_assert_eq(sy_openai_wire_init(&wu, hosts[h], "openai", &c, err, sizeof err), 0);
        for (size_t i = 0; i < sizeof usages / sizeof *usages; i++) {
            cJSON *u = cJSON_Parse(usages[i]);
            cr_assert_not_null(u, "%s", usages[i]);
            int64_t in = tree_count(u, "prompt_tokens", "input_tokens");
            int64_t out = tree_count(u, "completion_tokens", "output_tokens");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(u, "output_tokens_details");
            if (!cJSON_IsObject(d)) d = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
            int64_t reasoning = cJSON_IsObject(d) ? tree_count(d, "reasoning_tokens", NULL) : -1;
            cJSON_Delete(u);

            char body[512];
            snprintf(body, sizeof body, "{\"id\":\"x\",\"choices\":[],\"usage\":%s}", usages[i]);
            sy_request r = chat("{}", "m", "m");
            sy_http_response resp = {.status = 200, .body = body, .body_len = strlen(body)};
            sy_result res;
            memset(&res, 0x5A, sizeof res);
            cr_assert_eq(sy_openai_wire_parse_response(&wu, &r, &resp, &res), 0);
            cr_assert_eq(res.usage.input_tokens, in, "host %zu: %s", h, usages[i]);
            cr_assert_eq(res.usage.output_tokens, out, "host %zu: %s", h, usages[i]);
            cr_assert_eq(res.reasoning_tokens, reasoning, "host %zu: %s", h, usages[i]);

            /* The same usage on a stream's usage chunk. */
            snprintf(body, sizeof body, "{\"choices\":[],\"usage\":%s}", usages[i]);
            r.stream = 1;
            sy_stream_result ev;
            memset(&ev, 0x5A, sizeof ev);
            cr_assert_eq(sy_openai_wire_stream_event(&wu, &r, body, strlen(body), &ev), 0);
            cr_assert_eq(ev.usage.input_tokens, in, "stream, host %zu: %s", h, usages[i]);
            cr_assert_eq(ev.usage.output_tokens, out, "stream, host %zu: %s", h, usages[i]);
            cr_assert_eq(ev.reasoning_tokens, reasoning, "stream, host %zu: %s", h, usages[i]);
        }
        sy_openai_wire_fini(&wu);
    }
}
