/*
 * admin.h - the admin API: GET /admin/status and POST /admin/rollout.
 * The caller has already checked the admin key (sy_admin_allowed).
 */
#ifndef SY_ADMIN_H
#define SY_ADMIN_H

#include <stddef.h>
#include "conn.h"
#include "http_parser.h"
#include "policy.h"

int sy_admin_allowed(const sy_policy *p, const sy_http_req *req);
struct sy_router;
/* Policy, rollout (share, state, last change and its reason, both arms'
 * windows), and every endpoint's breaker, cooldown, health and latency as
 * the router context holds them now. */
void sy_admin_status(sy_conn *c, const sy_policy *p, struct sy_router *r);
/* rollback | pause | resume | set, through the router's rollout (rollout_live.h):
 * 200 with the new share and state, 400 for a bad request, 409 when the action
 * is not possible now (no canary; pause while rolled back). */
void sy_admin_rollout(sy_conn *c, const sy_policy *p, struct sy_router *r, const char *body,
                      size_t len);

#endif
