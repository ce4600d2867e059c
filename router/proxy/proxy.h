/*
 * proxy.h - the executor: one proxied request walked through its plan on the
 * worker's event loop. Before each attempt: deadline left? Then the plugin
 * builds the upstream request, the upstream layer sends it, the plugin
 * classifies the answer, and the executor decides: answer, back off and retry
 * (the next endpoint of the same route), or move to the next route.
 *
 * Streams: the first byte sent to the client is the commit point; after it
 * there is no retry or fallback, and an upstream cut becomes an SSE error
 * event (never a silent 200). A slow client pauses the upstream transfer.
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

/* The request id: the client's x-request-id when it is 1..64 characters of
 * [A-Za-z0-9._-], else 32 random hex digits. */
void sy_request_id_make(const sy_http_req *req, char *out, size_t cap);

/* Report a request the router answered itself (refusals, admin, models) to
 * the metrics and the access log. */
void sy_proxy_report_local(sy_conn *c, const sy_http_req *req, const char *request_id,
                           const char *model);

extern struct sy_access_log *sy_proxy_access_log;

#endif
