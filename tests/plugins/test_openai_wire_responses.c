/*
 * test_openai_wire_responses.c - the Responses API in the OpenAI wire code
 * (plugin ABI 1.3): building POST /responses and the requests on one stored
 * response, reading usage, reasoning tokens and the response id of answers
 * and of typed stream events, the 404 of a stored response, garbage that
 * must never crash, and the openai / holysheep descriptors declaring the ops.
 * No network: a fake host (and a counting one, to check the hot path).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "loader.h"
#include "openai_wire.h"

#define KEY "sk-test-0123456789abcdef"

static sy_openai_wire w;
static char err[512];
static const sy_endpoint ep = {.provider = "p", .name = "e1",
                               .base_url = "https://api.example.com/v1"};

static void setup(void)
{
    sy_openai_wire_conf c = {.api_key = KEY, .include_usage = 1};
    cr_assert_eq(sy_openai_wire_init(&w, fake_host(), "openai", &c, err, sizeof err), 0, "%s",
                 err);
}

static void teardown(void)
{
    sy_openai_wire_fini(&w);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(responses, .init = setup, .fini = teardown);

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

static sy_request create_req(const char *body, const char *model, const char *client_model)
{
    return (sy_request){.op = SY_OP_RESPONSES, .model = model, .client_model = client_model,
                        .body = body, .body_len = strlen(body), .request_id = "r1",
                        .method = "POST", .path = "/responses"};
}

static sy_request item_req(const char *method, const char *path)
{
    return (sy_request){.op = SY_OP_RESPONSE_ITEM, .model = "", .client_model = "",
                        .body = "", .body_len = 0, .request_id = "r1", .method = method,
                        .path = path};
}

static int has_header(const sy_http_request *out, const char *prefix)
{
    for (unsigned i = 0; i < out->n_headers; i++)
        if (!strncasecmp(out->headers[i], prefix, strlen(prefix))) return 1;
    return 0;
}

/* ------------------------------------------------------------- building */

Test(responses, path_of_the_operations)
{
    cr_assert_str_eq(sy_openai_wire_path(SY_OP_RESPONSES), "/responses");
    cr_assert_null(sy_openai_wire_path(SY_OP_RESPONSE_ITEM), "an item's path is the request's");
    cr_assert_str_eq(sy_openai_wire_path(SY_OP_CHAT), "/chat/completions");
}

Test(responses, create_is_a_zero_copy_post_to_responses)
{
    const char *body = "{\"model\":\"gpt-4.1\",\"input\":\"hi\"}";
    sy_request r = create_req(body, "gpt-4.1", "gpt-4.1");
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, "https://api.example.com/v1/responses");
    cr_assert(out.method == NULL || !strcmp(out.method, "POST"));
    cr_assert_eq(out.body, r.body);
    cr_assert_eq(out.body_len, r.body_len);
    cr_assert_null(out.body_owned);
    cr_assert_str_eq(out.headers[0], "Authorization: Bearer " KEY);
    cr_assert(has_header(&out, "Content-Type: application/json"));
}

/* Streams of the Responses API report usage in response.completed without
 * being asked: the body is never given stream_options. */
Test(responses, create_stream_gets_no_stream_options)
{
    const char *body = "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}";
    sy_request r = create_req(body, "gpt-4.1", "gpt-4.1");
    r.stream = 1;
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(out.body, r.body, "zero copy: include_usage is not for Responses");
    cr_assert_null(out.body_owned);
}

Test(responses, fallback_model_is_replaced_in_place)
{
    const char *body = "{ \"input\": [{\"role\":\"user\",\"content\":\"say \\\"model\\\"\"}],\n"
                       "  \"model\" : \"gpt-4.1\", \"stream\": true, \"seed\": 12345678901234567890,"
                       " \"metadata\":{\"model\":\"gpt-4.1\"}, \"previous_response_id\":\"resp_1\"}";
    const char *want = "{ \"input\": [{\"role\":\"user\",\"content\":\"say \\\"model\\\"\"}],\n"
                       "  \"model\" : \"gpt-4o\", \"stream\": true, \"seed\": 12345678901234567890,"
                       " \"metadata\":{\"model\":\"gpt-4.1\"}, \"previous_response_id\":\"resp_1\"}";
    sy_request r = create_req(body, "gpt-4o", "gpt-4.1");
    r.stream = 1;
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(out.body_owned, (void *)out.body);
    cr_assert_eq(out.body_len, strlen(want), "got %.*s", (int)out.body_len, out.body);
    cr_assert(!memcmp(out.body, want, out.body_len), "got %.*s", (int)out.body_len, out.body);
    cr_assert_null(strstr(out.body, "stream_options"));
    fake_host()->free(out.body_owned);

    /* A body that is not a JSON object cannot be edited. */
    r = create_req("{\"model\":", "gpt-4o", "gpt-4.1");
    cr_assert_neq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0);
    assert_has(err, "not a JSON object");
}

