/*
 * test_mock.c - the mock provider (sy_mock.so as built) with a fake, seeded
 * host: OpenAI-shaped answers for each operation, streams, injected errors,
 * served models, latency, truncation, determinism, and that its own
 * parse_response/stream_event classify its replies.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "loader.h"

static sy_plugin_registry reg;
static const sy_plugin *mock;
static char err[512];

static void setup(void)
{
    char *dirs[] = {BUILD_PLUGIN_DIR};
    sy_plugin_registry_init_dirs(&reg, dirs, 1);
    mock = sy_plugin_load(&reg, "mock", err, sizeof err);
    cr_assert_not_null(mock, "%s", err);
    fake_host_seed(1);
}

static void teardown(void)
{
    sy_plugin_registry_free(&reg);
    cr_assert_eq(fake_host_live(), 0, "%ld allocations leaked", fake_host_live());
}

TestSuite(mock, .init = setup, .fini = teardown);

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

static void *create(const char *const *kv)
{
    sy_config_value *cfg = fake_config(mock->config_keys, kv);
    void *inst = NULL;
    int rc = mock->create(fake_host(), cfg, &inst, err, sizeof err);
    free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    return inst;
}

static int create_fails(const char *const *kv)
{
    sy_config_value *cfg = fake_config(mock->config_keys, kv);
    void *inst = NULL;
    int rc = mock->create(fake_host(), cfg, &inst, err, sizeof err);
    free(cfg);
    if (rc == 0) mock->destroy(inst);
    return rc != 0;
}

static sy_request req_of(sy_op op, const char *body, const char *model, int stream)
{
    return (sy_request){.op = op, .model = model, .client_model = model, .body = body,
                        .body_len = strlen(body), .stream = stream, .request_id = "req-1"};
}

/* A reply as an owned, NUL-terminated string (the host's free releases it). */
typedef struct reply {
    sy_local_reply r;
    char *text;
} reply;

static reply answer(void *inst, const sy_endpoint *ep, const sy_request *req)
{
    reply out;
    memset(&out.r, 0x5A, sizeof out.r);
    cr_assert_eq(mock->local_reply(inst, ep, req, &out.r), 0);
    cr_assert_not_null(out.r.body);
    out.text = strndup(out.r.body, out.r.body_len);
    cr_assert_eq(strlen(out.text), out.r.body_len, "NUL inside the body");
    fake_host()->free(out.r.body);
    return out;
}

static sy_verdict classify(void *inst, const sy_request *req, const reply *a)
{
    sy_http_response resp = {.status = a->r.status, .body = a->text, .body_len = strlen(a->text)};
    sy_result res;
    cr_assert_eq(mock->parse_response(inst, req, &resp, &res), 0);
    return res.verdict;
}

Test(mock, declares_its_keys)
{
    static const char *const provider[] = {"error_rate", "error_status", "latency",
                                           "latency_jitter", "reply", "stream_chunks",
                                           "chunk_delay", "truncate_rate", "models", NULL};
    int n = 0;
    for (; mock->config_keys[n].name; n++) cr_assert_str_eq(mock->config_keys[n].name, provider[n]);
    cr_assert_eq(n, 9);
    cr_assert_str_eq(mock->endpoint_keys[0].name, "error_rate");
    cr_assert_str_eq(mock->endpoint_keys[1].name, "latency");
    cr_assert_null(mock->endpoint_keys[2].name);
    cr_assert_not_null(mock->local_reply);
    cr_assert_null(mock->build_request);
    /* It answers locally, so it has no upstream to probe: the host does not
     * health-check its endpoints (they count as healthy). */
    cr_assert_geq(mock->abi_minor, 2);
    cr_assert_null(sy_plugin_health_request(mock));
}

