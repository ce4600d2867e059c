/*
 * openai_wire_int.h - what the files of the openai_wire library share with
 * each other. Not for plugins: they include openai_wire.h only. Everything
 * here is hidden (the library is built with -fvisibility=hidden).
 */
#ifndef SY_OPENAI_WIRE_INT_H
#define SY_OPENAI_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "openai_wire.h"

/* The Content-Type header line; w->headers holds this very pointer, so a
 * request without a body can leave it out by comparing pointers. */
extern const char sy_ow_content_type[];

/* out->url = the endpoint's base_url (without trailing '/') + path, checked
 * against SY_URL_MAX. 0, or -1 with err set. */
int sy_ow_join_url(const sy_endpoint *ep, const char *path, sy_http_request *out, char *err,
                   size_t errlen);

/* Validate p[0..n) as one JSON object and fill in the wanted top-level
 * fields, as the host's json_scan_object does (which it uses when the host
 * has it; otherwise cJSON validates and a raw walk finds the fields). Every
 * field starts SY_JSON_ABSENT. 0, or -1 when p is not one JSON object. */
int sy_ow_scan(const sy_openai_wire *w, const char *p, size_t n, sy_json_field *f, size_t nf);

/* Does the raw JSON string content (between the quotes) decode to word? */
int sy_ow_key_is(const char *raw, size_t n, const char *word);

/* Read a "usage" object's text: input and output tokens (chat's
 * prompt_/completion_tokens or the Responses API's input_/output_tokens)
 * and, when reasoning is not NULL, the reasoning part of the output
 * (output_tokens_details or completion_tokens_details .reasoning_tokens).
 * Leaves what it does not find as it was. */
void sy_ow_usage_text(const sy_openai_wire *w, const char *usage, size_t len, sy_op op,
                      sy_usage *u, int64_t *reasoning);

/* ------------------------------------------ the Responses API (responses.c) */

/* build_request for SY_OP_RESPONSE_ITEM: base_url + req->path, req->method. */
int sy_ow_build_item_request(const sy_openai_wire *w, const sy_endpoint *ep,
                             const sy_request *req, sy_http_request *out, char *err,
                             size_t errlen);

/* A 2xx answer to SY_OP_RESPONSES or SY_OP_RESPONSE_ITEM (not a stream):
 * usage, reasoning and the response id (RESPONSES only). Returns 1 when it
 * settled the answer, 0 when the answer is an error envelope that the
 * caller should summarise. */
int sy_ow_responses_ok_answer(const sy_openai_wire *w, const sy_request *req,
                              const sy_http_response *resp, sy_result *res);

/* stream_event for SY_OP_RESPONSES (and a SY_OP_RESPONSE_ITEM stream: its
 * end only, no usage, no id). res is already reset. */
int sy_ow_responses_event(const sy_openai_wire *w, sy_op op, const char *data, size_t len,
                          sy_stream_result *res);

#endif