Test(responses, get_of_a_stored_response_has_no_body)
{
    char method[] = "GET"; /* the request's copy: the answer must be a static string */
    sy_request r = item_req(method, "/responses/resp_123/input_items?limit=5&order=asc");
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url,
                     "https://api.example.com/v1/responses/resp_123/input_items?limit=5&order=asc");
    cr_assert_not_null(out.method);
    cr_assert_str_eq(out.method, "GET");
    cr_assert_neq((const void *)out.method, (const void *)method);
    cr_assert_null(out.body);
    cr_assert_eq(out.body_len, 0);
    cr_assert_null(out.body_owned);
    cr_assert(has_header(&out, "Authorization: Bearer " KEY));
    cr_assert(!has_header(&out, "Content-Type"), "no body, no Content-Type");
    cr_assert_eq(out.n_headers, 1);
}

Test(responses, delete_of_a_stored_response_has_no_body)
{
    sy_openai_wire w2;
    sy_openai_wire_conf c = {.api_key = KEY, .organization = "org-1", .project = "proj_2"};
    cr_assert_eq(sy_openai_wire_init(&w2, fake_host(), "openai", &c, err, sizeof err), 0);
    sy_request r = item_req("DELETE", "/responses/resp_123");
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_build_request(&w2, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, "https://api.example.com/v1/responses/resp_123");
    cr_assert_str_eq(out.method, "DELETE");
    cr_assert_null(out.body);
    cr_assert_eq(out.body_len, 0);
    cr_assert_null(out.body_owned);
    cr_assert_eq(out.n_headers, 3, "key, organization, project; no Content-Type");
    cr_assert(!has_header(&out, "Content-Type"));
    cr_assert(has_header(&out, "OpenAI-Organization: org-1"));
    cr_assert(has_header(&out, "OpenAI-Project: proj_2"));
    sy_openai_wire_fini(&w2);
}

Test(responses, post_on_a_stored_response_forwards_its_body)
{
    sy_request r = item_req("POST", "/responses/resp_123/cancel");
    sy_http_request out;
    memset(&out, 0xAB, sizeof out);
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out.url, "https://api.example.com/v1/responses/resp_123/cancel");
    cr_assert_str_eq(out.method, "POST");
    cr_assert_eq(out.body_len, 0);
    cr_assert(!has_header(&out, "Content-Type"), "an empty POST has no Content-Type");

    r.body = "{}";
    r.body_len = 2;
    cr_assert_eq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(out.body, r.body, "zero copy");
    cr_assert_eq(out.body_len, 2);
    cr_assert_null(out.body_owned);
    cr_assert(has_header(&out, "Content-Type: application/json"));
}

