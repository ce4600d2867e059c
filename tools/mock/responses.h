/*
 * responses.h - the Responses API's bodies in mock-upstream: the response
 * object, the typed events of its stream, input_items lists, and the ids.
 *
 * A response is made of the same fixed parts as the chat answers (created_at
 * 1700000000, the model echoed, the text "Hello from mock-upstream." or, for
 * a stream of N pieces, the pieces spelled out), with usage input_tokens =
 * request body bytes / 4, output_tokens 7, of which 3 are reasoning tokens
 * when the request has "reasoning" (else 0). Ids are unique: "resp_" and
 * "msg_" followed by 48 hex digits, made from a per-process nonce (clock and
 * pid) and a counter, so two mocks, or one restarted, never repeat one.
 */
#ifndef MOCK_RESPONSES_H
#define MOCK_RESPONSES_H

#include <stddef.h>

#include "answers.h"
#include "buf.h"

#define MOCK_REASONING_TOKENS 3 /* of the 7 output tokens, when asked for reasoning */

/* The Responses-only fields of a valid request body (called by mock_job_parse). */
void mock_responses_parse(mock_job *j, const char *body, size_t len);
/* Give the job's response and message fresh ids. */
void mock_responses_new_ids(mock_job *j);

/* The response object: completed (output and usage) or in_progress (output
 * [] and usage null). text is the assistant's text (raw, not JSON). */
void mock_response_object(const mock_job *j, int completed, const char *text, mock_buf *out);
/* The text a stream of n content pieces spells (the whole answer's text for
 * non-stream jobs, n < 0). */
void mock_response_text(int n, mock_buf *out);

/* Events in a stream of n content pieces: created, in_progress,
 * output_item.added, content_part.added, n output_text.delta,
 * output_text.done, content_part.done, output_item.done, completed. */
int mock_response_event_count(int n);
/* Append the data of event i (0-based, also its sequence_number) of such a
 * stream; returns its type. text is mock_response_text(n). */
const char *mock_response_event(const mock_job *j, int i, int n, const char *text,
                                mock_buf *out);
/* 1 when event i is an output_text.delta followed by another one: the place
 * for --chunk-delay-ms. */
int mock_response_event_paces(int i, int n);

/* {"object":"list","data":ITEMS,"first_id":..,"last_id":..,"has_more":false}. */
void mock_response_items_list(const mock_buf *items, mock_buf *out);
/* {"id":ID,"object":"response","deleted":true}. */
void mock_response_deleted(const char *id, mock_buf *out);

/* "responses/ID", "responses/ID/input_items" or "responses/ID/cancel" (after
 * "/v1/"): sets the job's item_id and item_op (MOCK_ITEM_GET for the first;
 * the caller tells DELETE by the method). Returns 1 for such a path, 0 for
 * "responses", -1 otherwise. */
int mock_responses_path(const char *rest, size_t len, mock_job *j);

#endif
