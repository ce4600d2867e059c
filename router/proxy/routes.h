/*
 * routes.h - the HTTP surface: which path goes where, client auth, the local
 * rate limit, admin, /v1/models, probes and /metrics. Proxied paths go to the
 * engine through proxy.c.
 */
#ifndef SY_ROUTES_H
#define SY_ROUTES_H

#include <stddef.h>

#include "conn.h"
#include "http_parser.h"

/* The front's handler for one complete request (sy_handler.request; ctx:
 * the sy_gateway). */
void sy_route_request(void *ctx, sy_conn *c, const sy_http_req *req, char *body, size_t body_len);

#endif