Test(responses, item_requests_refuse_bad_methods_and_paths)
{
    static const struct {
        const char *method, *path, *why;
    } bad[] = {
        {"PUT", "/responses/resp_1", "method"},
        {"get", "/responses/resp_1", "method"},
        {NULL, "/responses/resp_1", "method"},
        {"GET", NULL, "path"},
        {"GET", "/chat/completions", "path"},
        {"GET", "/responses/", "path"},
        {"GET", "/responses", "path"},
        {"GET", "/responses/resp_1 HTTP/1.1", "path"},
        {"GET", "/responses/resp_1\r\nX-Evil: 1", "path"},
        {"GET", "/responses/../models", "path"},
        {"GET", "/responses/r\x80", "path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sy_request r = item_req(bad[i].method, bad[i].path);
        sy_http_request out;
        err[0] = '\0';
        cr_assert_neq(sy_openai_wire_build_request(&w, &ep, &r, &out, err, sizeof err), 0,
                      "accepted %s %s", bad[i].method ? bad[i].method : "(null)",
                      bad[i].path ? bad[i].path : "(null)");
        assert_has(err, bad[i].why);
    }
}

Test(responses, item_url_must_fit)
{
    /* base_url + path: exactly SY_URL_MAX - 1 bytes fit, one more does not. */
    static char base[SY_URL_MAX];
    static char path[SY_URL_MAX];
    const char *prefix = "/responses/resp_";
    size_t pl = 600;
    memcpy(path, prefix, strlen(prefix));
    memset(path + strlen(prefix), 'a', pl - strlen(prefix));
    path[pl] = '\0';
    size_t bl = SY_URL_MAX - 1 - pl;
    memcpy(base, "https://", 8);
    memset(base + 8, 'b', bl - 8);
    base[bl] = '\0';
    sy_endpoint e = {.name = "e1", .base_url = base};
    sy_request r = item_req("GET", path);
    sy_http_request out;
    cr_assert_eq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(strlen(out.url), SY_URL_MAX - 1);
    path[pl] = 'a';
    path[pl + 1] = '\0';
    cr_assert_neq(sy_openai_wire_build_request(&w, &e, &r, &out, err, sizeof err), 0);
    assert_has(err, "too long");
}

/* ------------------------------------------------------------- answers */

/* parse_response through the host's scanner and through a host without it
 * (ABI 1.0 table): both must agree. The id, when set, must point into body. */
static sy_result parse_op(int status, const char *body, sy_op op, int stream)
{
    sy_request r = op == SY_OP_RESPONSE_ITEM ? item_req("GET", "/responses/resp_1")
                                             : create_req("{}", "m", "m");
    r.op = op;
    r.stream = stream;
    sy_http_response resp = {.status = status, .body = body, .body_len = body ? strlen(body) : 0};
    sy_result res;
    memset(&res, 0x5A, sizeof res);
    cr_assert_eq(sy_openai_wire_parse_response(&w, &r, &resp, &res), 0);
    cr_assert_null(res.body);
    cr_assert_lt(strlen(res.error), sizeof res.error);
    if (res.response_id) {
        cr_assert_geq(res.response_id, body);
        cr_assert_leq(res.response_id + res.response_id_len, body + strlen(body));
    } else {
        cr_assert_eq(res.response_id_len, 0);
    }

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
    cr_assert_eq(res10.reasoning_tokens, res.reasoning_tokens);
    cr_assert_eq(res10.response_id, res.response_id);
    cr_assert_eq(res10.response_id_len, res.response_id_len);
    cr_assert_str_eq(res10.error, res.error);
    return res;
}

static sy_result parse(int status, const char *body) { return parse_op(status, body, SY_OP_RESPONSES, 0); }

#define assert_id(res, want)                                                                   \
    do {                                                                                       \
        cr_assert_not_null((res).response_id, "no response id");                             \
        cr_assert_eq((res).response_id_len, strlen(want));                                     \
        cr_assert(!memcmp((res).response_id, (want), strlen(want)), "id %.*s",                 \
                  (int)(res).response_id_len, (res).response_id);                              \
    } while (0)

static const char full_answer[] =
    "{\"id\":\"resp_67ccd2bed1ec8190\",\"object\":\"response\",\"created_at\":1700000000,"
    "\"status\":\"completed\",\"model\":\"gpt-4.1\",\"output\":[{\"type\":\"message\","
    "\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
    "\"output_text\",\"text\":\"Hello there\",\"annotations\":[]}]}],"
    "\"usage\":{\"input_tokens\":36,\"input_tokens_details\":{\"cached_tokens\":0},"
    "\"output_tokens\":87,\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":123},"
    "\"previous_response_id\":null,\"store\":true,\"error\":null,\"incomplete_details\":null,"
    "\"instructions\":null,\"metadata\":{},\"parallel_tool_calls\":true,\"temperature\":1.0,"
    "\"top_p\":1.0,\"tool_choice\":\"auto\",\"tools\":[],\"text\":{\"format\":{\"type\":\"text\"}},"
    "\"truncation\":\"disabled\",\"max_output_tokens\":null,\"reasoning\":{\"effort\":null,"
    "\"summary\":null},\"user\":null,\"service_tier\":\"default\"}";

Test(responses, answer_gives_usage_reasoning_and_id)
{
    sy_result r = parse(200, full_answer);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_str_eq(r.error, "");
    cr_assert_eq(r.usage.input_tokens, 36);
    cr_assert_eq(r.usage.output_tokens, 87);
    cr_assert_eq(r.reasoning_tokens, 64);
    assert_id(r, "resp_67ccd2bed1ec8190");
}

