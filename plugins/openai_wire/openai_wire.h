/*
 * openai_wire.h - the OpenAI HTTP wire format, shared by every plugin that
 * speaks it (openai, holysheep; mock uses the classification half).
 *
 * A static library linked into each plugin (hidden visibility, so nothing here
 * is exported from the .so). It does no I/O and keeps no mutable state after
 * sy_openai_wire_init(): one sy_openai_wire serves every worker thread.
 *
 * What it does:
 *   build:    URL = base_url + "/chat/completions" | "/completions" | "/embeddings"
 *             | "/responses"; headers: its own "Authorization: Bearer KEY" (the
 *             client's never reaches an upstream), Content-Type, optional
 *             OpenAI-Organization and OpenAI-Project; the body unchanged (zero
 *             copy) unless the attempt's model differs from the client's (then
 *             "model" is replaced in place) or include_usage is on for a chat or
 *             completions stream whose client did not ask for usage (then
 *             stream_options.include_usage is set to true, the client's other
 *             stream_options kept). A Responses API body never gets
 *             stream_options: its streams report usage on their own.
 *             SY_OP_RESPONSE_ITEM (ABI 1.3): URL = base_url + req->path (query
 *             included), sy_http_request.method = "GET", "DELETE" or "POST" (a
 *             static string); GET and DELETE have no body and no Content-Type.
 *   classify: 2xx OK; 408, 409, 429, 5xx RETRY; 401, 403, 404, 3xx NEXT;
 *             other 4xx FATAL; except that a 404 on one stored response
 *             (SY_OP_RESPONSE_ITEM) is FATAL: "no such response" is that
 *             resource's answer, for the client. The error summary comes from
 *             the OpenAI error envelope, truncated, with anything that looks
 *             like a key redacted. Usage: prompt_/completion_tokens or
 *             input_/output_tokens, and reasoning tokens from
 *             output_tokens_details (or completion_tokens_details). A 2xx
 *             Responses answer also gives its top-level "id" as
 *             sy_result.response_id (borrowed from the body) unless it says
 *             "store": false; a stored response read back (an item) gives no
 *             usage and no id.
 *   stream:   chat/completions: "[DONE]" ends; an "error" object is an error;
 *             "usage" is read; with include_usage, the usage chunk (empty
 *             "choices") of a client that did not ask for usage is dropped
 *             (sy_stream_result.drop), so the client sees the stream it asked
 *             for and the tokens still count.
 *             Responses: by the data's "type" (read from the first key without
 *             parsing: delta events cost a few compares): response.created
 *             gives response.id (unless response.store is false);
 *             response.completed / .incomplete / .failed set done and read
 *             response.usage; "error" sets error and done. An event that
 *             matters counts only when it is whole, valid JSON.
 *   health:   GET base_url + the policy's health_check.path with the same
 *             auth headers, no body: probes never cost tokens.
 */
#ifndef SY_OPENAI_WIRE_H
#define SY_OPENAI_WIRE_H

#include <stddef.h>
#include <switchyard/plugin.h>

typedef struct sy_openai_wire_conf {
    const char *api_key;      /* may be NULL: no Authorization header (mock) */
    const char *organization; /* NULL or "": no header */
    const char *project;      /* NULL or "": no header */
    int include_usage;        /* ask streams for usage (stream_options.include_usage) */
} sy_openai_wire_conf;

typedef struct sy_openai_wire {
    const sy_host_api *host;
    const char *plugin;       /* plugin name, for logs (static string) */
    char *api_key;            /* host->alloc copy, for redaction; NULL when none */
    const char *headers[4];   /* built at init; each host->alloc'd except Content-Type */
    unsigned n_headers;
    int include_usage;
} sy_openai_wire;

/* Check the configuration (no CR/LF or control characters in header values)
 * and precompute the headers. 0 or -1 with a message in err (never the key). */
int sy_openai_wire_init(sy_openai_wire *w, const sy_host_api *host, const char *plugin,
                        const sy_openai_wire_conf *conf, char *err, size_t errlen);
void sy_openai_wire_fini(sy_openai_wire *w);

/* The path for an operation, e.g. "/chat/completions"; NULL for an unknown op
 * and for SY_OP_RESPONSE_ITEM, whose path is the request's own (req->path). */
const char *sy_openai_wire_path(sy_op op);

int sy_openai_wire_build_request(const sy_openai_wire *w, const sy_endpoint *ep,
                                 const sy_request *req, sy_http_request *out, char *err,
                                 size_t errlen);
/* The active health check (plugin ABI 1.2): URL = base_url + path, the same
 * Authorization / OpenAI-Organization / OpenAI-Project headers as a request,
 * no Content-Type and no body (the host sends a GET). */
int sy_openai_wire_health_request(const sy_openai_wire *w, const sy_endpoint *ep,
                                  const char *path, sy_http_request *out, char *err,
                                  size_t errlen);
int sy_openai_wire_parse_response(const sy_openai_wire *w, const sy_request *req,
                                  const sy_http_response *resp, sy_result *res);
int sy_openai_wire_stream_event(const sy_openai_wire *w, const sy_request *req, const char *data,
                                size_t len, sy_stream_result *res);

/* The verdict for an HTTP status alone (the table above). */
sy_verdict sy_openai_wire_classify(int status);

/* Copy src (len bytes) into dst as one printable line of at most cap-1 bytes:
 * control characters become spaces, anything that looks like a credential
 * (w's key, "sk-..." tokens, "Bearer ..." values, masked "abc***xyz" words)
 * becomes "[redacted]", and an overlong text ends with "...". */
void sy_openai_wire_summarise(const sy_openai_wire *w, const char *src, size_t len, char *dst,
                              size_t cap);

#endif
