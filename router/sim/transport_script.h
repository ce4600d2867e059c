/*
 * transport_script.h - a scripted upstream (transport.h) on a loop's timers,
 * for the engine's unit tests and `switchyard simulate`.
 *
 * Each (provider, endpoint) has a queue of outcomes: an answer (status,
 * headers, a whole body or a list of stream chunks with delays, ending
 * cleanly, cut or silent), a connect error, a hang (connected, never
 * answers), or a black hole (the connect never completes: the attempt's
 * connect_timeout fires). Every exchange started takes the next outcome of
 * its endpoint's queue and is recorded (provider, endpoint, model, start and
 * end time, how it ended), so a test can assert what was tried and when.
 *
 * It keeps transport.h's rules: no callback inside start (everything comes
 * from the loop's timers); none after cancel (also a cancel from inside a
 * callback); on_done exactly once for an exchange not cancelled, and the
 * exchange is freed right after on_done returns. Misuse by the caller (a
 * resume or cancel inside on_done) is counted, not crashed on: see
 * sy_script_misuse.
 */
#ifndef SY_TRANSPORT_SCRIPT_H
#define SY_TRANSPORT_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "transport.h"

typedef enum sy_script_kind {
    SY_SCRIPT_ANSWER = 0,    /* the status line after latency_ms, then the body */
    SY_SCRIPT_CONNECT_ERROR, /* SY_IO_CONNECT after latency_ms */
    SY_SCRIPT_HANG,          /* connected, and nothing ever comes (until cancelled) */
    SY_SCRIPT_BLACKHOLE,     /* the connect never completes: SY_IO_TIMEOUT after the
                              * attempt's connect_timeout_ms (never, when it has none) */
} sy_script_kind;

/* How an answer ends after its body or its last chunk. */
typedef enum sy_script_end {
    SY_SCRIPT_END_OK = 0,  /* complete: on_done(SY_IO_OK) */
    SY_SCRIPT_END_CUT,     /* the connection breaks: on_done(SY_IO_BROKEN) */
    SY_SCRIPT_END_SILENT,  /* nothing more comes (until cancelled) */
} sy_script_end;

/* One upstream read. */
typedef struct sy_script_chunk {
    int64_t delay_ms;      /* after the previous chunk (the first: after the status line) */
    const char *data;      /* NUL-terminated; NULL ends the list */
} sy_script_chunk;

#define SY_SCRIPT_MAX_CHUNKS 32
#define SY_SCRIPT_ALWAYS (-1) /* `times`: serve every exchange from now on */

typedef struct sy_script_outcome {
    sy_script_kind kind;
    int status;
    /* Response headers, "Name: value" lines separated by '\n' (NULL: none).
     * Without a content-type the answer has text/event-stream when the
     * request is a stream and the status 2xx, else application/json. */
    const char *headers;
    /* A whole body, handed over in one read right after the status line;
     * ignored when chunks are given. NULL: empty. */
    const char *body;
    int64_t latency_ms;    /* start to the status line (connect error: to the error) */
    /* Reads after the status line, each with its delay; the list ends at the
     * first NULL data (or at SY_SCRIPT_MAX_CHUNKS). */
    sy_script_chunk chunks[SY_SCRIPT_MAX_CHUNKS];
    sy_script_end end;
    /* Exchanges this outcome serves before the next in the queue: 0 or 1 once,
     * n > 1 n times, SY_SCRIPT_ALWAYS for ever. */
    int times;
} sy_script_outcome;

/* One exchange as it happened. */
typedef struct sy_script_record {
    char provider[64];
    char endpoint[64];
    char model[128];       /* the model the attempt asked for */
    int stream;
    int unscripted;        /* no outcome was queued: it failed as a connect error */
    uint64_t start_ns;
    uint64_t end_ns;       /* on_done or cancel; 0 while in flight */
    int cancelled;         /* ended by the caller's cancel */
    sy_io_error err;       /* what on_done reported (when not cancelled) */
    int status;            /* the status it answered with (0: none) */
} sy_script_record;

sy_transport *sy_script_new(sy_loop *loop);
/* Free the transport; exchanges still in flight are dropped without callbacks. */
void sy_script_free(sy_transport *t);

/* Queue an outcome for provider/endpoint (copied). endpoint NULL: any endpoint
 * of provider; both NULL: any exchange. An exchange uses the most specific
 * queue that still has an outcome. Returns 0, or -1 when out of memory. */
int sy_script_push(sy_transport *t, const char *provider, const char *endpoint,
                   const sy_script_outcome *o);

/* Consulted when no queue has an outcome for an exchange (for generated
 * scenarios): fill *out and return 0, or return -1 for "unscripted". The
 * strings in *out are copied as soon as it returns, so they need only stay
 * valid until the picker is called again (a static buffer will do). */
typedef int (*sy_script_pick_fn)(void *ctx, const sy_io_request *r, uint64_t now_ns,
                                 sy_script_outcome *out);
void sy_script_set_picker(sy_transport *t, sy_script_pick_fn fn, void *ctx);

/* Keep a record of every exchange (on, the default) or of none (`simulate`:
 * millions of exchanges; the sy_script_count* and record queries then see
 * only what was recorded while it was on). */
void sy_script_set_recording(sy_transport *t, int on);

/* The exchanges started so far, in order. A record pointer stays valid until
 * the next exchange starts. */
size_t sy_script_count(const sy_transport *t);
const sy_script_record *sy_script_record_at(const sy_transport *t, size_t i);
/* Exchanges started for provider/endpoint (NULL: any). */
size_t sy_script_count_for(const sy_transport *t, const char *provider, const char *endpoint);
/* Exchanges started and not yet ended (on_done or cancel). */
size_t sy_script_live(const sy_transport *t);
/* Outcomes still queued for provider/endpoint exactly (NULL as in push);
 * each counts once, whatever its `times`. */
size_t sy_script_pending(const sy_transport *t, const char *provider, const char *endpoint);
/* Calls that broke transport.h's rules from the caller's side (a cancel or
 * resume on an exchange inside its own on_done). */
size_t sy_script_misuse(const sy_transport *t);

#endif