Test(responses, store_false_gives_no_id)
{
    sy_result r = parse(200, "{\"id\":\"resp_1\",\"object\":\"response\",\"store\":false,"
                             "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}");
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_null(r.response_id);
    cr_assert_eq(r.usage.input_tokens, 3, "usage still counts");
    cr_assert_eq(r.usage.output_tokens, 4);
    cr_assert_eq(r.reasoning_tokens, -1, "no output_tokens_details: unknown");

    /* store absent or true: stored. */
    r = parse(200, "{\"object\":\"response\",\"id\":\"resp_2\"}");
    assert_id(r, "resp_2");
    cr_assert_eq(r.usage.input_tokens, -1);
    r = parse(200, "{\"store\" : true , \"id\" : \"resp_3\", \"object\":\"response\"}");
    assert_id(r, "resp_3");
}

Test(responses, ids_that_cannot_route_are_not_given)
{
    static const char *const bodies[] = {
        "{\"id\":\"resp_\\u0031\",\"object\":\"response\"}", /* escaped */
        "{\"id\":\"resp/1\",\"object\":\"response\"}",
        "{\"id\":\"resp 1\",\"object\":\"response\"}",
        "{\"id\":\"resp?1\",\"object\":\"response\"}",
        "{\"id\":\"\",\"object\":\"response\"}",
        "{\"id\":17,\"object\":\"response\"}",
        "{\"id\":null,\"object\":\"response\"}",
        "{\"object\":\"response\",\"output\":[{\"id\":\"msg_1\"}]}", /* only nested ids */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        sy_result r = parse(200, bodies[i]);
        cr_assert_eq(r.verdict, SY_VERDICT_OK, "%s", bodies[i]);
        cr_assert_null(r.response_id, "%s", bodies[i]);
    }
    char longid[400];
    int n = snprintf(longid, sizeof longid, "{\"id\":\"resp_");
    memset(longid + n, 'a', 300);
    strcpy(longid + n + 300, "\"}");
    cr_assert_null(parse(200, longid).response_id);
}

Test(responses, failed_response_object_is_an_answer_not_an_envelope)
{
    sy_result r = parse(200, "{\"id\":\"resp_9\",\"object\":\"response\",\"status\":\"failed\","
                             "\"error\":{\"code\":\"server_error\",\"message\":\"x\"},"
                             "\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}");
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_eq(r.usage.input_tokens, 5);
    assert_id(r, "resp_9");

    /* A bare envelope in a 200 is a relay's failure: retried, summarised. */
    r = parse(200, "{\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\"}}");
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    assert_has(r.error, "upstream overloaded");
    cr_assert_null(r.response_id);

    r = parse(200, "<html>oops</html>");
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    assert_has(r.error, "not a JSON object");
    r = parse(200, NULL);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
}

Test(responses, stream_answer_reads_nothing)
{
    sy_result r = parse_op(200, "event: response.created\ndata: {}\n\n", SY_OP_RESPONSES, 1);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_null(r.response_id);
    cr_assert_eq(r.reasoning_tokens, -1);
}

Test(responses, errors_of_create_follow_the_table)
{
    sy_result r = parse(400, "{\"error\":{\"message\":\"Previous response with id 'resp_x' not "
                             "found.\",\"type\":\"invalid_request_error\",\"param\":"
                             "\"previous_response_id\",\"code\":\"previous_response_not_found\"}}");
    cr_assert_eq(r.verdict, SY_VERDICT_FATAL);
    cr_assert_str_eq(r.error, "HTTP 400 (previous_response_not_found): Previous response with "
                              "id 'resp_x' not found.");
    r = parse(404, "{\"error\":{\"message\":\"The model `x` does not exist\"}}");
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT, "a create's 404 is this route's: next route");
    r = parse(429, "{\"error\":{\"message\":\"slow down\"}}");
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
    r = parse(401, "{\"error\":{\"message\":\"bad key " KEY "\"}}");
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);
    cr_assert_null(strstr(r.error, KEY));
    cr_assert_eq(r.usage.input_tokens, -1);
    cr_assert_null(r.response_id);
}

