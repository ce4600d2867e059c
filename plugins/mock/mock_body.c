/*
 * mock_body.c - the mock provider's OpenAI-shaped answers: chat.completion,
 * text_completion, embedding lists, and SSE streams of chunk events (the
 * Responses API's answers are in mock_responses.c).
 * Everything is a pure function of its inputs (no clock, no randomness):
 * created is fixed at 1700000000, like tools/mock-upstream.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"

#define MOCK_CREATED 1700000000
#define EMBEDDING_DIM 8
#define MAX_EMBEDDING_INPUTS 2048

/* ------------------------------------------------------------------ buffer */

static int buf_reserve(mock_buf *b, size_t more)
{
    if (b->oom) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = b->host->alloc(cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    if (b->len) memcpy(p, b->p, b->len);
    b->host->free(b->p);
    b->p = p;
    b->cap = cap;
    return 0;
}

void mock_buf_put(mock_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mock_buf_puts(mock_buf *b, const char *s) { mock_buf_put(b, s, strlen(s)); }

void mock_buf_printf(mock_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    /* Only short numeric pieces go through here. */
    mock_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void mock_buf_json(mock_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mock_buf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mock_buf_put(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mock_buf_put(b, esc, 2);
        } else if (c == '\n') {
            mock_buf_put(b, "\\n", 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mock_buf_put(b, esc, 6);
        }
    }
    mock_buf_put(b, s + run, n - run);
    mock_buf_put(b, "\"", 1);
}

static void buf_json_str(mock_buf *b, const char *s) { mock_buf_json(b, s, strlen(s)); }

/* ------------------------------------------------------------------ pieces */

int64_t mock_count_words(const char *s)
{
    int64_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int sp = (unsigned char)*s <= ' ';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n ? n : 1;
}

void mock_body_error(mock_buf *b, const char *message, const char *type, const char *code)
{
    mock_buf_puts(b, "{\"error\":{\"message\":");
    buf_json_str(b, message);
    mock_buf_puts(b, ",\"type\":");
    buf_json_str(b, type);
    mock_buf_puts(b, ",\"code\":");
    if (code) buf_json_str(b, code);
    else mock_buf_puts(b, "null");
    mock_buf_puts(b, "}}");
}

static void put_id(mock_buf *b, const mock_answer *a, const char *prefix)
{
    mock_buf_puts(b, "{\"id\":");
    char id[160];
    snprintf(id, sizeof id, "%s-mock%s%.100s", prefix, a->request_id ? "-" : "",
             a->request_id ? a->request_id : "");
    buf_json_str(b, id);
}

static void put_head(mock_buf *b, const mock_answer *a, const char *object)
{
    put_id(b, a, a->op == SY_OP_CHAT ? "chatcmpl" : "cmpl");
    mock_buf_puts(b, ",\"object\":");
    buf_json_str(b, object);
    mock_buf_printf(b, ",\"created\":%d,\"model\":", MOCK_CREATED);
    buf_json_str(b, a->model);
}

static void put_usage(mock_buf *b, const mock_answer *a)
{
    mock_buf_printf(b, "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
                       "\"total_tokens\":%lld}",
                    (long long)a->prompt_tokens, (long long)a->completion_tokens,
                    (long long)(a->prompt_tokens + a->completion_tokens));
}

size_t mock_piece_start(const char *s, size_t len, int k, int n)
{
    if (k <= 0) return 0;
    if (k >= n) return len;
    size_t words = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] > ' ' && (i == 0 || (unsigned char)s[i - 1] <= ' ')) words++;
    if (words >= (size_t)n) {
        size_t want = words * (size_t)k / (size_t)n, seen = 0;
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)s[i] > ' ' && (i == 0 || (unsigned char)s[i - 1] <= ' ')) {
                if (seen == want) {
                    /* The space before a word goes with the word: " from". */
                    while (i > 0 && (unsigned char)s[i - 1] <= ' ') i--;
                    return i;
                }
                seen++;
            }
        }
        return len;
    }
    size_t at = len * (size_t)k / (size_t)n;
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80) at++;
    return at;
}

static void put_event_open(mock_buf *b, const mock_answer *a)
{
    mock_buf_puts(b, "data: ");
    put_head(b, a, a->op == SY_OP_CHAT ? "chat.completion.chunk" : "text_completion");
}

static void put_choice_piece(mock_buf *b, const mock_answer *a, const char *text, size_t n,
                             int first, int last)
{
    mock_buf_puts(b, ",\"choices\":[{\"index\":0,");
    if (a->op == SY_OP_CHAT) {
        mock_buf_puts(b, "\"delta\":{");
        if (first) mock_buf_puts(b, "\"role\":\"assistant\",");
        if (!last) {
            mock_buf_puts(b, "\"content\":");
            mock_buf_json(b, text, n);
        }
        mock_buf_puts(b, "},\"logprobs\":null");
    } else {
        mock_buf_puts(b, "\"text\":");
        mock_buf_json(b, text, n);
        mock_buf_puts(b, ",\"logprobs\":null");
    }
    mock_buf_puts(b, last ? ",\"finish_reason\":\"stop\"}]}\n\n"
                          : ",\"finish_reason\":null}]}\n\n");
}

