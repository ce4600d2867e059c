/*
 * mock.h - internals of the `mock` provider, shared by mock.c (descriptor,
 * config, the outcome draw), mock_body.c (the OpenAI-shaped answers) and
 * mock_responses.c (the Responses API's).
 * Nothing here is exported from sy_mock.so.
 */
#ifndef SY_MOCK_H
#define SY_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <switchyard/plugin.h>

/* A growing buffer in host memory (the host frees the final one). */
typedef struct mock_buf {
    const sy_host_api *host;
    char *p;
    size_t len, cap;
    int oom;
} mock_buf;

void mock_buf_put(mock_buf *b, const char *s, size_t n);
void mock_buf_puts(mock_buf *b, const char *s);
void mock_buf_printf(mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (n bytes) as a JSON string, quotes included. */
void mock_buf_json(mock_buf *b, const char *s, size_t n);

/* Everything an answer is made from. */
typedef struct mock_answer {
    sy_op op;
    const char *model;        /* echoed */
    const char *request_id;   /* part of the id; may be NULL */
    const char *reply;        /* assistant text */
    int chunks;               /* content events per stream */
    int stream;
    int include_usage;        /* the client asked for stream_options.include_usage */
    int truncate;             /* cut the stream midway */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    const void *body_json;    /* the parsed request (cJSON *): embeddings, responses */
    /* The Responses API (SY_OP_RESPONSES, SY_OP_RESPONSE_ITEM). */
    char response_id[64];     /* "resp_" + 48 hex, from the host's random draws */
    char message_id[64];      /* "msg_" + 48 hex, derived from the response id */
    int64_t reasoning_tokens; /* the part of completion_tokens spent reasoning */
    const char *method;       /* SY_OP_RESPONSE_ITEM: "GET", "DELETE", ... */
    const char *path;         /* SY_OP_RESPONSE_ITEM: "/responses/ID[/input_items][?query]" */
} mock_answer;

/* The OpenAI error envelope {"error": {"message", "type", "code"}}. */
void mock_body_error(mock_buf *b, const char *message, const char *type, const char *code);
/* chat.completion, text_completion, or (stream) SSE events ending in [DONE]. */
void mock_body_completion(mock_buf *b, const mock_answer *a);
/* An embedding list, one deterministic vector per input. Returns 0, or -1
 * with a message in why when the input is not usable. */
int mock_body_embeddings(mock_buf *b, const mock_answer *a, const char **why);

/* Words in s (runs of non-space), at least 1: the mock's completion tokens. */
int64_t mock_count_words(const char *s);
/* Where content piece k of n of s starts (k = n: len): whole words when
 * there are enough of them, else even byte ranges (never inside a UTF-8
 * sequence). */
size_t mock_piece_start(const char *s, size_t len, int k, int n);

/* The Responses API (mock_responses.c). */
/* Fill in a->response_id and message_id from three of the host's draws. */
void mock_response_ids(mock_answer *a, const sy_host_api *h);
/* A response object, or (stream) its typed SSE events, "event:" lines
 * included, ending with response.completed (a truncated one stops midway
 * through the deltas, with no terminal event). */
void mock_body_response(mock_buf *b, const mock_answer *a);
/* The answer to a request on one stored response (the mock stores nothing:
 * GET and POST .../cancel answer a completed response with the asked id,
 * DELETE deleted: true, .../input_items an empty list). Returns the HTTP
 * status. */
int mock_body_response_item(mock_buf *b, const mock_answer *a);

#endif
