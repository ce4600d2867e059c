/*
 * record_sink.h - a sink (sink.h) that records what the engine sent the
 * client: a whole answer (status, content type, headers, body) or a stream
 * (status, headers, every write, the end), with the loop's time of the first
 * byte and of the end. Calls that break the sink's contract (a second answer,
 * a write outside a stream, anything after the end) are counted in misuse.
 */
#ifndef SY_TEST_RECORD_SINK_H
#define SY_TEST_RECORD_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "sink.h"

#define REC_MAX_WRITES 256

typedef struct rec_sink {
    sy_sink base;
    sy_loop *loop;
    int responds, stream_begins, stream_ends; /* calls of each */
    int status;             /* 0 until an answer begins */
    char content_type[64];
    char *headers;          /* the extra header lines given (NULL: none) */
    char *body;             /* respond's body, or every stream write joined; NUL-terminated */
    size_t body_len;
    size_t writes;          /* stream_write calls */
    size_t write_len[REC_MAX_WRITES]; /* the length of each (the first REC_MAX_WRITES) */
    size_t queued;          /* what queued() reports: set it to test backpressure */
    uint64_t first_byte_ns, end_ns;
    int misuse;
} rec_sink;

void rec_sink_init(rec_sink *s, sy_loop *loop);
void rec_sink_fini(rec_sink *s);

/* The value of header name (case-insensitive) among the recorded headers,
 * copied into buf; NULL when absent. */
const char *rec_sink_header(const rec_sink *s, const char *name, char *buf, size_t cap);

/* 1 when the client got its answer (whole, or a stream that ended). */
int rec_sink_done(const rec_sink *s);

#endif
