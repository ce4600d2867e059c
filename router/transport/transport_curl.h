/*
 * transport_curl.h - the network transport: upstream exchanges over libcurl's
 * multi interface on a worker's event loop (upstream.h does the curl work:
 * connection reuse, pooled handles, idle sockets kept registered).
 *
 * Timeouts: the connect timeout is curl's; first-byte, deadline and stream
 * idle timeouts are the engine's own timers.
 */
#ifndef SY_TRANSPORT_CURL_H
#define SY_TRANSPORT_CURL_H

#include "transport.h"

struct sy_upstream;
/* up stays owned by the caller and must outlive the transport. */
sy_transport *sy_transport_curl_new(struct sy_upstream *up);
void sy_transport_curl_free(sy_transport *t);

#endif
