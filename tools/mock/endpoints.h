/*
 * endpoints.h - per-endpoint faults and statistics of mock-upstream.
 *
 * An endpoint is named by the path before "/v1/" ("/r1/v1/models" is "r1",
 * "/v1/models" is "default"). One process-wide table, shared by all worker
 * threads under one mutex; each request takes it once (mock_endpoints_admit),
 * which also decides the request's fate from the endpoint's faults.
 */
#ifndef MOCK_ENDPOINTS_H
#define MOCK_ENDPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MOCK_NAME_MAX 64
#define MOCK_MAX_ENDPOINTS 1024
#define MOCK_HEADERS_MAX 2048 /* the `headers` fault, as "Name: value\r\n" lines */

typedef enum mock_action {
    MOCK_ACT_ANSWER = 0, /* the normal answer (or a 400 for a bad request) */
    MOCK_ACT_FAIL,       /* error_status with an OpenAI error envelope */
    MOCK_ACT_HANG,       /* never answer */
    MOCK_ACT_MALFORMED,  /* 200 with a body that is not JSON */
} mock_action;

typedef struct mock_decision {
    mock_action action;
    int status;              /* for MOCK_ACT_FAIL */
    char retry_after[64];    /* "" = no Retry-After header */
    long delay_ms;           /* latency_ms plus jitter; before any answer */
    long truncate_after;     /* -1 = off */
    long body_bytes;         /* pad a non-stream answer to this size; 0 = off */
    long header_bytes;       /* one x-mock-padding header this long; 0 = off */
    int sse_cr;              /* streams: bare "\r" line ends */
    int chunked;             /* whole answers: chunked, no Content-Length */
    char headers[MOCK_HEADERS_MAX]; /* extra header lines on every answer; "" = none */
    char echo_auth[512];     /* echo_auth: the request's Authorization to put in a failure; "" = none */
} mock_decision;

/* What a request showed, recorded as the endpoint's last_* stats. */
typedef struct mock_seen {
    const char *path;    size_t path_len;
    const char *model;   size_t model_len; /* JSON string literal; NULL when none */
    const char *auth;    size_t auth_len; /* NULL when absent */
    const char *headers; size_t headers_len; /* raw header lines */
} mock_seen;

/* Names must be 1..MOCK_NAME_MAX bytes of [A-Za-z0-9._~/-]. */
int mock_endpoint_name_ok(const char *name, size_t len);

/* Count the request, record what it showed and decide its fate. rng is the
 * caller's (per-thread) xorshift state. Returns -1 when the endpoint table is full. */
int mock_endpoints_admit(const char *name, size_t len, const mock_seen *seen, uint64_t *rng,
                         mock_decision *d);

/* Replace an endpoint's faults from a JSON object ("{}" clears). On success
 * appends the new faults as JSON to reply and returns 0; else -1 with err. */
int mock_endpoints_control(const char *name, size_t len, const char *json, size_t json_len,
                           mock_buf *reply, char *err, size_t errlen);
/* Append an endpoint's current faults as JSON. */
void mock_endpoints_show(const char *name, size_t len, mock_buf *reply);
/* --fault ENDPOINT:key=value,... ; returns 0 or -1 with err. */
int mock_endpoints_fault_arg(const char *arg, char *err, size_t errlen);

/* Count a request that named a response id the endpoint does not hold. */
void mock_endpoints_note_not_found(const char *name, size_t len);

void mock_endpoints_stats(mock_buf *out);
void mock_endpoints_reset_stats(void);
void mock_endpoints_free(void);

/* xorshift64*: a uniform double in [0, 1). */
double mock_rng_unit(uint64_t *state);

#endif