Test(mock, chat_completion_is_openai_shaped)
{
    void *inst = create(NULL);
    const char *body =
        "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    sy_request req = req_of(SY_OP_CHAT, body, "gpt-4o", 0);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_eq(a.r.delay_ms, 20);
    cr_assert_eq(a.r.truncate_stream, 0);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert_not_null(j, "%s", a.text);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-4o");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "chatcmpl-mock-req-1");
    cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                     "message");
    cr_assert_str_eq(cJSON_GetObjectItem(msg, "content")->valuestring,
                     "Hello from the switchyard mock provider.");
    cJSON *u = cJSON_GetObjectItem(j, "usage");
    cr_assert_eq(cJSON_GetObjectItem(u, "prompt_tokens")->valueint, (int)strlen(body) / 4);
    cr_assert_eq(cJSON_GetObjectItem(u, "completion_tokens")->valueint, 6);
    cr_assert_eq(a.r.usage.input_tokens, (int64_t)strlen(body) / 4);
    cr_assert_eq(a.r.usage.output_tokens, 6);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_OK);
    cJSON_Delete(j);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, text_completion)
{
    void *inst = create((const char *const[]){"reply", "four little words", NULL});
    sy_request req = req_of(SY_OP_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\"}", "m", 0);
    reply a = answer(inst, NULL, &req);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "text_completion");
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(c0, "text")->valuestring, "four little words");
    cr_assert_eq(a.r.usage.output_tokens, 3);
    cJSON_Delete(j);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, embeddings_float_and_base64)
{
    void *inst = create(NULL);
    sy_request req = req_of(SY_OP_EMBEDDINGS,
                            "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b\",\"a\"]}",
                            "text-embedding-3-small", 0);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert_not_null(j, "%s", a.text);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "list");
    cJSON *data = cJSON_GetObjectItem(j, "data");
    cr_assert_eq(cJSON_GetArraySize(data), 3);
    cJSON *e0 = cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "embedding");
    cJSON *e1 = cJSON_GetObjectItem(cJSON_GetArrayItem(data, 1), "embedding");
    cJSON *e2 = cJSON_GetObjectItem(cJSON_GetArrayItem(data, 2), "embedding");
    cr_assert_eq(cJSON_GetArraySize(e0), 8);
    char *s0 = cJSON_PrintUnformatted(e0), *s1 = cJSON_PrintUnformatted(e1),
         *s2 = cJSON_PrintUnformatted(e2);
    cr_assert_str_eq(s0, s2, "same input, same vector");
    cr_assert_str_neq(s0, s1);
    cr_assert_eq(a.r.usage.output_tokens, 0);
    cJSON_free(s0);
    cJSON_free(s1);
    cJSON_free(s2);
    cJSON_Delete(j);
    free(a.text);

    req = req_of(SY_OP_EMBEDDINGS,
                 "{\"model\":\"e\",\"input\":\"a\",\"encoding_format\":\"base64\"}", "e", 0);
    a = answer(inst, NULL, &req);
    j = cJSON_Parse(a.text);
    cJSON *emb = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0),
                                     "embedding");
    cr_assert(cJSON_IsString(emb));
    cr_assert_eq(strlen(emb->valuestring), 44, "8 float32 = 32 bytes = 44 base64 chars");
    cJSON_Delete(j);
    free(a.text);

    req = req_of(SY_OP_EMBEDDINGS, "{\"model\":\"e\",\"input\":[]}", "e", 0);
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 400);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_FATAL);
    free(a.text);
    mock->destroy(inst);
}

/* Split an SSE body into its data payloads. */
static int sse_events(char *text, char **events, int max)
{
    int n = 0;
    for (char *p = text; *p && n < max;) {
        cr_assert(!strncmp(p, "data: ", 6), "not an SSE event at: %.40s", p);
        char *end = strstr(p, "\n\n");
        cr_assert_not_null(end, "event without a blank line");
        *end = '\0';
        events[n++] = p + 6;
        p = end + 2;
    }
    return n;
}

