/*
 * mock_responses.c - the mock provider's answers for the Responses API: the
 * response object, its stream of typed events (the same pieces as the chat
 * stream), and the requests on one stored response.
 *
 * The mock keeps no state (it is one read-only instance for every thread):
 * GET /responses/{id} (and POST .../cancel) answers a completed response
 * with the asked id, DELETE deleted: true, .../input_items an empty list, and
 * any previous_response_id is accepted. created_at is fixed at 1700000000; ids come from the host's
 * seeded random draws, so a seeded host repeats them.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"

#define MOCK_CREATED "1700000000"
#define MAX_ID 128

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mock_response_ids(mock_answer *a, const sy_host_api *h)
{
    uint64_t x = h->random_u64(), y = h->random_u64(), z = h->random_u64();
    snprintf(a->response_id, sizeof a->response_id, "resp_%016llx%016llx%016llx",
             (unsigned long long)x, (unsigned long long)y, (unsigned long long)z);
    snprintf(a->message_id, sizeof a->message_id, "msg_%016llx%016llx%016llx",
             (unsigned long long)mix64(x), (unsigned long long)mix64(y),
             (unsigned long long)mix64(z));
}

/* ------------------------------------------------------------------ pieces */

static const cJSON *field(const mock_answer *a, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive((const cJSON *)a->body_json, name);
}

static void put_json_or_null(mock_buf *b, const cJSON *s)
{
    if (cJSON_IsString(s)) mock_buf_json(b, s->valuestring, strlen(s->valuestring));
    else mock_buf_puts(b, "null");
}

static void put_usage(mock_buf *b, const mock_answer *a)
{
    mock_buf_printf(b, "{\"input_tokens\":%lld,", (long long)a->prompt_tokens);
    mock_buf_puts(b, "\"input_tokens_details\":{\"cached_tokens\":0},");
    mock_buf_printf(b, "\"output_tokens\":%lld,", (long long)a->completion_tokens);
    mock_buf_printf(b, "\"output_tokens_details\":{\"reasoning_tokens\":%lld},",
                    (long long)a->reasoning_tokens);
    mock_buf_printf(b, "\"total_tokens\":%lld}",
                    (long long)(a->prompt_tokens + a->completion_tokens));
}

static void put_part(mock_buf *b, const char *text, size_t n)
{
    mock_buf_puts(b, "{\"type\":\"output_text\",\"text\":");
    mock_buf_json(b, text, n);
    mock_buf_puts(b, ",\"annotations\":[]}");
}

/* The output message; completed with the whole reply, or in progress and empty. */
static void put_message(mock_buf *b, const mock_answer *a, int completed)
{
    mock_buf_puts(b, "{\"type\":\"message\",\"id\":");
    mock_buf_json(b, a->message_id, strlen(a->message_id));
    mock_buf_puts(b, completed ? ",\"status\":\"completed\"" : ",\"status\":\"in_progress\"");
    mock_buf_puts(b, ",\"role\":\"assistant\",\"content\":[");
    if (completed) put_part(b, a->reply, strlen(a->reply));
    mock_buf_puts(b, "]}");
}

/* The response object: completed (output, usage), or in progress (output [],
 * usage null). Echoes previous_response_id, store, instructions and
 * reasoning.effort from the request. */
static void put_object(mock_buf *b, const mock_answer *a, int completed)
{
    const cJSON *store = field(a, "store");
    const cJSON *effort = cJSON_GetObjectItemCaseSensitive(field(a, "reasoning"), "effort");
    mock_buf_puts(b, "{\"id\":");
    mock_buf_json(b, a->response_id, strlen(a->response_id));
    mock_buf_puts(b, ",\"object\":\"response\",\"created_at\":" MOCK_CREATED ",\"status\":");
    mock_buf_puts(b, completed ? "\"completed\"" : "\"in_progress\"");
    mock_buf_puts(b, ",\"model\":");
    mock_buf_json(b, a->model, strlen(a->model));
    mock_buf_puts(b, ",\"output\":[");
    if (completed) put_message(b, a, 1);
    mock_buf_puts(b, "],\"usage\":");
    if (completed) put_usage(b, a);
    else mock_buf_puts(b, "null");
    mock_buf_puts(b, ",\"previous_response_id\":");
    put_json_or_null(b, field(a, "previous_response_id"));
    mock_buf_puts(b, cJSON_IsFalse(store) ? ",\"store\":false" : ",\"store\":true");
    mock_buf_puts(b, ",\"error\":null,\"incomplete_details\":null,\"instructions\":");
    put_json_or_null(b, field(a, "instructions"));
    mock_buf_puts(b, ",\"metadata\":{},\"parallel_tool_calls\":true,\"temperature\":1.0,"
                     "\"top_p\":1.0,\"tool_choice\":\"auto\",\"tools\":[],"
                     "\"text\":{\"format\":{\"type\":\"text\"}},\"truncation\":\"disabled\","
                     "\"max_output_tokens\":null,\"reasoning\":{\"effort\":");
    put_json_or_null(b, effort);
    mock_buf_puts(b, ",\"summary\":null},\"user\":null,\"service_tier\":\"default\"}");
}

/* ------------------------------------------------------------------ stream */