Test(responses, item_answers_have_no_usage_and_no_id)
{
    /* GET of a stored response: the whole response again, usage included,
     * but reading it back costs nothing and maps nothing new. */
    sy_result r = parse_op(200, full_answer, SY_OP_RESPONSE_ITEM, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_eq(r.usage.input_tokens, -1);
    cr_assert_eq(r.usage.output_tokens, -1);
    cr_assert_eq(r.reasoning_tokens, -1);
    cr_assert_null(r.response_id);

    r = parse_op(200, "{\"id\":\"resp_1\",\"object\":\"response\",\"deleted\":true}",
                 SY_OP_RESPONSE_ITEM, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_null(r.response_id);
    r = parse_op(200, "{\"object\":\"list\",\"data\":[],\"first_id\":null,\"last_id\":null,"
                      "\"has_more\":false}",
                 SY_OP_RESPONSE_ITEM, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    r = parse_op(200, "not json", SY_OP_RESPONSE_ITEM, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_RETRY);
}

/* "No such response" is the resource's own answer, for the client; on chat
 * (and on a create) a 404 means this route lacks the model: next route. */
Test(responses, item_404_is_fatal_while_chat_404_stays_next)
{
    static const char nf[] = "{\"error\":{\"message\":\"Response with id 'resp_x' not found.\","
                             "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}";
    sy_result r = parse_op(404, nf, SY_OP_RESPONSE_ITEM, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_FATAL);
    cr_assert_str_eq(r.error,
                     "HTTP 404 (invalid_request_error): Response with id 'resp_x' not found.");
    cr_assert_eq(r.usage.input_tokens, -1);

    r = parse_op(404, nf, SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);
    r = parse_op(404, nf, SY_OP_RESPONSES, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_NEXT);

    /* The rest of the table holds for items too. */
    static const struct {
        int status;
        sy_verdict v;
    } t[] = {{400, SY_VERDICT_FATAL}, {401, SY_VERDICT_NEXT}, {403, SY_VERDICT_NEXT},
             {301, SY_VERDICT_NEXT},  {409, SY_VERDICT_RETRY}, {429, SY_VERDICT_RETRY},
             {500, SY_VERDICT_RETRY}, {503, SY_VERDICT_RETRY}, {0, SY_VERDICT_RETRY}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        cr_assert_eq(parse_op(t[i].status, nf, SY_OP_RESPONSE_ITEM, 0).verdict, t[i].v,
                     "status %d", t[i].status);
}

Test(responses, chat_answers_report_reasoning_too)
{
    sy_result r = parse_op(200, "{\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{"
                                "\"prompt_tokens\":10,\"completion_tokens\":30,"
                                "\"completion_tokens_details\":{\"reasoning_tokens\":20}}}",
                           SY_OP_CHAT, 0);
    cr_assert_eq(r.verdict, SY_VERDICT_OK);
    cr_assert_eq(r.usage.output_tokens, 30);
    cr_assert_eq(r.reasoning_tokens, 20);
    cr_assert_null(r.response_id, "chat answers are not stored responses");
}

/* -------------------------------------------------------------- streams */

/* A host whose scanner counts its calls, to check what the hot path costs. */
static long scans;
static const sy_host_api *real;
static int counting_scan(const char *p, size_t n, sy_json_field *f, size_t nf, const char **why)
{
    scans++;
    return real->json_scan_object(p, n, f, nf, why);
}

static sy_stream_result event_with(const sy_openai_wire *wire, sy_op op, const char *data,
                                   size_t len)
{
    sy_request r = op == SY_OP_RESPONSES ? create_req("{\"model\":\"m\",\"stream\":true}", "m", "m")
                   : op == SY_OP_RESPONSE_ITEM ? item_req("GET", "/responses/resp_abc?stream=true")
                                               : (sy_request){.op = op, .model = "m",
                                                              .client_model = "m", .body = "{}",
                                                              .body_len = 2};
    r.stream = 1;
    sy_stream_result res;
    memset(&res, 0x5A, sizeof res);
    cr_assert_eq(sy_openai_wire_stream_event(wire, &r, data, len, &res), 0);
    cr_assert_null(res.data);
    if (op != SY_OP_CHAT) cr_assert_eq(res.drop, 0, "a Responses stream drops nothing");
    cr_assert(res.done == 0 || res.done == 1);
    cr_assert(res.error == 0 || res.error == 1);
    if (res.response_id) {
        cr_assert_geq(res.response_id, data);
        cr_assert_leq(res.response_id + res.response_id_len, data + len);
    } else {
        cr_assert_eq(res.response_id_len, 0);
    }
    return res;
}

/* An event through the scanner and through an ABI 1.0 host: they agree. */
static sy_stream_result event_op(sy_op op, const char *data)
{
    sy_stream_result a = event_with(&w, op, data, strlen(data));
    sy_openai_wire w10;
    sy_openai_wire_conf c = {.api_key = KEY};
    cr_assert_eq(sy_openai_wire_init(&w10, fake_host_v10(), "openai", &c, err, sizeof err), 0);
    sy_stream_result b = event_with(&w10, op, data, strlen(data));
    sy_openai_wire_fini(&w10);
    cr_assert_eq(a.done, b.done, "%s", data);
    cr_assert_eq(a.error, b.error, "%s", data);
    cr_assert_eq(a.usage.input_tokens, b.usage.input_tokens, "%s", data);
    cr_assert_eq(a.usage.output_tokens, b.usage.output_tokens, "%s", data);
    cr_assert_eq(a.reasoning_tokens, b.reasoning_tokens, "%s", data);
    cr_assert_eq(a.response_id, b.response_id, "%s", data);
    return a;
}

static sy_stream_result event(const char *data) { return event_op(SY_OP_RESPONSES, data); }

static void assert_nothing(sy_stream_result s, const char *what)
{
    cr_assert_eq(s.done, 0, "%s", what);
    cr_assert_eq(s.error, 0, "%s", what);
    cr_assert_eq(s.usage.input_tokens, -1, "%s", what);
    cr_assert_eq(s.usage.output_tokens, -1, "%s", what);
    cr_assert_eq(s.reasoning_tokens, -1, "%s", what);
    cr_assert_null(s.response_id, "%s", what);
}

static const char created[] =
    "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_abc\","
    "\"object\":\"response\",\"created_at\":1700000000,\"status\":\"in_progress\","
    "\"model\":\"gpt-4.1\",\"output\":[],\"usage\":null,\"store\":true}}";
static const char delta[] =
    "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\"Hello\",\"logprobs\":[]}";
static const char completed[] =
    "{\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_abc\","
    "\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\","
    "\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\"}]}],\"usage\":{\"input_tokens\":11,"
    "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":22,"
    "\"output_tokens_details\":{\"reasoning_tokens\":7},\"total_tokens\":33},\"store\":true}}";

Test(responses, created_event_gives_the_id)
{
    sy_stream_result s = event(created);
    cr_assert_eq(s.done, 0);
    cr_assert_eq(s.error, 0);
    assert_id(s, "resp_abc");
    cr_assert_eq(s.usage.input_tokens, -1);

    s = event("{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{"
              "\"id\":\"resp_abc\",\"store\":false,\"usage\":null}}");
    cr_assert_null(s.response_id, "store: false is not mapped");
    cr_assert_eq(s.done, 0);

    /* response.in_progress repeats the response: nothing new. */
    assert_nothing(event("{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":"
                         "{\"id\":\"resp_abc\",\"usage\":null}}"),
                   "in_progress");
}

Test(responses, terminal_events_end_with_usage_and_reasoning)
{
    sy_stream_result s = event(completed);
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.error, 0);
    cr_assert_eq(s.usage.input_tokens, 11);
    cr_assert_eq(s.usage.output_tokens, 22);
    cr_assert_eq(s.reasoning_tokens, 7);

    s = event("{\"type\":\"response.incomplete\",\"sequence_number\":5,\"response\":{\"id\":"
              "\"resp_abc\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
              "\"max_output_tokens\"},\"usage\":{\"input_tokens\":4,\"output_tokens\":16}}}");
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.error, 0);
    cr_assert_eq(s.usage.input_tokens, 4);
    cr_assert_eq(s.usage.output_tokens, 16);
    cr_assert_eq(s.reasoning_tokens, -1);

    s = event("{\"type\":\"response.failed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_abc\","
              "\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"x\"},"
              "\"usage\":null}}");
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.error, 1, "a failed response is complete, and a failure");
    cr_assert_eq(s.usage.input_tokens, -1);

    /* Not the first key, odd spacing, an escaped type: still found. */
    s = event(" {\"sequence_number\":9, \"response\":{\"usage\":{\"input_tokens\":1,"
              "\"output_tokens\":2}}, \"type\" : \"response.completed\"}\n");
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.usage.output_tokens, 2);
    s = event("{ \"type\" :\n \"response.complet\\u0065d\",\"response\":{}}");
    cr_assert_eq(s.done, 1);

    /* A relay that adds a chat-style end. */
    cr_assert_eq(event("[DONE]").done, 1);
}

