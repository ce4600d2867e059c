/*
 * buf.h - growable byte buffer for mock-upstream.
 *
 * mock-upstream is a test tool whose inputs are bounded by its own limits
 * (request head and body sizes), so running out of memory is treated as fatal:
 * every append aborts with a message instead of returning an error.
 */
#ifndef MOCK_BUF_H
#define MOCK_BUF_H

#include <stddef.h>

typedef struct mock_buf {
    char *data;
    size_t len;
    size_t cap;
} mock_buf;

/* Abort with a message; called when malloc fails. */
_Noreturn void mock_oom(void);

/* Make room for at least extra more bytes after len. */
void mock_buf_reserve(mock_buf *b, size_t extra);
void mock_buf_append(mock_buf *b, const void *p, size_t n);
void mock_buf_puts(mock_buf *b, const char *s);
void mock_buf_printf(mock_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mock_buf_u64(mock_buf *b, unsigned long long v);
/* Append s[0..n) as a JSON string literal, quotes included. */
void mock_buf_json_string(mock_buf *b, const char *s, size_t n);
void mock_buf_free(mock_buf *b);

#endif
