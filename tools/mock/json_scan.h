/*
 * json_scan.h - a validating, allocation-free JSON scan of a request body.
 *
 * The mock's hot path needs only a few top-level fields of a request, but must
 * still refuse malformed JSON. This walks the whole document once (RFC 8259
 * grammar, nesting limited to MOCK_JSON_MAX_DEPTH, nothing but whitespace after
 * the value) and picks up the fields on the way; cJSON would allocate a node per
 * value. Strings are not decoded: model comes back as its raw JSON literal, which
 * is valid JSON to echo as it is.
 */
#ifndef MOCK_JSON_SCAN_H
#define MOCK_JSON_SCAN_H

#include <stddef.h>

#define MOCK_JSON_MAX_DEPTH 512

typedef struct mock_json_info {
    int is_object;          /* the document is an object */
    const char *model;      /* raw literal of a top-level string "model", quotes included */
    size_t model_len;
    int stream;             /* top-level "stream": true */
    int include_usage;      /* top-level "stream_options": {"include_usage": true} */
    size_t input_count;     /* top-level "input": elements of an array of non-numbers, else 1 */
    int escaped_key;        /* a top-level key had an escape: the fields above may be
                             * incomplete, the caller should use a full parser */
} mock_json_info;

/* 0 when s[0..n) is one valid JSON document, -1 otherwise. */
int mock_json_scan(const char *s, size_t n, mock_json_info *info);

#endif