Test(responses, error_event_ends_the_stream_as_an_error)
{
    sy_stream_result s = event("{\"type\":\"error\",\"code\":\"server_error\",\"message\":"
                               "\"The server had an error\",\"param\":null,\"sequence_number\":7}");
    cr_assert_eq(s.error, 1);
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.usage.input_tokens, -1);
    cr_assert_null(s.response_id);

    /* A relay's chat-style error object in a Responses stream. */
    s = event("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}");
    cr_assert_eq(s.error, 1);
    cr_assert_eq(s.done, 1);
}

Test(responses, delta_events_set_nothing_and_are_not_scanned)
{
    assert_nothing(event(delta), "delta");
    /* Text that spells a terminal event is only text. */
    assert_nothing(event("{\"type\":\"response.output_text.delta\",\"delta\":"
                         "\"{\\\"type\\\":\\\"response.completed\\\",\\\"usage\\\":{}}\"}"),
                   "delta that quotes an event");
    assert_nothing(event("{\"type\":\"response.output_text.done\",\"text\":\"error\"}"),
                   "text done");
    assert_nothing(event("{\"type\":\"response.output_item.done\",\"item\":{\"type\":\"message\","
                         "\"status\":\"completed\"}}"),
                   "item done");

    /* The hot path: a delta does not run the JSON scanner at all; the
     * events that matter run it a bounded number of times. */
    sy_host_api counting = *fake_host();
    real = fake_host();
    counting.json_scan_object = counting_scan;
    sy_openai_wire wc;
    sy_openai_wire_conf c = {.api_key = KEY};
    cr_assert_eq(sy_openai_wire_init(&wc, &counting, "openai", &c, err, sizeof err), 0);
    scans = 0;
    for (int i = 0; i < 100; i++) assert_nothing(event_with(&wc, SY_OP_RESPONSES, delta, strlen(delta)), "delta");
    cr_assert_eq(scans, 0, "a delta event was scanned %ld times", scans);
    sy_stream_result s = event_with(&wc, SY_OP_RESPONSES, completed, strlen(completed));
    cr_assert_eq(s.done, 1);
    /* the event, its response, that response's usage and the usage's details */
    cr_assert_leq(scans, 4);
    sy_openai_wire_fini(&wc);
}

