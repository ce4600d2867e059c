/* responses.c - the Responses API's bodies in mock-upstream (see responses.h). */
#include "responses.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "http.h"

#define CREATED_STR "1700000000"

/* ------------------------------------------------------------------ ids */

static pthread_once_t nonce_once = PTHREAD_ONCE_INIT;
static uint64_t nonce;
static uint64_t counter;

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void init_nonce(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    nonce = mix64(((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
                  ((uint64_t)getpid() << 40));
}

/* prefix + 48 hex digits: the nonce, then two mixes of a counter (a
 * bijection of it, so no repeat within the process). */
static void new_id(const char *prefix, char *out, size_t cap)
{
    pthread_once(&nonce_once, init_nonce);
    uint64_t n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(out, cap, "%s%016llx%016llx%016llx", prefix, (unsigned long long)nonce,
             (unsigned long long)mix64(nonce ^ n), (unsigned long long)mix64(n));
}

void mock_responses_new_ids(mock_job *j)
{
    new_id("resp_", j->r.id, sizeof(j->r.id));
    new_id("msg_", j->r.msg_id, sizeof(j->r.msg_id));
}

/* -------------------------------------------------------------- requests */

/* A C string in a buffer (len excludes the NUL). */
static void set_cstr(mock_buf *b, const char *s)
{
    b->len = 0;
    mock_buf_append(b, s, strlen(s) + 1);
    b->len--;
}

static void set_json_string(mock_buf *b, const char *s)
{
    b->len = 0;
    mock_buf_json_string(b, s, strlen(s));
}

/* The request's input as the items GET .../input_items lists: a string is
 * one user message; a list keeps its items, each given an id (and a string
 * content made an input_text part), as OpenAI lists them. */
static void input_items(mock_rjob *r, const cJSON *input)
{
    cJSON *list = cJSON_CreateArray();
    if (!list) mock_oom();
    if (cJSON_IsString(input)) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(list, m);
        cJSON_AddStringToObject(m, "type", "message");
        cJSON_AddStringToObject(m, "role", "user");
        cJSON *content = cJSON_AddArrayToObject(m, "content");
        cJSON *part = cJSON_CreateObject();
        cJSON_AddItemToArray(content, part);
        cJSON_AddStringToObject(part, "type", "input_text");
        cJSON_AddStringToObject(part, "text", input->valuestring);
    } else if (cJSON_IsArray(input)) {
        for (const cJSON *it = input->child; it; it = it->next)
            if (cJSON_IsObject(it)) cJSON_AddItemToArray(list, cJSON_Duplicate(it, 1));
    }
    for (cJSON *it = list->child; it; it = it->next) {
        if (!cJSON_HasObjectItem(it, "type") && cJSON_HasObjectItem(it, "role"))
            cJSON_AddStringToObject(it, "type", "message");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (cJSON_IsString(content)) {
            cJSON *parts = cJSON_CreateArray(), *part = cJSON_CreateObject();
            cJSON_AddItemToArray(parts, part);
            cJSON_AddStringToObject(part, "type", "input_text");
            cJSON_AddStringToObject(part, "text", content->valuestring);
            cJSON_ReplaceItemInObjectCaseSensitive(it, "content", parts);
        }
        if (!cJSON_HasObjectItem(it, "id")) {
            char id[64];
            new_id("msg_", id, sizeof(id));
            cJSON_AddStringToObject(it, "id", id);
        }
    }
    char *s = cJSON_PrintUnformatted(list);
    if (!s) mock_oom();
    set_cstr(&r->input_items, s);
    cJSON_free(s);
    cJSON_Delete(list);
}

void mock_responses_parse(mock_job *j, const char *body, size_t len)
{
    mock_rjob *r = &j->r;
    r->store = 1;
    r->reasoning = 0;
    r->effort.len = r->prev.len = r->instructions.len = 0;
    set_cstr(&r->input_items, "[]");
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return; /* mock_job_parse has checked it */
    r->store = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "store"));
    const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(root, "reasoning");
    r->reasoning = reasoning && !cJSON_IsNull(reasoning);
    const cJSON *effort = cJSON_GetObjectItemCaseSensitive(reasoning, "effort");
    if (cJSON_IsString(effort)) set_json_string(&r->effort, effort->valuestring);
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(root, "previous_response_id");
    if (cJSON_IsString(prev)) set_cstr(&r->prev, prev->valuestring);
    const cJSON *instructions = cJSON_GetObjectItemCaseSensitive(root, "instructions");
    if (cJSON_IsString(instructions)) set_json_string(&r->instructions, instructions->valuestring);
    input_items(r, cJSON_GetObjectItemCaseSensitive(root, "input"));
    cJSON_Delete(root);
}

