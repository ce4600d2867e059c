/*
 * h1_response.h - an incremental HTTP/1.1 response reader for the built-in
 * upstream client (transport_h1.c): the head (status line and headers, 1xx
 * answers skipped), then the body's framing (Content-Length, chunked, or up
 * to the connection's close), handing back the body's bytes in place.
 *
 * No allocation but the header store (name\0value\0..., grown as headers
 * come, up to 8 KiB: a header that does not fit is not kept); no socket;
 * strict limits. Used as:
 *
 *   head:  n = sy_h1_head(r, buf, len)   0: more bytes needed;
 *                                        <0: malformed (r->error);
 *                                        >0: that many bytes were the head
 *          (a 1xx head resets r; read the next one);
 *   body:  d = sy_h1_body_next(r, p, n, &framing)
 *          skips `framing` bytes of chunk framing (already eaten), then the
 *          next d bytes at p + framing are body data; d == 0 with
 *          !r->complete: more bytes needed. Hand the d bytes on, then
 *          sy_h1_body_took(r, d) (or take nothing and call next again later
 *          on p + framing, the data's start: a paused reader);
 *   EOF:   sy_h1_eof(r) says whether the connection's close ends the body.
 */
#ifndef SY_H1_RESPONSE_H
#define SY_H1_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "header_store.h"

#define SY_H1_HEAD_MAX SY_HDR_HEAD_MAX /* more head bytes than this: refused */

typedef enum sy_h1_framing {
    SY_H1_NONE,    /* no body (204, 304, Content-Length: 0) */
    SY_H1_LENGTH,  /* Content-Length bytes */
    SY_H1_CHUNKED, /* Transfer-Encoding: chunked */
    SY_H1_CLOSE,   /* until the server closes the connection */
} sy_h1_framing;

typedef struct sy_h1_resp {
    int status;         /* the final status, once the head is in */
    int head_done;      /* the final (non-1xx) head has been read */
    int complete;       /* the whole body has been read */
    int keep_alive;     /* the connection may serve another request after this one */
    sy_h1_framing framing;
    const char *error;  /* why the answer is malformed (static text) */
    /* private */
    uint64_t left;      /* body bytes left: of the whole body (LENGTH) or the chunk */
    int chunk_state;
    size_t scanned;     /* head bytes already searched for its end */
    sy_hdr_store hdrs;
} sy_h1_resp;

void sy_h1_init(sy_h1_resp *r);
/* Forget the answer (for the next one on the same connection); keeps the
 * header store's memory. */
void sy_h1_reset(sy_h1_resp *r);
void sy_h1_free(sy_h1_resp *r);

/* Read the head at the start of buf (len bytes so far; the same start each
 * call, more bytes each time). See above for the return value. */
ssize_t sy_h1_head(sy_h1_resp *r, const char *buf, size_t len);

/* A response header's value (case-insensitive name), or NULL. */
const char *sy_h1_header(const sy_h1_resp *r, const char *name);

/* Body framing and data: see above. Returns -1 on malformed chunk framing
 * (r->error). */
ssize_t sy_h1_body_next(sy_h1_resp *r, const char *p, size_t n, size_t *framing);
void sy_h1_body_took(sy_h1_resp *r, size_t d);

/* The connection closed: 1 if that is the body's proper end (SY_H1_CLOSE
 * framing, or already complete), 0 if the answer was cut. */
int sy_h1_eof(sy_h1_resp *r);

#endif