/* A stored response streamed again (GET /responses/{id}?stream=true): it
 * ends as a create's stream does, but costs nothing and maps no id. */
Test(responses, item_streams_end_but_count_nothing)
{
    assert_nothing(event_op(SY_OP_RESPONSE_ITEM, created), "created, read back");
    assert_nothing(event_op(SY_OP_RESPONSE_ITEM, delta), "delta, read back");
    sy_stream_result s = event_op(SY_OP_RESPONSE_ITEM, completed);
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.error, 0);
    cr_assert_eq(s.usage.input_tokens, -1);
    cr_assert_eq(s.usage.output_tokens, -1);
    cr_assert_eq(s.reasoning_tokens, -1);
    cr_assert_null(s.response_id);
    s = event_op(SY_OP_RESPONSE_ITEM, "{\"type\":\"error\",\"code\":\"x\",\"message\":\"y\"}");
    cr_assert_eq(s.error, 1);
    cr_assert_eq(s.done, 1);
}

Test(responses, chat_streams_are_unchanged)
{
    /* On a chat stream, Responses events mean nothing and [DONE] ends. */
    assert_nothing(event_op(SY_OP_CHAT, completed), "responses event on chat");
    cr_assert_eq(event_op(SY_OP_CHAT, "[DONE]").done, 1);
    sy_stream_result s =
        event_op(SY_OP_CHAT, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":"
                             "4,\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
    cr_assert_eq(s.usage.input_tokens, 9);
    cr_assert_eq(s.usage.output_tokens, 4);
    cr_assert_eq(s.reasoning_tokens, 3);
    cr_assert_eq(s.done, 0);
    s = event_op(SY_OP_CHAT, "{\"error\":{\"message\":\"overloaded\"}}");
    cr_assert_eq(s.error, 1);
    cr_assert_eq(s.done, 0, "a chat stream ends with its [DONE]");
}

/* Malformed payloads: an event that matters must be whole to count, and
 * nothing, however broken, may crash or read past len. */
Test(responses, garbage_never_crashes)
{
    static const char *const junk[] = {
        "", " ", "{", "}", "[DONE", "null", "[]", "\"type\"", "{\"type\"", "{\"type\":",
        "{\"type\":\"", "{\"type\":\"error\"", "{\"type\":\"error\",", "{\"type\":error}",
        "{\"type\":\"response.completed\"", "{\"type\":\"response.completed\",\"response\":{",
        "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}",
        "{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":}}}",
        "{\"type\":\"response.completed\"}}", "{\"type\":17}", "{\"type\":null,\"error\":null}",
        "{\"type\":\"\\u00\"}", "{\"type\":\"\\", "\x01\x02\xff\xfe", "data: {}",
    };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        /* Each is not JSON, or has no type that matters: nothing counts. */
        sy_stream_result s = event(junk[i]);
        cr_assert_eq(s.done, 0, "%s", junk[i]);
        cr_assert_eq(s.error, 0, "%s", junk[i]);
        cr_assert_null(s.response_id, "%s", junk[i]);
    }
    /* A whole but empty terminal event still ends the stream. */
    cr_assert_eq(event("{\"type\":\"response.completed\"}").done, 1);
    cr_assert_eq(event("{\"type\":\"response.completed\",\"response\":[1]}").done, 1);
    cr_assert_eq(event("{\"type\":\"response.completed\",\"response\":{\"usage\":7}}").usage
                     .input_tokens, -1);
    cr_assert_eq(event_with(&w, SY_OP_RESPONSES, NULL, 0).done, 0);

    /* Every prefix of real events, in a buffer with no NUL after it (the
     * host's buffer need not end there), and every single-byte corruption. */
    const char *events[] = {created, delta, completed};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(events[k]);
        for (size_t cut = 0; cut <= n; cut++) {
            char *p = malloc(cut ? cut : 1);
            memcpy(p, events[k], cut);
            sy_stream_result s = event_with(&w, SY_OP_RESPONSES, p, cut);
            if (cut < n) {
                cr_assert_eq(s.done, 0, "prefix %zu of %s", cut, events[k]);
                cr_assert_null(s.response_id);
            }
            free(p);
        }
        static const char flips[] = {'"', '\\', '{', '}', ',', ':', '\0', '\n', 'x', '\x80'};
        for (size_t at = 0; at < n; at++) {
            for (size_t f = 0; f < sizeof flips; f++) {
                char *p = malloc(n);
                memcpy(p, events[k], n);
                p[at] = flips[f];
                event_with(&w, SY_OP_RESPONSES, p, n);
                free(p);
            }
        }
    }
}