static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int mock_responses_path(const char *rest, size_t len, mock_job *j)
{
    static const char base[] = "responses", inputs[] = "/input_items", cancel[] = "/cancel";
    const size_t blen = sizeof(base) - 1, ilen = sizeof(inputs) - 1, clen = sizeof(cancel) - 1;
    if (mock_http_ieq(rest, len, base)) return 0;
    if (len < blen + 2 || memcmp(rest, base, blen) || rest[blen] != '/') return -1;
    const char *id = rest + blen + 1, *end = rest + len;
    size_t n = 0;
    while (id + n < end && id_char(id[n])) n++;
    if (n == 0 || n > MOCK_ID_MAX) return -1;
    size_t tail = (size_t)(end - (id + n));
    if (tail == 0) j->r.item_op = MOCK_ITEM_GET;
    else if (tail == ilen && !memcmp(id + n, inputs, ilen)) j->r.item_op = MOCK_ITEM_INPUTS;
    else if (tail == clen && !memcmp(id + n, cancel, clen)) j->r.item_op = MOCK_ITEM_CANCEL;
    else return -1;
    memcpy(j->r.item_id, id, n);
    j->r.item_id[n] = '\0';
    return 1;
}

/* ------------------------------------------------------------- answers */

void mock_response_text(int n, mock_buf *out)
{
    if (n < 0) {
        mock_buf_puts(out, MOCK_CONTENT);
        return;
    }
    for (int i = 0; i < n; i++) mock_buf_puts(out, mock_piece(i));
}

static void put_literal_or_null(mock_buf *out, const mock_buf *lit)
{
    if (lit->len) mock_buf_append(out, lit->data, lit->len);
    else mock_buf_puts(out, "null");
}

static void put_usage(const mock_job *j, mock_buf *out)
{
    mock_buf_printf(out, "{\"input_tokens\":%zu,\"input_tokens_details\":{\"cached_tokens\":0},"
                         "\"output_tokens\":%d,\"output_tokens_details\":{\"reasoning_tokens\":%d},"
                         "\"total_tokens\":%zu}",
                    j->prompt_tokens, MOCK_COMPLETION_TOKENS,
                    j->r.reasoning ? MOCK_REASONING_TOKENS : 0,
                    j->prompt_tokens + MOCK_COMPLETION_TOKENS);
}

/* The output_text content part. */
static void put_part(const char *text, mock_buf *out)
{
    mock_buf_puts(out, "{\"type\":\"output_text\",\"text\":");
    mock_buf_json_string(out, text, strlen(text));
    mock_buf_puts(out, ",\"annotations\":[]}");
}

/* The output message: in progress with no content, or completed with text. */
static void put_message(const mock_job *j, const char *text, mock_buf *out)
{
    mock_buf_puts(out, "{\"type\":\"message\",\"id\":\"");
    mock_buf_puts(out, j->r.msg_id);
    mock_buf_printf(out, "\",\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
                    text ? "completed" : "in_progress");
    if (text) put_part(text, out);
    mock_buf_puts(out, "]}");
}

void mock_response_object(const mock_job *j, int completed, const char *text, mock_buf *out)
{
    const mock_rjob *r = &j->r;
    mock_buf_puts(out, "{\"id\":\"");
    mock_buf_puts(out, r->id);
    mock_buf_printf(out, "\",\"object\":\"response\",\"created_at\":" CREATED_STR
                         ",\"status\":\"%s\",\"model\":",
                    completed ? "completed" : "in_progress");
    mock_buf_append(out, j->model.data, j->model.len);
    mock_buf_puts(out, ",\"output\":[");
    if (completed) put_message(j, text, out);
    mock_buf_puts(out, "],\"usage\":");
    if (completed) put_usage(j, out);
    else mock_buf_puts(out, "null");
    mock_buf_puts(out, ",\"previous_response_id\":");
    if (r->prev.len) mock_buf_json_string(out, r->prev.data, r->prev.len);
    else mock_buf_puts(out, "null");
    mock_buf_printf(out, ",\"store\":%s,\"error\":null,\"incomplete_details\":null,"
                         "\"instructions\":",
                    r->store ? "true" : "false");
    put_literal_or_null(out, &r->instructions);
    mock_buf_puts(out, ",\"metadata\":{},\"parallel_tool_calls\":true,\"temperature\":1.0,"
                       "\"top_p\":1.0,\"tool_choice\":\"auto\",\"tools\":[],"
                       "\"text\":{\"format\":{\"type\":\"text\"}},\"truncation\":\"disabled\","
                       "\"max_output_tokens\":null,\"reasoning\":{\"effort\":");
    put_literal_or_null(out, &r->effort);
    mock_buf_puts(out, ",\"summary\":null},\"user\":null,\"service_tier\":\"default\"}");
}