Test(mock, chat_stream)
{
    void *inst = create((const char *const[]){"stream_chunks", "3", NULL});
    const char *body =
        "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    sy_request req = req_of(SY_OP_CHAT, body, "m", 1);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_eq(a.r.truncate_stream, 0);
    char *ev[32];
    int n = sse_events(a.text, ev, 32);
    /* role, 3 content chunks, finish, usage, [DONE] */
    cr_assert_eq(n, 7, "%d events", n);
    /* The first event after latency, the other six 10ms apart. */
    cr_assert_eq(a.r.ttfb_ms, 20);
    cr_assert_eq(a.r.delay_ms, 20 + 6 * 10);
    cr_assert_str_eq(ev[n - 1], "[DONE]");
    char content[256] = "";
    for (int i = 0; i < n - 1; i++) {
        cJSON *j = cJSON_Parse(ev[i]);
        cr_assert_not_null(j, "event %d: %s", i, ev[i]);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion.chunk");
        cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "m");
        cJSON *delta = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                           "delta");
        cJSON *c = cJSON_GetObjectItem(delta, "content");
        if (cJSON_IsString(c)) strcat(content, c->valuestring);
        sy_stream_result sr;
        cr_assert_eq(mock->stream_event(inst, &req, ev[i], strlen(ev[i]), &sr), 0);
        cr_assert_eq(sr.error, 0);
        if (i == n - 2) {
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")), 0);
            cr_assert_eq(sr.usage.output_tokens, 6);
        }
        cJSON_Delete(j);
    }
    cr_assert_str_eq(content, "Hello from the switchyard mock provider.");
    sy_stream_result sr;
    mock->stream_event(inst, &req, ev[n - 1], strlen(ev[n - 1]), &sr);
    cr_assert_eq(sr.done, 1);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, stream_without_include_usage_has_no_usage_chunk)
{
    void *inst = create(NULL);
    sy_request req = req_of(SY_OP_COMPLETIONS, "{\"model\":\"m\",\"stream\":true}", "m", 1);
    reply a = answer(inst, NULL, &req);
    char *ev[32];
    int n = sse_events(a.text, ev, 32);
    cr_assert_eq(n, 5 + 2, "5 pieces, finish, [DONE]: %d", n);
    for (int i = 0; i < n; i++) cr_assert_null(strstr(ev[i], "\"usage\""));
    cr_assert_eq(a.r.usage.output_tokens, 6, "usage still reaches the host");
    assert_has(ev[0], "\"object\":\"text_completion\"");
    free(a.text);
    mock->destroy(inst);
}

Test(mock, truncated_stream_has_no_done)
{
    void *inst = create((const char *const[]){"truncate_rate", "1", "stream_chunks", "4", NULL});
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"m\",\"stream\":true}", "m", 1);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_eq(a.r.truncate_stream, 1);
    cr_assert_null(strstr(a.text, "[DONE]"));
    cr_assert_null(strstr(a.text, "\"finish_reason\":\"stop\""));
    char *ev[32];
    cr_assert_eq(sse_events(a.text, ev, 32), 1 + 2, "role and half the pieces");
    free(a.text);
    /* Non-stream answers are never cut. */
    req = req_of(SY_OP_CHAT, "{\"model\":\"m\"}", "m", 0);
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.truncate_stream, 0);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, injected_errors_are_retryable)
{
    void *inst = create((const char *const[]){"error_rate", "1", NULL});
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"m\",\"stream\":true}", "m", 1);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 503);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(j, "error")), "%s", a.text);
    cr_assert_eq(a.r.usage.input_tokens, -1);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_RETRY);
    cJSON_Delete(j);
    free(a.text);
    mock->destroy(inst);

    inst = create((const char *const[]){"error_rate", "1", "error_status", "400", NULL});
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 400);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_FATAL);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, unknown_models_get_404_and_next)
{
    void *inst = create((const char *const[]){"models", " gpt-4o , gpt-4o-mini,,", NULL});
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"gpt-4.1\"}", "gpt-4.1", 0);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 404);
    assert_has(a.text, "model_not_found");
    assert_has(a.text, "gpt-4.1");
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_NEXT);
    free(a.text);
    req = req_of(SY_OP_CHAT, "{\"model\":\"gpt-4.1\"}", "gpt-4o-mini", 0);
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, malformed_body_is_400)
{
    void *inst = create(NULL);
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":", "m", 0);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 400);
    assert_has(a.text, "invalid_request_error");
    free(a.text);
    mock->destroy(inst);
}