/* "event: TYPE\ndata: {"type":TYPE,"sequence_number":N," (closed by end_event). */
static void open_event(mock_buf *b, const char *type, int *seq)
{
    mock_buf_puts(b, "event: ");
    mock_buf_puts(b, type);
    mock_buf_puts(b, "\ndata: {\"type\":\"");
    mock_buf_puts(b, type);
    mock_buf_printf(b, "\",\"sequence_number\":%d,", (*seq)++);
}

static void end_event(mock_buf *b) { mock_buf_puts(b, "}\n\n"); }

static void put_item_ref(mock_buf *b, const mock_answer *a)
{
    mock_buf_puts(b, "\"item_id\":");
    mock_buf_json(b, a->message_id, strlen(a->message_id));
    mock_buf_puts(b, ",\"output_index\":0,\"content_index\":0,");
}

static void response_stream(mock_buf *b, const mock_answer *a)
{
    const char *text = a->reply;
    size_t len = strlen(text);
    int n = a->chunks > 0 ? a->chunks : 1, seq = 0;
    /* A cut stream stops halfway through the content, with no terminal event. */
    int upto = a->truncate ? n / 2 : n;

    open_event(b, "response.created", &seq);
    mock_buf_puts(b, "\"response\":");
    put_object(b, a, 0);
    end_event(b);
    open_event(b, "response.in_progress", &seq);
    mock_buf_puts(b, "\"response\":");
    put_object(b, a, 0);
    end_event(b);
    open_event(b, "response.output_item.added", &seq);
    mock_buf_puts(b, "\"output_index\":0,\"item\":");
    put_message(b, a, 0);
    end_event(b);
    open_event(b, "response.content_part.added", &seq);
    put_item_ref(b, a);
    mock_buf_puts(b, "\"part\":");
    put_part(b, "", 0);
    end_event(b);
    for (int k = 0; k < upto; k++) {
        size_t s = mock_piece_start(text, len, k, n), e = mock_piece_start(text, len, k + 1, n);
        open_event(b, "response.output_text.delta", &seq);
        put_item_ref(b, a);
        mock_buf_puts(b, "\"delta\":");
        mock_buf_json(b, text + s, e - s);
        mock_buf_puts(b, ",\"logprobs\":[]");
        end_event(b);
    }
    if (a->truncate) return;
    open_event(b, "response.output_text.done", &seq);
    put_item_ref(b, a);
    mock_buf_puts(b, "\"text\":");
    mock_buf_json(b, text, len);
    mock_buf_puts(b, ",\"logprobs\":[]");
    end_event(b);
    open_event(b, "response.content_part.done", &seq);
    put_item_ref(b, a);
    mock_buf_puts(b, "\"part\":");
    put_part(b, text, len);
    end_event(b);
    open_event(b, "response.output_item.done", &seq);
    mock_buf_puts(b, "\"output_index\":0,\"item\":");
    put_message(b, a, 1);
    end_event(b);
    open_event(b, "response.completed", &seq);
    mock_buf_puts(b, "\"response\":");
    put_object(b, a, 1);
    end_event(b);
}

void mock_body_response(mock_buf *b, const mock_answer *a)
{
    if (a->stream) response_stream(b, a);
    else put_object(b, a, 1);
}

/* ------------------------------------------------------------ stored items */

static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int mock_body_response_item(mock_buf *b, const mock_answer *a)
{
    static const char prefix[] = "/responses/";
    const char *path = a->path ? a->path : "";
    const char *method = a->method ? a->method : "GET";
    char msg[MAX_ID + 96];
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) goto unsupported;
    const char *id = path + sizeof prefix - 1;
    size_t n = 0;
    while (id_char(id[n])) n++;
    const char *tail = id + n;
    size_t tail_len = strcspn(tail, "?");
    if (n == 0 || n > MAX_ID) {
        snprintf(msg, sizeof msg, "Response with id '%.*s' not found.",
                 (int)(n > MAX_ID ? MAX_ID : n), id);
        mock_body_error(b, msg, "invalid_request_error", NULL);
        return 404;
    }
    int cancel = tail_len == 7 && !strncmp(tail, "/cancel", 7) && !strcmp(method, "POST");
    if ((tail_len == 0 && !strcmp(method, "GET")) || cancel) {
        /* Cancel: the mock's responses are always complete, nothing to stop. */
        mock_answer got = *a;
        memcpy(got.response_id, id, n);
        got.response_id[n] = '\0';
        got.body_json = NULL; /* nothing of the request to echo */
        put_object(b, &got, 1);
        return 200;
    }
    if (tail_len == 0 && !strcmp(method, "DELETE")) {
        mock_buf_puts(b, "{\"id\":");
        mock_buf_json(b, id, n);
        mock_buf_puts(b, ",\"object\":\"response\",\"deleted\":true}");
        return 200;
    }
    if (tail_len == 12 && !strncmp(tail, "/input_items", 12) && !strcmp(method, "GET")) {
        mock_buf_puts(b, "{\"object\":\"list\",\"data\":[],\"first_id\":null,\"last_id\":null,"
                         "\"has_more\":false}");
        return 200;
    }
unsupported:
    snprintf(msg, sizeof msg, "mock provider: %.8s %.*s is not supported", method, MAX_ID, path);
    mock_body_error(b, msg, "invalid_request_error", NULL);
    return 404;
}
