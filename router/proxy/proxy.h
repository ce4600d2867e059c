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
 * or later. pol is a reference the executor takes over. */
void sy_proxy_start(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                    size_t body_len, sy_op op);

#endif
