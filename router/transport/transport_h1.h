/*
 * transport_h1.h - the built-in HTTP/1.1 client: the network transport for
 * plain http:// upstreams whose host is an IP address or `localhost` (a relay
 * on the same host or network, a sidecar, the mock upstream), when no proxy
 * is set in the environment. Everything else (https://, host names that need
 * resolving, proxies) goes through libcurl (transport_curl.h); the engine asks
 * accepts() for each attempt. `server.http_client: curl` turns it off.
 *
 * Why: libcurl costs more per transfer than the whole rest of the proxy (its
 * URL parse, connection-cache scan, header building and two poll() calls per
 * transfer; docs/benchmarks.md). This client keeps one worker's upstream
 * connections per host:port in a LIFO pool, each registered with the loop
 * once; a request is one sendmsg of its head and body on a reused
 * connection; answers are read into one scratch buffer per worker and handed
 * on in place, so an open stream holds no read buffer of its own.
 *
 * Rules: transport.h's. A request sent on a reused connection that the
 * server had closed (no answer byte came) is sent again once on a new one,
 * as libcurl does. Connection: close, HTTP/1.0 answers without keep-alive,
 * answers framed by the close, and bytes after an answer end the connection.
 */
#ifndef SY_TRANSPORT_H1_H
#define SY_TRANSPORT_H1_H

#include "transport.h"

struct event_base;

sy_transport *sy_transport_h1_new(struct event_base *base);

/* Would this client send to url (an endpoint's base URL, or a request's)?
 * http://, an IP address or localhost, no proxy in the environment: what
 * accepts() says, without a transport; for /admin/status. */
int sy_transport_h1_serves(const char *url);
/* Closes every connection; exchanges still running end without callbacks. */
void sy_transport_h1_free(sy_transport *t);

/* Open connections (busy and idle), for tests. */
size_t sy_transport_h1_connections(sy_transport *t);

#endif
