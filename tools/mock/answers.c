/* answers.c - deterministic OpenAI-shaped bodies (see answers.h). */
#include "answers.h"
#include "json_scan.h"
#include "responses.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#define CREATED 1700000000
#define CREATED_STR "1700000000"
#define CONTENT MOCK_CONTENT
#define COMPLETION_TOKENS MOCK_COMPLETION_TOKENS
#define COMPLETION_TOKENS_STR "7"
#define MAX_INPUTS 2048

static const char *const pieces[] = {"Hello", " from", " mock", "-upstream", "."};
#define N_PIECES (sizeof(pieces) / sizeof(pieces[0]))

const char *mock_piece(int i) { return pieces[(size_t)i % N_PIECES]; }

static const char *const models[] = {"gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini",
                                     "text-embedding-3-small"};

/* The slow path, for documents json_scan cannot fully read (escaped keys). */
static void parse_with_cjson(mock_job *j, const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model) && model->valuestring[0]) {
        j->has_model = 1;
        j->model.len = 0;
        mock_buf_json_string(&j->model, model->valuestring, strlen(model->valuestring));
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (cJSON_IsArray(in) && in->child && !cJSON_IsNumber(in->child))
        j->n_inputs = (size_t)cJSON_GetArraySize(in);
    j->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    j->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    cJSON_Delete(root);
}

void mock_job_parse(mock_job *j, mock_kind kind, const char *body, size_t len)
{
    mock_json_info info;
    j->kind = kind;
    j->bad = 0;
    j->stream = j->include_usage = j->has_model = 0;
    j->prompt_tokens = len / 4;
    j->n_inputs = 1;
    if (kind == MOCK_MODELS || kind == MOCK_RESPONSE_ITEM) return;
    if (mock_json_scan(body, len, &info) < 0) {
        j->bad = 1;
        snprintf(j->errmsg, sizeof(j->errmsg), "We could not parse the JSON body of your request.");
        return;
    }
    if (!info.is_object) {
        j->bad = 1;
        snprintf(j->errmsg, sizeof(j->errmsg), "the request body must be a JSON object");
        return;
    }
    if (info.escaped_key) {
        parse_with_cjson(j, body, len);
    } else {
        if (info.model && info.model_len > 2) {
            j->has_model = 1;
            j->model.len = 0;
            mock_buf_append(&j->model, info.model, info.model_len);
        }
        j->n_inputs = info.input_count;
        j->stream = info.stream;
        j->include_usage = info.include_usage;
    }
    if (j->n_inputs > MAX_INPUTS) j->n_inputs = MAX_INPUTS;
    if (kind == MOCK_EMBEDDINGS) j->stream = j->include_usage = 0;
    if (!j->has_model) {
        j->bad = 1;
        snprintf(j->errmsg, sizeof(j->errmsg), "you must provide a model parameter");
    }
    if (kind == MOCK_RESPONSES && !j->bad) mock_responses_parse(j, body, len);
}

void mock_job_free(mock_job *j)
{
    mock_buf_free(&j->model);
    mock_buf_free(&j->r.effort);
    mock_buf_free(&j->r.prev);
    mock_buf_free(&j->r.instructions);
    mock_buf_free(&j->r.input_items);
}

static void usage_json(const mock_job *j, mock_buf *out)
{
    mock_buf_puts(out, "{\"prompt_tokens\":");
    mock_buf_u64(out, j->prompt_tokens);
    mock_buf_puts(out, ",\"completion_tokens\":" COMPLETION_TOKENS_STR ",\"total_tokens\":");
    mock_buf_u64(out, j->prompt_tokens + COMPLETION_TOKENS);
    mock_buf_puts(out, "}");
}

static void model_json(const mock_job *j, mock_buf *out)
{
    mock_buf_append(out, j->model.data, j->model.len);
}