static void completion_stream(mock_buf *b, const mock_answer *a)
{
    size_t len = strlen(a->reply);
    int n = a->chunks > 0 ? a->chunks : 1;
    /* A cut stream stops halfway through the content, with no end. */
    int upto = a->truncate ? n / 2 : n;
    if (a->op == SY_OP_CHAT) {
        put_event_open(b, a); /* the role arrives first, as OpenAI does */
        put_choice_piece(b, a, "", 0, 1, 0);
    }
    for (int k = 0; k < upto; k++) {
        size_t s = mock_piece_start(a->reply, len, k, n);
        size_t e = mock_piece_start(a->reply, len, k + 1, n);
        put_event_open(b, a);
        put_choice_piece(b, a, a->reply + s, e - s, 0, 0);
    }
    if (a->truncate) return;
    put_event_open(b, a);
    put_choice_piece(b, a, "", 0, 0, 1);
    if (a->include_usage) {
        put_event_open(b, a);
        mock_buf_puts(b, ",\"choices\":[],");
        put_usage(b, a);
        mock_buf_puts(b, "}\n\n");
    }
    mock_buf_puts(b, "data: [DONE]\n\n");
}

void mock_body_completion(mock_buf *b, const mock_answer *a)
{
    if (a->stream) {
        completion_stream(b, a);
        return;
    }
    if (a->op == SY_OP_CHAT) {
        put_head(b, a, "chat.completion");
        mock_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                         "\"content\":");
        buf_json_str(b, a->reply);
        mock_buf_puts(b, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],");
    } else {
        put_head(b, a, "text_completion");
        mock_buf_puts(b, ",\"choices\":[{\"text\":");
        buf_json_str(b, a->reply);
        mock_buf_puts(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],");
    }
    put_usage(b, a);
    mock_buf_puts(b, "}");
}

/* ------------------------------------------------------------- embeddings */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void put_base64(mock_buf *b, const unsigned char *in, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    mock_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        char o[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                     i + 1 < n ? tbl[(v >> 6) & 63] : '=', i + 2 < n ? tbl[v & 63] : '='};
        mock_buf_put(b, o, 4);
    }
    mock_buf_put(b, "\"", 1);
}

/* One vector, a pure function of the input item's text. */
static void put_vector(mock_buf *b, const cJSON *item, int base64)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (cJSON_IsString(item)) {
        h = fnv1a(item->valuestring, strlen(item->valuestring), h);
    } else {
        char *txt = cJSON_PrintUnformatted(item);
        if (txt) h = fnv1a(txt, strlen(txt), h);
        cJSON_free(txt);
    }
    float v[EMBEDDING_DIM];
    for (int j = 0; j < EMBEDDING_DIM; j++) {
        /* In [-1, 1], on a 1e-6 grid so the text form is exact and short. */
        int64_t q = (int64_t)(mix(h + (uint64_t)j) % 2000001u) - 1000000;
        v[j] = (float)((double)q / 1e6);
    }
    if (base64) {
        unsigned char bytes[EMBEDDING_DIM * 4];
        for (int j = 0; j < EMBEDDING_DIM; j++) {
            uint32_t u;
            memcpy(&u, &v[j], 4);
            for (int k = 0; k < 4; k++) bytes[j * 4 + k] = (unsigned char)(u >> (8 * k));
        }
        put_base64(b, bytes, sizeof bytes);
        return;
    }
    mock_buf_put(b, "[", 1);
    for (int j = 0; j < EMBEDDING_DIM; j++) mock_buf_printf(b, j ? ",%.6f" : "%.6f", (double)v[j]);
    mock_buf_put(b, "]", 1);
}

int mock_body_embeddings(mock_buf *b, const mock_answer *a, const char **why)
{
    const cJSON *root = a->body_json;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
    int base64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
    if (fmt && !cJSON_IsNull(fmt) && !base64 &&
        !(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "float"))) {
        *why = "encoding_format must be \"float\" or \"base64\"";
        return -1;
    }
    /* A string, a list of strings, a list of tokens, or a list of token lists. */
    int n;
    if (cJSON_IsString(input)) {
        n = 1;
    } else if (cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0) {
        n = cJSON_IsNumber(input->child) ? 1 : cJSON_GetArraySize(input);
    } else {
        *why = "input must be a non-empty string or list";
        return -1;
    }
    if (n > MAX_EMBEDDING_INPUTS) {
        *why = "input has more than 2048 items";
        return -1;
    }
    mock_buf_puts(b, "{\"object\":\"list\",\"data\":[");
    /* One item per vector: the string, the token list, or each list entry. */
    int whole = cJSON_IsString(input) || cJSON_IsNumber(input->child);
    const cJSON *item = whole ? input : input->child;
    for (int i = 0; i < n; i++) {
        mock_buf_printf(b, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "",
                        i);
        put_vector(b, item, base64);
        mock_buf_put(b, "}", 1);
        if (!whole) item = item->next;
    }
    mock_buf_puts(b, "],\"model\":");
    buf_json_str(b, a->model);
    mock_buf_printf(b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
                    (long long)a->prompt_tokens, (long long)a->prompt_tokens);
    return 0;
}
