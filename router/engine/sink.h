/*
 * sink.h - the engine's third seam: the client side of one request.
 *
 * In `serve` the sink is the HTTP connection (front/); in `simulate` a
 * counter; in tests a recorder. The engine answers whole, or begins a stream,
 * writes what one upstream read produced in one write, and ends it.
 */
#ifndef SY_SINK_H
#define SY_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sy_sink sy_sink;

typedef struct sy_sink_ops {
    /* A whole answer. extra_headers: "Name: value\r\n" lines or NULL. */
    void (*respond)(sy_sink *s, int status, const char *content_type, const char *extra_headers,
                    const char *body, size_t len);
    void (*stream_begin)(sy_sink *s, int status, const char *content_type,
                         const char *extra_headers);
    void (*stream_write)(sy_sink *s, const char *data, size_t len);
    void (*stream_end)(sy_sink *s);
    /* Bytes queued for the client and not yet written (backpressure). */
    size_t (*queued)(sy_sink *s);
    /* Monotonic ns of the first answer byte queued; 0 when none. */
    uint64_t (*first_byte_ns)(sy_sink *s);
    /* HTTP status of the answer begun (0 when none). */
    int (*status)(sy_sink *s);
} sy_sink_ops;

struct sy_sink {
    const sy_sink_ops *ops;
};

/* Above this many queued bytes a stream pauses its upstream; it resumes when
 * the sink reports it drained (sy_engine_drained). */
#define SY_SINK_HIGH_WATER (256u * 1024u)

#endif
