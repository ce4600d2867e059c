/*
 * header_store.h - an answer's headers kept for look-up by name: one growing
 * buffer of name\0value\0 pairs, bounded (a header that does not fit is not
 * kept; the answer goes on). Both upstream clients keep their answers'
 * headers here (transport_h1.c through h1_response.c, upstream.c), so
 * transport.h's header() reads the same way whichever client fetched them,
 * and both refuse a head over the same limit with the same words.
 */
#ifndef SY_HEADER_STORE_H
#define SY_HEADER_STORE_H

#include <stddef.h>

#define SY_HDR_STORE_MAX 8192u /* header bytes kept per answer */
/* An answer whose head (status line and headers) is longer than this is
 * refused by either client, with SY_HDR_TOO_LARGE as the reason. */
#define SY_HDR_HEAD_MAX (64u * 1024u)
#define SY_HDR_TOO_LARGE "upstream header too large (more than 64 KiB)"

typedef struct sy_hdr_store {
    char *buf;
    size_t len, cap;
} sy_hdr_store;

/* Keep one header (name and value as bytes, not terminated). The buffer
 * starts at `first` bytes and grows by doubling up to SY_HDR_STORE_MAX. */
void sy_hdr_store_add(sy_hdr_store *s, const char *name, size_t nl, const char *value, size_t vl,
                      size_t first);
/* The first header named so (case-insensitive), or NULL. */
const char *sy_hdr_store_get(const sy_hdr_store *s, const char *name);
/* Forget the headers, keep the memory. */
static inline void sy_hdr_store_clear(sy_hdr_store *s) { s->len = 0; }
void sy_hdr_store_free(sy_hdr_store *s);

#endif
