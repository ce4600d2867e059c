/*
 * utf8.h - UTF-8 validation shared by the metrics exposition and the access
 * log (both must never emit invalid UTF-8, whatever a client sent).
 */
#ifndef SY_UTF8_H
#define SY_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (n >= 1 bytes left): 1 for ASCII,
 * 2..4 for a well-formed multi-byte sequence, 0 when invalid (overlong,
 * surrogate, beyond U+10FFFF, truncated, stray continuation byte). */
size_t sy_utf8_len(const unsigned char *p, size_t n);

/* How many bytes of s (at most max) end on a character boundary: for
 * messages that quote a client's string cut short ("%.*s"). */
int sy_utf8_prefix(const char *s, size_t max);

#endif
