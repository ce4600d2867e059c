/*
 * sse.h - splits a server-sent-event byte stream into whole events.
 *
 * Upstream chunks may cut an event anywhere; the splitter keeps the partial
 * tail (bounded by max_event) and hands out complete events: the raw bytes
 * including the blank line that ends them, and the joined "data:" payload.
 *
 * Line ends are "\r\n", "\n" or a bare "\r", as the SSE spec allows; a blank
 * line ends an event. A "\r" that is the last byte received ends its line at
 * once (a CR-only stream's events are never held back waiting for the next
 * byte); when a "\n" follows it in the next feed, that "\n" is the rest of the
 * same line end and is handed out as the first raw byte of the next event.
 * The raw bytes of all events, in order, are exactly the bytes fed.
 */
#ifndef SY_SSE_H
#define SY_SSE_H

#include <stddef.h>

typedef struct sy_sse_splitter {
    char *buf;          /* pending bytes of the event being received */
    size_t len, cap;
    size_t scanned;     /* bytes of buf already scanned for line ends */
    size_t max_event;   /* an event larger than this is an error */
    char *data;         /* scratch for the joined data payload */
    size_t data_cap;
    unsigned char at_line_start; /* the next byte begins a line */
    unsigned char skip_lf;       /* the last byte was a "\r" line end: a "\n" now belongs to it */
} sy_sse_splitter;

/* Called once per complete event. raw is the event as received (with its
 * terminating blank line); data is the payload of its data: lines joined by
 * '\n' (NULL when the event has none, e.g. a comment). Return 0 to go on,
 * non-zero to stop feeding. */
typedef int (*sy_sse_event_fn)(void *ctx, const char *raw, size_t raw_len, const char *data,
                               size_t data_len);

void sy_sse_init(sy_sse_splitter *s, size_t max_event);
void sy_sse_free(sy_sse_splitter *s);
/* Feed bytes. Returns 0, the callback's non-zero value, or -1 when an event
 * exceeds max_event (or memory ran out). */
int sy_sse_feed(sy_sse_splitter *s, const char *p, size_t n, sy_sse_event_fn fn, void *ctx);
/* Bytes of an unfinished event still held. */
static inline size_t sy_sse_pending(const sy_sse_splitter *s) { return s->len; }

#endif
