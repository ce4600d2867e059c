/*
 * transport.h - the engine's second seam: one upstream exchange.
 *
 * The engine asks a transport to start an exchange for one attempt and hears
 * back through callbacks: the status line and headers, body bytes (which it
 * may pause), and the end. In `serve` the network transport is libcurl's
 * multi interface on the worker's loop (transport_curl.c) and the mock
 * provider's answers are a transport too (transport_local.c), so there is one
 * executor path; tests and `simulate` use a scripted transport.
 *
 * Rules every transport keeps:
 *   - no callback runs inside start(): the first comes from the loop;
 *   - after cancel() no callback runs;
 *   - on_done runs exactly once for an exchange that was not cancelled, and
 *     the exchange is freed right after it returns.
 */
#ifndef SY_TRANSPORT_H
#define SY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <switchyard/plugin.h>

typedef struct sy_transport sy_transport;
typedef struct sy_exchange_io sy_exchange_io; /* one exchange, owned by its transport */

/* on_data's return value to pause the exchange (resume with ops->resume). */
#define SY_IO_PAUSE ((size_t)-1)

typedef enum sy_io_error {
    SY_IO_OK = 0,
    SY_IO_CONNECT,   /* could not connect / resolve / TLS handshake */
    SY_IO_TIMEOUT,   /* a transport-level timeout (connect) */
    SY_IO_BROKEN,    /* the connection broke mid-answer */
    SY_IO_TOO_LARGE, /* on_data refused more bytes (answer over the limit) */
    SY_IO_OTHER,
} sy_io_error;

typedef struct sy_io_cbs {
    /* The status line and headers are in; called before any on_data. */
    void (*on_headers)(void *ctx, int status);
    /* Body bytes. Return n to go on, SY_IO_PAUSE to pause, 0 to abort
     * (the exchange then ends with SY_IO_TOO_LARGE). */
    size_t (*on_data)(void *ctx, const char *p, size_t n);
    /* The end. status: HTTP status (0 when none came). msg: short, free of
     * secrets, when err != SY_IO_OK. */
    void (*on_done)(void *ctx, sy_io_error err, int status, const char *msg);
} sy_io_cbs;

/* What one attempt (or one health probe) asks of a transport. */
typedef struct sy_io_request {
    const sy_plugin *plugin;        /* the provider's plugin */
    void *instance;                 /* its instance */
    const sy_endpoint *endpoint;
    /* The canonical request; NULL for a health probe (prober.h): then the
     * exchange is a GET of http->url with http's headers and no body, which
     * the network transport sends and the local one refuses at start. */
    const sy_request *req;
    const sy_http_request *http;    /* built by the plugin; NULL for local transports */
    int64_t connect_timeout_ms;     /* 0: none beyond the engine's own timers */
} sy_io_request;

typedef struct sy_transport_ops {
    /* Start; NULL with msg when it could not even start (counts as a connect
     * error). */
    sy_exchange_io *(*start)(sy_transport *t, const sy_io_request *r, const sy_io_cbs *cbs,
                             void *ctx, char *msg, size_t msglen);
    void (*resume)(sy_exchange_io *x);
    void (*cancel)(sy_exchange_io *x);
    /* A response header (case-insensitive), or NULL; valid until on_done returns. */
    const char *(*header)(sy_exchange_io *x, const char *name);
    /* Optional: token usage the transport knows without parsing the answer
     * (the mock provider's own count); 0 and *out filled, or -1. Callable
     * until on_done returns. NULL: never known. */
    int (*usage)(sy_exchange_io *x, sy_usage *out);
    /* Optional: can this transport reach url? NULL: any URL. The engine
     * offers each attempt to its fast transport first (engine.h). */
    int (*accepts)(sy_transport *t, const char *url);
} sy_transport_ops;

struct sy_transport {
    const sy_transport_ops *ops;
};

#endif
