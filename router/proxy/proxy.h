/*
 * proxy.h - a proxied request's way into the engine (engine.h does the rest).
 *
 * Checks the JSON body with the strict scanner (no tree): invalid JSON,
 * a missing or non-UTF-8 "model", or an ambiguous body (a key routing reads
 * given twice, or hidden behind a NUL) is refused with 400. Picks out model,
 * stream and the sticky key (read whole, as explain reads it), then starts
 * the engine on the connection's sink and hooks the engine to the
 * connection's abort, drain and shutdown callbacks.
 */
#ifndef SY_PROXY_H
#define SY_PROXY_H

#include <stddef.h>
#include <switchyard/plugin.h>
#include "conn.h"
#include "http_parser.h"
#include "policy.h"

/* Start proxying: parses the JSON body, plans, and answers on c now (errors)
 * or later. pol is a reference the executor takes over. Returns 1 when the
 * executor took the request (it reports it to the observers itself), 0 when it
 * was refused at once (the caller reports it). */
int sy_proxy_start(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                   size_t body_len, sy_op op, const char *request_id);

/* Start the engine on c's sink for an engine request built elsewhere
 * (responses.c), with the connection's abort, drain and shutdown hooks.
 * Returns 1 (the engine reports the request itself). */
struct sy_engine_request;
int sy_proxy_run(sy_conn *c, const struct sy_engine_request *r);

/* The request id: the client's x-request-id when it is 1..64 characters of
 * [A-Za-z0-9._-], else 32 random hex digits. */
void sy_request_id_make(const sy_http_req *req, char *out, size_t cap);
/* The answer's "x-request-id: ID\r\n" header line, in out (cut at cap). */
void sy_request_id_header(const char *request_id, char *out, size_t cap);

/* Report a request the router answered itself (refusals, admin, models) to
 * the router context's observers (metrics, access log). */
void sy_proxy_report_local(sy_conn *c, const sy_http_req *req, const char *request_id,
                           const char *model);

#endif
