/*
 * json_scan.h - a strict JSON validator that also picks a few top-level
 * fields out of an object, without building a tree or allocating.
 *
 * The router parses every request body for three things (model, stream, the
 * sticky user field). Building a cJSON tree for that cost more CPU than the
 * rest of the request path; this scanner validates the whole body (RFC 8259:
 * no trailing commas, no comments, no garbage after the value, strings with
 * valid escapes and no raw control characters, nesting at most
 * SY_JSON_MAX_DEPTH) and records where the wanted top-level values are.
 */
#ifndef SY_JSON_SCAN_H
#define SY_JSON_SCAN_H

#include <stddef.h>
#include <switchyard/plugin.h>

#define SY_JSON_MAX_DEPTH 128

/* sy_json_type and sy_json_field are part of the plugin ABI (plugins get this
 * scanner through the host table). */

/* Validate p[0..n) as one JSON object and fill in the wanted fields. Keys are
 * compared as a parser that decodes them sees them ("m\u006fdel" is
 * "model"); the first occurrence of a duplicated key wins, as with cJSON.
 * Returns 0, or -1 with *why pointing at a static message. */
int sy_json_scan_object(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                        const char **why);

/* The same for a request body whose wanted fields steer routing, where the
 * upstream must read the body as the router did. Refuses, with -2, a valid
 * body that is ambiguous about a wanted key: the key appears twice (cJSON
 * keeps the first, many parsers the last), or some key is the wanted one
 * followed by \u0000 and more ("model\u0000x"), which a C parser cuts to
 * "model". Then *which is the index of that field and *why a static message
 * to follow the key's name ("appears more than once, ..."). Returns 0, -1
 * for JSON that is not valid (*why set, *which = n_fields), or -2. */
int sy_json_scan_request(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                         const char **why, size_t *which);

/* sy_json_scan_request that also notes keys the router does not route by
 * (the members a plugin edits): noted[i] gets the first top-level value of
 * its key, like a field, and noted_count[i] how many times the key appears
 * at the top level; a repeat is counted, never refused. Keys compare
 * decoded, and only exactly ("key\u0000x" is not "key"). noted may be NULL
 * (n_noted 0): then this is sy_json_scan_request. */
int sy_json_scan_request_noting(const char *p, size_t n, sy_json_field *fields, size_t n_fields,
                                sy_json_field *noted, unsigned *noted_count, size_t n_noted,
                                const char **why, size_t *which);

/* The raw JSON text of a found field's value, a string's quotes included:
 * its start in *start and its length; 0 (and NULL) when the field is absent. */
size_t sy_json_field_raw(const sy_json_field *f, const char **start);

/* Decode a string's escapes into out (NUL-terminated, UTF-8). Returns the
 * length, or -1 when it does not fit or has a bad escape. */
long sy_json_unescape(const char *s, size_t len, char *out, size_t cap);

#endif
