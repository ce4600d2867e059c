/*
 * tls_relay.h - Redis over TLS (rediss://) for a hiredis without TLS.
 *
 * Debian 12's hiredis (0.14) speaks only plain TCP and Unix sockets. For a
 * rediss:// URL the client connects to a Unix socket of this relay instead,
 * in a private folder (mode 0700), and the relay carries each connection to
 * Redis over TLS (OpenSSL through libevent's bufferevent_openssl), on the
 * same main-thread loop: no thread, no request waits on it.
 *
 * The server's certificate is verified against the system's trust store
 * (OpenSSL's default paths: SSL_CERT_FILE / SSL_CERT_DIR override them) and
 * its name against the URL's host (SNI sent). A failed handshake closes the
 * client's side: hiredis sees a lost connection, and the client's reconnect
 * and backoff do the rest; the relay keeps the last TLS error for the status.
 */
#ifndef SY_TLS_RELAY_H
#define SY_TLS_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct sy_tls_relay sy_tls_relay;

/* Listen on a new private Unix socket for host:port. NULL with err when it
 * cannot (no TLS context, no socket). */
sy_tls_relay *sy_tls_relay_new(struct event_base *base, const char *host, int port,
                               int64_t connect_timeout_ms, char *err, size_t errlen);
/* The socket's path, for redisAsyncConnectUnix. */
const char *sy_tls_relay_path(const sy_tls_relay *t);
/* The last TLS or connect error ("" when none). */
const char *sy_tls_relay_error(const sy_tls_relay *t);
/* Closes the listener and every relayed connection; removes the socket. */
void sy_tls_relay_free(sy_tls_relay *t);

#endif