/* ------------------------------------------------------------- streams */

enum { EV_CREATED, EV_IN_PROGRESS, EV_ITEM_ADDED, EV_PART_ADDED, EV_FIRST_DELTA };

int mock_response_event_count(int n) { return n + 8; }

int mock_response_event_paces(int i, int n)
{
    return i >= EV_FIRST_DELTA && i < EV_FIRST_DELTA + n - 1;
}

/* {"type":TYPE,"sequence_number":i, */
static const char *open_event(const char *type, int i, mock_buf *out)
{
    mock_buf_printf(out, "{\"type\":\"%s\",\"sequence_number\":%d,", type, i);
    return type;
}

static void put_item_ref(const mock_job *j, mock_buf *out)
{
    mock_buf_puts(out, "\"item_id\":\"");
    mock_buf_puts(out, j->r.msg_id);
    mock_buf_puts(out, "\",\"output_index\":0,\"content_index\":0,");
}

const char *mock_response_event(const mock_job *j, int i, int n, const char *text,
                                mock_buf *out)
{
    const char *type;
    if (i == EV_CREATED || i == EV_IN_PROGRESS) {
        type = open_event(i == EV_CREATED ? "response.created" : "response.in_progress", i, out);
        mock_buf_puts(out, "\"response\":");
        mock_response_object(j, 0, NULL, out);
    } else if (i == EV_ITEM_ADDED) {
        type = open_event("response.output_item.added", i, out);
        mock_buf_puts(out, "\"output_index\":0,\"item\":");
        put_message(j, NULL, out);
    } else if (i == EV_PART_ADDED) {
        type = open_event("response.content_part.added", i, out);
        put_item_ref(j, out);
        mock_buf_puts(out, "\"part\":");
        put_part("", out);
    } else if (i < EV_FIRST_DELTA + n) {
        type = open_event("response.output_text.delta", i, out);
        put_item_ref(j, out);
        const char *piece = mock_piece(i - EV_FIRST_DELTA);
        mock_buf_puts(out, "\"delta\":");
        mock_buf_json_string(out, piece, strlen(piece));
        mock_buf_puts(out, ",\"logprobs\":[]");
    } else if (i == EV_FIRST_DELTA + n) {
        type = open_event("response.output_text.done", i, out);
        put_item_ref(j, out);
        mock_buf_puts(out, "\"text\":");
        mock_buf_json_string(out, text, strlen(text));
        mock_buf_puts(out, ",\"logprobs\":[]");
    } else if (i == EV_FIRST_DELTA + n + 1) {
        type = open_event("response.content_part.done", i, out);
        put_item_ref(j, out);
        mock_buf_puts(out, "\"part\":");
        put_part(text, out);
    } else if (i == EV_FIRST_DELTA + n + 2) {
        type = open_event("response.output_item.done", i, out);
        mock_buf_puts(out, "\"output_index\":0,\"item\":");
        put_message(j, text, out);
    } else {
        type = open_event("response.completed", i, out);
        mock_buf_puts(out, "\"response\":");
        mock_response_object(j, 1, text, out);
    }
    mock_buf_puts(out, "}");
    return type;
}

/* ------------------------------------------------------- stored answers */

/* A string's JSON literal, or null. */
static void put_string_or_null(mock_buf *out, const cJSON *v)
{
    if (cJSON_IsString(v)) mock_buf_json_string(out, v->valuestring, strlen(v->valuestring));
    else mock_buf_puts(out, "null");
}

void mock_response_items_list(const mock_buf *items, mock_buf *out)
{
    cJSON *list = cJSON_ParseWithLength(items->data, items->len);
    const cJSON *first = cJSON_GetArrayItem(list, 0);
    const cJSON *last = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
    mock_buf_puts(out, "{\"object\":\"list\",\"data\":");
    mock_buf_append(out, items->data, items->len);
    mock_buf_puts(out, ",\"first_id\":");
    put_string_or_null(out, cJSON_GetObjectItemCaseSensitive(first, "id"));
    mock_buf_puts(out, ",\"last_id\":");
    put_string_or_null(out, cJSON_GetObjectItemCaseSensitive(last, "id"));
    mock_buf_puts(out, ",\"has_more\":false}");
    cJSON_Delete(list);
}

void mock_response_deleted(const char *id, mock_buf *out)
{
    mock_buf_puts(out, "{\"id\":");
    mock_buf_json_string(out, id, strlen(id));
    mock_buf_puts(out, ",\"object\":\"response\",\"deleted\":true}");
}
