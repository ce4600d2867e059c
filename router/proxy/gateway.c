/* gateway.c - the front's handler and each worker's engine environment (see gateway.h). */
#include "gateway.h"
#include "runtime.h"

#include <stdlib.h>

#include "transport_curl.h"
#include "transport_h1.h"
#include "transport_local.h"
#include "upstream.h"


void sy_gateway_worker_free(void *ctx, void *state)
{
    (void)ctx;
    sy_gateway_worker *gw = state;
    if (!gw) return;
    /* The transports first: they hand exchanges back to the upstream. */
    if (gw->env.net) sy_transport_curl_free(gw->env.net);
    if (gw->env.local) sy_transport_local_free(gw->env.local);
    sy_transport_h1_free(gw->env.fast);
    if (gw->up) sy_upstream_free(gw->up);
    if (gw->env.loop) sy_loop_event_free(gw->env.loop);
    sy_runtime_cache_release(&gw->policy);
    free(gw);
}

void *sy_gateway_worker_init(void *ctx, sy_worker *w, struct event_base *base)
{
    (void)w;
    sy_gateway *g = ctx;
    sy_gateway_worker *gw = calloc(1, sizeof *gw);
    if (!gw) return NULL;
    gw->env.router = g->router;
    gw->env.loop = sy_loop_event_new(base);
    gw->up = sy_upstream_new(base);
    gw->env.net = gw->up ? sy_transport_curl_new(gw->up) : NULL;
    gw->env.local = gw->env.loop ? sy_transport_local_new(gw->env.loop) : NULL;
    gw->env.fast = sy_transport_h1_new(base);
    if (!gw->env.loop || !gw->up || !gw->env.net || !gw->env.local || !gw->env.fast) {
        sy_gateway_worker_free(ctx, gw);
        return NULL;
    }
    return gw;
}