void mock_answer_body(const mock_job *j, mock_buf *out)
{
    switch (j->kind) {
    case MOCK_CHAT:
        mock_buf_puts(out, "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\","
                           "\"created\":" CREATED_STR ",\"model\":");
        model_json(j, out);
        mock_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                           "\"content\":\"" CONTENT "\"},\"logprobs\":null,"
                           "\"finish_reason\":\"stop\"}],\"usage\":");
        usage_json(j, out);
        mock_buf_puts(out, "}");
        return;
    case MOCK_COMPLETIONS:
        mock_buf_printf(out, "{\"id\":\"cmpl-mock\",\"object\":\"text_completion\","
                             "\"created\":%d,\"model\":", CREATED);
        model_json(j, out);
        mock_buf_puts(out, ",\"choices\":[{\"index\":0,\"text\":\"" CONTENT "\","
                           "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":");
        usage_json(j, out);
        mock_buf_puts(out, "}");
        return;
    case MOCK_EMBEDDINGS:
        mock_buf_puts(out, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < j->n_inputs; i++)
            mock_buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":"
                                 "[0.125,-0.25,0.375,-0.5,0.0625,-0.125,0.75,-0.875]}",
                            i ? "," : "", i);
        mock_buf_puts(out, "],\"model\":");
        model_json(j, out);
        mock_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}",
                        j->prompt_tokens, j->prompt_tokens);
        return;
    case MOCK_RESPONSES:
        mock_response_object(j, 1, CONTENT, out);
        return;
    case MOCK_RESPONSE_ITEM:
        return; /* answered from the store */
    case MOCK_MODELS:
        mock_buf_puts(out, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
            mock_buf_printf(out, "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":%d,"
                                 "\"owned_by\":\"mock-upstream\"}", i ? "," : "", models[i], CREATED);
        mock_buf_puts(out, "]}");
        return;
    }
}

void mock_stream_chunk(const mock_job *j, int i, int n, mock_buf *out)
{
    const char *piece = pieces[(size_t)i % N_PIECES];
    const char *finish = i == n - 1 ? "\"stop\"" : "null";
    if (j->kind == MOCK_COMPLETIONS) {
        mock_buf_printf(out, "{\"id\":\"cmpl-mock\",\"object\":\"text_completion\","
                             "\"created\":%d,\"model\":", CREATED);
        model_json(j, out);
        mock_buf_printf(out, ",\"choices\":[{\"index\":0,\"text\":\"%s\",\"logprobs\":null,"
                             "\"finish_reason\":%s}]}", piece, finish);
        return;
    }
    mock_buf_printf(out, "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\","
                         "\"created\":%d,\"model\":", CREATED);
    model_json(j, out);
    mock_buf_printf(out, ",\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%s\"},"
                         "\"logprobs\":null,\"finish_reason\":%s}]}",
                    i == 0 ? "\"role\":\"assistant\"," : "", piece, finish);
}

void mock_stream_usage(const mock_job *j, mock_buf *out)
{
    const int chat = j->kind != MOCK_COMPLETIONS;
    mock_buf_printf(out, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%d,\"model\":",
                    chat ? "chatcmpl-mock" : "cmpl-mock",
                    chat ? "chat.completion.chunk" : "text_completion", CREATED);
    model_json(j, out);
    mock_buf_puts(out, ",\"choices\":[],\"usage\":");
    usage_json(j, out);
    mock_buf_puts(out, "}");
}

void mock_error_envelope(const char *msg, const char *type, const char *param, const char *code,
                         mock_buf *out)
{
    mock_buf_puts(out, "{\"error\":{\"message\":");
    mock_buf_json_string(out, msg, strlen(msg));
    mock_buf_printf(out, ",\"type\":\"%s\",\"param\":", type);
    if (param) mock_buf_json_string(out, param, strlen(param));
    else mock_buf_puts(out, "null");
    mock_buf_puts(out, ",\"code\":");
    if (code) mock_buf_json_string(out, code, strlen(code));
    else mock_buf_puts(out, "null");
    mock_buf_puts(out, "}}");
}

void mock_error_body(int status, const char *msg, mock_buf *out)
{
    const char *type = "invalid_request_error", *code = NULL;
    if (status == 429) {
        type = "rate_limit_error";
        code = "rate_limit_exceeded";
    } else if (status >= 500) {
        type = "server_error";
    } else if (status == 401) {
        type = "authentication_error";
        code = "invalid_api_key";
    } else if (status == 404) {
        code = "not_found";
    }
    mock_error_envelope(msg, type, NULL, code, out);
}
