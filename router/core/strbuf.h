/*
 * strbuf.h - a string assembled by hand in a fixed buffer.
 *
 * For the few strings built on every request (the answer's head, the
 * x-switchyard-* headers, the request id, the upstream request's
 * Content-Length): snprintf's format parsing cost about 6.6k instructions
 * per request there (callgrind, bench/profile.sh), more than routing does.
 * Appends stop at the end of the buffer and remember that they did; the
 * text always stays NUL-terminated.
 */
#ifndef SY_STRBUF_H
#define SY_STRBUF_H

#include <stdint.h>
#include <string.h>

typedef struct sy_strbuf {
    char *b;
    size_t cap;      /* bytes of b, the NUL included; at least 1 */
    size_t n;        /* text so far, without the NUL */
    int overflow;    /* 1 once something did not fit */
} sy_strbuf;

static inline sy_strbuf sy_sb(char *b, size_t cap)
{
    b[0] = '\0';
    return (sy_strbuf){b, cap, 0, 0};
}

static inline void sy_sb_put(sy_strbuf *s, const char *p, size_t len)
{
    size_t room = s->cap - 1 - s->n;
    if (len > room) {
        len = room;
        s->overflow = 1;
    }
    memcpy(s->b + s->n, p, len);
    s->n += len;
    s->b[s->n] = '\0';
}

#define SY_SB_LIT(s, lit) sy_sb_put((s), (lit), sizeof(lit) - 1)

static inline void sy_sb_str(sy_strbuf *s, const char *p) { sy_sb_put(s, p, strlen(p)); }

/* v in decimal. */
static inline void sy_sb_u64(sy_strbuf *s, uint64_t v)
{
    char d[20];
    size_t i = sizeof d;
    do d[--i] = (char)('0' + v % 10); while (v /= 10);
    sy_sb_put(s, d + i, sizeof d - i);
}

/* v as 16 lower-case hex digits, leading zeros kept. */
static inline void sy_sb_hex64(sy_strbuf *s, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char d[16];
    for (int i = 15; i >= 0; i--, v >>= 4) d[i] = hex[v & 15u];
    sy_sb_put(s, d, sizeof d);
}

#endif