Test(mock, endpoint_overrides)
{
    void *inst = create((const char *const[]){"latency", "100ms", NULL});
    sy_config_value *ec = fake_config(mock->endpoint_keys,
                                      (const char *const[]){"error_rate", "1", "latency", "5ms",
                                                            NULL});
    sy_endpoint ep = {.provider = "p", .name = "bad", .base_url = "mock://bad", .config = ec};
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"m\"}", "m", 0);
    reply a = answer(inst, &ep, &req);
    cr_assert_eq(a.r.status, 503);
    cr_assert_eq(a.r.delay_ms, 5);
    free(a.text);
    sy_endpoint plain = {.provider = "p", .name = "ok", .base_url = "mock://ok"};
    a = answer(inst, &plain, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_eq(a.r.delay_ms, 100);
    free(a.text);

    char url[SY_URL_MAX] = "";
    cr_assert_eq(mock->resolve_endpoint(inst, "ok", ec, url, sizeof url, err, sizeof err), 0);
    cr_assert_str_eq(url, "mock://ok");
    free(ec);
    ec = fake_config(mock->endpoint_keys, (const char *const[]){"error_rate", "1.5", NULL});
    cr_assert_neq(mock->resolve_endpoint(inst, "x", ec, url, sizeof url, err, sizeof err), 0);
    assert_has(err, "error_rate");
    free(ec);
    mock->destroy(inst);
}

Test(mock, refuses_bad_config)
{
    cr_assert(create_fails((const char *const[]){"error_rate", "2", NULL}));
    cr_assert(create_fails((const char *const[]){"error_rate", "-0.1", NULL}));
    cr_assert(create_fails((const char *const[]){"truncate_rate", "1.01", NULL}));
    cr_assert(create_fails((const char *const[]){"error_status", "200", NULL}));
    cr_assert(create_fails((const char *const[]){"stream_chunks", "0", NULL}));
    cr_assert(create_fails((const char *const[]){"stream_chunks", "100000", NULL}));
    cr_assert(create_fails((const char *const[]){"chunk_delay", "11s", NULL}));
    assert_has(err, "chunk_delay");
    cr_assert(create_fails((const char *const[]){"latency", "11m", NULL}));
    assert_has(err, "latency");
}

/* Outcomes of n requests as a string: '.' ok, 'E' error; plus delays. */
static void run(const char *const *kv, uint64_t seed, int n, char *outcomes, int64_t *delays)
{
    fake_host_seed(seed);
    void *inst = create(kv);
    sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"m\"}", "m", 0);
    for (int i = 0; i < n; i++) {
        reply a = answer(inst, NULL, &req);
        outcomes[i] = a.r.status == 200 ? '.' : 'E';
        delays[i] = a.r.delay_ms;
        free(a.text);
    }
    outcomes[n] = '\0';
    mock->destroy(inst);
}

