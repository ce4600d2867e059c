/* buf.c - growable byte buffer (see buf.h for the out-of-memory policy). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mock_oom(void)
{
    fputs("mock-upstream: out of memory\n", stderr);
    abort();
}

void mock_buf_reserve(mock_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) mock_oom();
    b->data = p;
    b->cap = cap;
}

void mock_buf_append(mock_buf *b, const void *p, size_t n)
{
    if (!n) return;
    mock_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mock_buf_puts(mock_buf *b, const char *s)
{
    mock_buf_append(b, s, strlen(s));
}

void mock_buf_printf(mock_buf *b, const char *fmt, ...)
{
    va_list ap;
    mock_buf_reserve(b, 128);
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= b->cap - b->len) {
        mock_buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void mock_buf_u64(mock_buf *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mock_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void mock_buf_json_string(mock_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mock_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            mock_buf_reserve(b, 2);
            b->data[b->len++] = (char)ch;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t k = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            k = 6;
        }
        mock_buf_append(b, esc, k);
    }
    mock_buf_reserve(b, 1);
    b->data[b->len++] = '"';
}

void mock_buf_free(mock_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
