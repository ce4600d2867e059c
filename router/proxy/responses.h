/*
 * responses.h - the Responses API's stored responses on the request path.
 *
 * A stored response lives at the endpoint that created it (state/
 * response_map.h). A create that names previous_response_id, and every
 * request on /v1/responses/{id}[/input_items|/cancel], goes there: pinned,
 * whatever the arm says now (after a rollback too), never anywhere else.
 * An id the router does not know (created before switchyard was in front,
 * or forgotten: map_size, map_ttl, a restart without shared_state) goes to
 * the stable provider, where traffic went before the migration.
 */
#ifndef SY_RESPONSES_H
#define SY_RESPONSES_H

#include "conn.h"
#include "engine.h"
#include "http_parser.h"
#include "response_map.h"

/* Point er at where the stored response id lives (home is filled and must
 * outlive er), or at the stable arm when the id is unknown. */
void sy_responses_pin(sy_router *r, const char *id, sy_response_home *home, sy_engine_request *er);

/* A request on /v1/responses/{id}...: checks the path, method and query,
 * and starts the engine. pol is a reference the engine takes over. Returns
 * 1 when the engine took it, 0 when it was refused at once (the caller
 * reports it). */
int sy_responses_start_item(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                            size_t body_len, const char *request_id);

#endif