Test(mock, deterministic_under_a_seed)
{
    const char *const kv[] = {"error_rate", "0.3", "latency", "10ms", "latency_jitter", "40ms",
                              NULL};
    char o1[201], o2[201], o3[201];
    int64_t d1[200], d2[200], d3[200];
    run(kv, 7, 200, o1, d1);
    run(kv, 7, 200, o2, d2);
    run(kv, 8, 200, o3, d3);
    cr_assert_str_eq(o1, o2);
    cr_assert_arr_eq(d1, d2, sizeof d1);
    cr_assert_str_neq(o1, o3, "a different seed, a different run");

    int errors = 0, lo = 1000, hi = -1;
    for (int i = 0; i < 200; i++) {
        errors += o1[i] == 'E';
        cr_assert(d1[i] >= 10 && d1[i] <= 50, "delay %lld", (long long)d1[i]);
        if (d1[i] < lo) lo = (int)d1[i];
        if (d1[i] > hi) hi = (int)d1[i];
    }
    /* 30 % of 200, with a generous margin for chance. */
    cr_assert(errors > 35 && errors < 85, "%d errors", errors);
    cr_assert(lo < 20 && hi > 40, "jitter spans [%d, %d]", lo, hi);
}

Test(mock, stream_pieces_rebuild_any_reply)
{
    static const char *const replies[] = {
        "x", "two words", "héllo wörld, ünïcode € everywhere", "quotes \" and \\ and\nnewline",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z", "   leading and trailing   ",
        "€€€€€€€€€€"};
    for (size_t r = 0; r < sizeof replies / sizeof replies[0]; r++) {
        for (int chunks = 1; chunks <= 12; chunks++) {
            char chunks_s[8];
            snprintf(chunks_s, sizeof chunks_s, "%d", chunks);
            void *inst = create((const char *const[]){"reply", replies[r], "stream_chunks",
                                                      chunks_s, NULL});
            sy_request req = req_of(SY_OP_CHAT, "{\"model\":\"m\",\"stream\":true}", "m", 1);
            reply a = answer(inst, NULL, &req);
            char *ev[64];
            int n = sse_events(a.text, ev, 64);
            cr_assert_eq(n, chunks + 3, "%s / %d: %d events", replies[r], chunks, n);
            char content[512] = "";
            for (int i = 0; i < n - 1; i++) {
                cJSON *j = cJSON_Parse(ev[i]);
                cr_assert_not_null(j, "event %d not JSON: %s", i, ev[i]);
                cJSON *c = cJSON_GetObjectItem(
                    cJSON_GetObjectItem(
                        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "delta"),
                    "content");
                if (cJSON_IsString(c)) {
                    /* Never a piece that starts inside a UTF-8 sequence. */
                    cr_assert_neq((unsigned char)c->valuestring[0] & 0xC0, 0x80, "%s", ev[i]);
                    strcat(content, c->valuestring);
                }
                cJSON_Delete(j);
            }
            cr_assert_str_eq(content, replies[r], "%d chunks", chunks);
            free(a.text);
            mock->destroy(inst);
        }
    }
}

/* ------------------------------------------------------ the Responses API */

/* Split a Responses stream into its events: names (the "event:" lines) and
 * data payloads. */
static int typed_events(char *text, char **names, char **data, int max)
{
    int n = 0;
    for (char *p = text; *p && n < max;) {
        cr_assert(!strncmp(p, "event: ", 7), "not a typed event at: %.40s", p);
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        *nl = '\0';
        names[n] = p + 7;
        p = nl + 1;
        cr_assert(!strncmp(p, "data: ", 6), "no data line at: %.40s", p);
        char *end = strstr(p, "\n\n");
        cr_assert_not_null(end, "event without a blank line");
        *end = '\0';
        data[n++] = p + 6;
        p = end + 2;
    }
    return n;
}

static sy_request item_req(const char *method, const char *path)
{
    return (sy_request){.op = SY_OP_RESPONSE_ITEM, .body = "", .body_len = 0,
                        .request_id = "req-1", .method = method, .path = path};
}

static const char *output_text(cJSON *response)
{
    cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItem(response, "output"), 0);
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "content"), 0),
                               "text")->valuestring;
}

Test(mock, serves_the_responses_api)
{
    cr_assert_eq(mock->ops, SY_OPS_CLASSIC | SY_OPS_RESPONSES);
}