/* ---------------------------------------------- the shipped descriptors */

static sy_plugin_registry reg;

static void load_setup(void)
{
    char *dirs[] = {BUILD_PLUGIN_DIR};
    sy_plugin_registry_init_dirs(&reg, dirs, 1);
}

static void load_teardown(void)
{
    sy_plugin_registry_free(&reg);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(responses_plugins, .init = load_setup, .fini = load_teardown);

Test(responses_plugins, openai_and_holysheep_serve_the_responses_api)
{
    const char *names[] = {"openai", "holysheep"};
    for (size_t i = 0; i < 2; i++) {
        const sy_plugin *p = sy_plugin_load(&reg, names[i], err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        cr_assert_eq(p->abi_minor, SY_PLUGIN_ABI_MINOR);
        cr_assert_eq(p->ops, SY_OPS_CLASSIC | SY_OPS_RESPONSES, "%s: ops %#x", names[i], p->ops);
        cr_assert(p->ops & SY_OP_BIT(SY_OP_RESPONSE_ITEM));

        sy_config_value *cfg = fake_config(p->config_keys,
                                           (const char *const[]){"api_key", "sk-live-key", NULL});
        void *inst = NULL;
        cr_assert_eq(p->create(fake_host(), cfg, &inst, err, sizeof err), 0, "%s", err);
        free(cfg);
        sy_endpoint e = {.provider = names[i], .name = "x", .base_url = "http://127.0.0.1:9/v1"};
        sy_request r = item_req("DELETE", "/responses/resp_7");
        sy_http_request out;
        memset(&out, 0, sizeof out);
        cr_assert_eq(p->build_request(inst, &e, &r, &out, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(out.url, "http://127.0.0.1:9/v1/responses/resp_7");
        cr_assert_str_eq(out.method, "DELETE");
        cr_assert_null(out.body);

        sy_stream_result sr;
        memset(&sr, 0, sizeof sr);
        r = create_req("{\"model\":\"m\",\"stream\":true}", "m", "m");
        r.stream = 1;
        cr_assert_eq(p->stream_event(inst, &r, completed, strlen(completed), &sr), 0);
        cr_assert_eq(sr.done, 1);
        cr_assert_eq(sr.reasoning_tokens, 7);
        p->destroy(inst);
    }
}
