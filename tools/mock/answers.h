/*
 * answers.h - the deterministic OpenAI-shaped bodies of mock-upstream.
 *
 * Fixed id ("chatcmpl-mock", "cmpl-mock" for /v1/completions), created
 * 1700000000, the model echoed from the request, content "Hello from
 * mock-upstream.", usage prompt_tokens = request body bytes / 4 and
 * completion_tokens 7. A stream of N chunks carries the pieces "Hello",
 * " from", " mock", "-upstream", "." in turn (so 5 chunks, the default, spell
 * the same content), the role in the first chunk and finish_reason "stop" in
 * the last. The Responses API's answers are in responses.h.
 */
#ifndef MOCK_ANSWERS_H
#define MOCK_ANSWERS_H

#include <stddef.h>

#include "buf.h"

#define MOCK_CONTENT "Hello from mock-upstream."
#define MOCK_COMPLETION_TOKENS 7
#define MOCK_ID_MAX 128 /* a response id named in a path */

typedef enum mock_kind {
    MOCK_CHAT, MOCK_COMPLETIONS, MOCK_EMBEDDINGS, MOCK_MODELS,
    MOCK_RESPONSES,     /* POST /v1/responses */
    MOCK_RESPONSE_ITEM, /* /v1/responses/{id}[/input_items] */
} mock_kind;

/* What a request on one stored response asks. */
typedef enum mock_item_op {
    MOCK_ITEM_GET, MOCK_ITEM_DELETE, MOCK_ITEM_INPUTS, MOCK_ITEM_CANCEL,
} mock_item_op;

/* The Responses API part of a job (responses.h makes the answers). */
typedef struct mock_rjob {
    int store;             /* "store" is not false */
    int reasoning;         /* "reasoning" is given and not null */
    mock_buf effort;       /* reasoning.effort as a JSON literal; empty: null */
    mock_buf prev;         /* previous_response_id, decoded; empty: none */
    mock_buf instructions; /* a JSON literal; empty: null */
    mock_buf input_items;  /* the input as an input_items "data" array */
    char id[64];           /* of the response being made */
    char msg_id[64];       /* of its output message */
    mock_item_op item_op;  /* MOCK_RESPONSE_ITEM: what is asked */
    char item_id[MOCK_ID_MAX + 1]; /* MOCK_RESPONSE_ITEM: the id in the path */
} mock_rjob;

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
    mock_rjob r;             /* MOCK_RESPONSES and MOCK_RESPONSE_ITEM */
} mock_job;

/* Read what the answer needs from a request body (POST kinds); sets bad and
 * errmsg for malformed JSON, a non-object or a missing model. */
void mock_job_parse(mock_job *j, mock_kind kind, const char *body, size_t len);
/* Free what a job holds (the job itself is the caller's). */
void mock_job_free(mock_job *j);
/* Stream content piece i: "Hello", " from", " mock", "-upstream", "." in turn. */
const char *mock_piece(int i);

void mock_answer_body(const mock_job *j, mock_buf *out);
/* The data of stream event i (0-based) of n content chunks, without "data: ". */
void mock_stream_chunk(const mock_job *j, int i, int n, mock_buf *out);
void mock_stream_usage(const mock_job *j, mock_buf *out);
/* An OpenAI error envelope for status. */
void mock_error_body(int status, const char *msg, mock_buf *out);
/* An OpenAI error envelope with the given fields (param and code may be NULL: null). */
void mock_error_envelope(const char *msg, const char *type, const char *param, const char *code,
                         mock_buf *out);

#endif