Test(mock, response_is_openai_shaped)
{
    void *inst = create(NULL);
    const char *body = "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"instructions\":\"Be brief.\","
                       "\"previous_response_id\":\"resp_prev\",\"reasoning\":{\"effort\":\"low\"}}";
    sy_request req = req_of(SY_OP_RESPONSES, body, "gpt-4.1", 0);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert_not_null(j, "%s", a.text);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "response");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "completed");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-4.1");
    const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
    cr_assert_eq(strlen(id), 5 + 48, "%s", id);
    cr_assert(!strncmp(id, "resp_", 5));
    cr_assert_str_eq(output_text(j), "Hello from the switchyard mock provider.");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "instructions")->valuestring, "Be brief.");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "previous_response_id")->valuestring, "resp_prev");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "store")));
    cJSON *u = cJSON_GetObjectItem(j, "usage");
    cr_assert_eq(cJSON_GetObjectItem(u, "input_tokens")->valueint, (int)strlen(body) / 4);
    /* Six words, and three more for the reasoning asked for. */
    cr_assert_eq(cJSON_GetObjectItem(u, "output_tokens")->valueint, 9);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(u, "output_tokens_details"),
                                     "reasoning_tokens")->valueint, 3);
    cr_assert_eq(a.r.usage.output_tokens, 9);
    sy_http_response resp = {.status = 200, .body = a.text, .body_len = strlen(a.text)};
    sy_result res;
    memset(&res, 0, sizeof res);
    res.reasoning_tokens = -1;
    cr_assert_eq(mock->parse_response(inst, &req, &resp, &res), 0);
    cr_assert_eq(res.verdict, SY_VERDICT_OK);
    cr_assert_eq(res.usage.output_tokens, 9);
    cr_assert_eq(res.reasoning_tokens, 3);
    cr_assert_eq(res.response_id_len, strlen(id));
    cr_assert(!strncmp(res.response_id, id, res.response_id_len));
    cJSON_Delete(j);
    free(a.text);

    req = req_of(SY_OP_RESPONSES, "{\"model\":\"m\",\"input\":\"x\",\"store\":false}", "m", 0);
    a = answer(inst, NULL, &req);
    j = cJSON_Parse(a.text);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "store")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "previous_response_id")));
    cJSON_Delete(j);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, response_stream_typed_events)
{
    static const char *const order[] = {
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"};
    void *inst = create((const char *const[]){"stream_chunks", "3", NULL});
    sy_request req = req_of(SY_OP_RESPONSES, "{\"model\":\"m\",\"input\":\"x\",\"stream\":true}",
                            "m", 1);
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_eq(a.r.truncate_stream, 0);
    char *names[32], *data[32];
    int n = typed_events(a.text, names, data, 32);
    cr_assert_eq(n, 11, "%d events", n);
    cr_assert_eq(a.r.delay_ms, 20 + 10 * 10, "paced like the chat stream");
    char text[256] = "", id[64] = "";
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(names[i], order[i]);
        cJSON *j = cJSON_Parse(data[i]);
        cr_assert_not_null(j, "event %d: %s", i, data[i]);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "type")->valuestring, names[i]);
        cr_assert_eq(cJSON_GetObjectItem(j, "sequence_number")->valueint, i);
        cJSON *d = cJSON_GetObjectItem(j, "delta");
        if (cJSON_IsString(d)) strcat(text, d->valuestring);
        cJSON *r = cJSON_GetObjectItem(j, "response");
        if (i == 0) snprintf(id, sizeof id, "%s", cJSON_GetObjectItem(r, "id")->valuestring);
        if (r) cr_assert_str_eq(cJSON_GetObjectItem(r, "id")->valuestring, id);
        sy_stream_result sr;
        memset(&sr, 0, sizeof sr);
        sr.usage.input_tokens = sr.usage.output_tokens = sr.reasoning_tokens = -1;
        cr_assert_eq(mock->stream_event(inst, &req, data[i], strlen(data[i]), &sr), 0);
        cr_assert_eq(sr.error, 0);
        cr_assert_eq(sr.done, i == n - 1, "event %d", i);
        if (i == 0) cr_assert_eq(sr.response_id_len, strlen(id));
        if (i == n - 1) {
            cr_assert_str_eq(output_text(r), "Hello from the switchyard mock provider.");
            cr_assert_eq(sr.usage.output_tokens, 6);
        }
        cJSON_Delete(j);
    }
    cr_assert_str_eq(text, "Hello from the switchyard mock provider.");
    free(a.text);
    mock->destroy(inst);

    /* A cut stream: half the deltas, no terminal event, the host told to cut. */
    inst = create((const char *const[]){"stream_chunks", "4", "truncate_rate", "1", NULL});
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.truncate_stream, 1);
    n = typed_events(a.text, names, data, 32);
    cr_assert_eq(n, 4 + 2, "%d events", n);
    cr_assert_str_eq(names[n - 1], "response.output_text.delta");
    cr_assert_null(strstr(a.text, "response.completed"));
    free(a.text);
    mock->destroy(inst);
}

