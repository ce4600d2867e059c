/*
 * prober.h - active health checks: one probe per endpoint every interval.
 *
 * For every endpoint of a provider with `health_check`, the prober sends
 * GET {base_url}{path} through a transport (transport.h; the exchange has no
 * canonical request, which makes it a GET) on a loop's timers: one probe per
 * endpoint at a time, the next `interval` after the previous one started,
 * each bounded by `timeout` (a loop timer that cancels it). The plugin builds
 * the probe (plugin ABI 1.2 health_request: the URL and the provider's key,
 * never a completion, so probes cost no tokens); a plugin without it gets a
 * bare GET of base_url + path. Any 2xx is a good probe; any other status, a
 * transport error or the timeout is a failed one.
 *
 * Each result feeds the endpoint's state machine (resilience/health.h:
 * `unhealthy_after` failures mark it down, `healthy_after` good probes up).
 * On a change the prober sets sy_endpoint_state.healthy under the state's
 * mutex, tells the router's observers (sy_router_emit_endpoint: metrics'
 * switchyard_endpoint_healthy, /admin/status), and logs it: a warning when
 * the endpoint goes down, info when it comes back. The engine skips an
 * endpoint whose state is not healthy.
 *
 * What is not probed, and so always counts as healthy: endpoints of a
 * provider without `health_check`, and endpoints of a plugin that answers
 * locally (local_reply, the mock provider: there is no upstream to probe).
 *
 * Reloads: sy_prober_set_policy swaps in the new policy. An endpoint it still
 * probes keeps its probe in flight, its schedule and its run of results;
 * an endpoint added starts being probed at once (it starts healthy, see
 * health.h); an endpoint no longer probed (removed, its provider's
 * health_check removed, or its plugin now answers locally) has its probe
 * cancelled and is marked healthy again if it was down, since nothing could
 * ever bring it back up otherwise.
 *
 * Threading: everything (calls, timers, transport callbacks) runs on the
 * loop's thread; the prober takes endpoint mutexes only to publish a change.
 * The transport must belong to the same loop.
 */
#ifndef SY_PROBER_H
#define SY_PROBER_H

#include <stddef.h>

#include "loop.h"
#include "policy.h"
#include "router.h"
#include "transport.h"

typedef struct sy_prober sy_prober;

/* A prober that probes nothing until a policy is set. loop, transport and
 * router are borrowed and must outlive it. NULL when out of memory. */
sy_prober *sy_prober_new(sy_loop *loop, sy_transport *transport, sy_router *router);

/* Probe the endpoints of p from now on (p NULL: stop probing). Takes its own
 * reference to p and drops the one to the previous policy (a probe in flight
 * keeps the policy it was built from until it ends). p must have been bound
 * to the router (sy_router_bind) first; an endpoint without a router state is
 * not probed. Call it at start-up and after every successful reload, on the
 * loop's thread. Returns 0, or -1 when out of memory (then the previous set
 * of probes is kept, still on the previous policy). */
int sy_prober_set_policy(sy_prober *pr, sy_policy *p);

/* Cancel every probe and free. Endpoint states keep the health they have. */
void sy_prober_free(sy_prober *pr);

/* The number of endpoints being probed. */
size_t sy_prober_count(const sy_prober *pr);

/* Build the probe of one endpoint into out: the plugin's health_request when
 * it has one (ABI 1.2), else GET base_url + path with no header. Returns 0,
 * or -1 with a message in err. A body the plugin allocated (body_owned) is
 * the caller's to free with the host's free. */
int sy_prober_build_request(const sy_policy_provider *prov, const sy_policy_endpoint *ep,
                            sy_http_request *out, char *err, size_t errlen);

#endif
