/*
 * json_escape.h - the one JSON string escaper of the router: error
 * envelopes, SSE error events and the admin API all use it.
 *
 * Escapes '"' and '\\', writes control characters as \n, \r, \t or \u00XX,
 * and replaces bytes that are not valid UTF-8 with U+FFFD, so any input gives
 * valid JSON. Never splits an escape or a UTF-8 sequence when it runs out of
 * room: the output is cut at a character boundary and always NUL-terminated.
 */
#ifndef SY_JSON_ESCAPE_H
#define SY_JSON_ESCAPE_H

#include <stddef.h>

/* Escape src[0..n) into dst (cap >= 1). Returns the length written. */
size_t sy_json_escape(const char *src, size_t n, char *dst, size_t cap);

#endif