Test(mock, response_items_are_stateless)
{
    void *inst = create(NULL);
    sy_request req = item_req("GET", "/responses/resp_abc123?include=x");
    reply a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200, "%s", a.text);
    cr_assert_eq(a.r.usage.input_tokens, -1, "reading a response costs no tokens");
    cr_assert_eq(a.r.usage.output_tokens, -1);
    cJSON *j = cJSON_Parse(a.text);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "resp_abc123");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "completed");
    cr_assert_str_eq(output_text(j), "Hello from the switchyard mock provider.");
    cJSON_Delete(j);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_OK);
    free(a.text);

    req = item_req("POST", "/responses/resp_abc123/cancel");
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    assert_has(a.text, "\"id\":\"resp_abc123\"");
    free(a.text);

    req = item_req("DELETE", "/responses/resp_abc123");
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_str_eq(a.text, "{\"id\":\"resp_abc123\",\"object\":\"response\",\"deleted\":true}");
    free(a.text);

    req = item_req("GET", "/responses/resp_abc123/input_items?limit=5");
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 200);
    cr_assert_str_eq(a.text, "{\"object\":\"list\",\"data\":[],\"first_id\":null,\"last_id\":null,"
                             "\"has_more\":false}");
    free(a.text);

    req = item_req("GET", "/responses/resp_abc123/other");
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 404);
    cr_assert_eq(classify(inst, &req, &a), SY_VERDICT_FATAL, "the resource's own answer");
    free(a.text);

    /* Injected errors apply to them too. */
    mock->destroy(inst);
    inst = create((const char *const[]){"error_rate", "1", NULL});
    req = item_req("GET", "/responses/resp_abc123");
    a = answer(inst, NULL, &req);
    cr_assert_eq(a.r.status, 503);
    free(a.text);
    mock->destroy(inst);
}

/* The response id the mock makes for one request, under a seed. */
static void response_id_under(uint64_t seed, char *out, size_t cap)
{
    fake_host_seed(seed);
    void *inst = create(NULL);
    sy_request req = req_of(SY_OP_RESPONSES, "{\"model\":\"m\",\"input\":\"x\"}", "m", 0);
    reply a = answer(inst, NULL, &req);
    cJSON *j = cJSON_Parse(a.text);
    snprintf(out, cap, "%s", cJSON_GetObjectItem(j, "id")->valuestring);
    cJSON_Delete(j);
    free(a.text);
    mock->destroy(inst);
}

Test(mock, response_ids_repeat_under_a_seed)
{
    char a[64], b[64], c[64];
    response_id_under(11, a, sizeof a);
    response_id_under(11, b, sizeof b);
    response_id_under(12, c, sizeof c);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
}
