/*
 * answers.h - the deterministic OpenAI-shaped bodies of mock-upstream.
 *
 * Fixed id ("chatcmpl-mock", "cmpl-mock" for /v1/completions), created
 * 1700000000, the model echoed from the request, content "Hello from
 * mock-upstream.", usage prompt_tokens = request body bytes / 4 and
 * completion_tokens 7. A stream of N chunks carries the pieces "Hello",
 * " from", " mock", "-upstream", "." in turn (so 5 chunks, the default, spell
 * the same content), the role in the first chunk and finish_reason "stop" in
 * the last.
 */
#ifndef MOCK_ANSWERS_H
#define MOCK_ANSWERS_H

#include <stddef.h>

#include "buf.h"

typedef enum mock_kind { MOCK_CHAT, MOCK_COMPLETIONS, MOCK_EMBEDDINGS, MOCK_MODELS } mock_kind;

typedef struct mock_job {
    mock_kind kind;
    int bad;                 /* the request gets a 400 with errmsg */
    char errmsg[128];
    int stream;              /* stream: true (chat and completions only) */
    int include_usage;       /* stream_options.include_usage: true */
    int has_model;
    mock_buf model;          /* the model as a JSON string literal, quotes included */
    size_t prompt_tokens;
    size_t n_inputs;         /* embeddings: how many vectors */
} mock_job;

/* Read what the answer needs from a request body (POST kinds); sets bad and
 * errmsg for malformed JSON, a non-object or a missing model. */
void mock_job_parse(mock_job *j, mock_kind kind, const char *body, size_t len);

void mock_answer_body(const mock_job *j, mock_buf *out);
/* The data of stream event i (0-based) of n content chunks, without "data: ". */
void mock_stream_chunk(const mock_job *j, int i, int n, mock_buf *out);
void mock_stream_usage(const mock_job *j, mock_buf *out);
/* An OpenAI error envelope for status. */
void mock_error_body(int status, const char *msg, mock_buf *out);

#endif
