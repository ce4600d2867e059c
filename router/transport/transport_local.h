/*
 * transport_local.h - the transport for plugins that answer themselves
 * (local_reply: the mock provider, dry runs). The plugin's reply is played
 * back on the loop's timers as an upstream would send it: the status after
 * delay_ms (streams: the first event after ttfb_ms, the rest spread evenly up
 * to delay_ms), body bytes, a cut when the reply asks for one. So the engine
 * has one path for every provider.
 */
#ifndef SY_TRANSPORT_LOCAL_H
#define SY_TRANSPORT_LOCAL_H

#include "loop.h"
#include "transport.h"

sy_transport *sy_transport_local_new(sy_loop *loop);
void sy_transport_local_free(sy_transport *t);

#endif
