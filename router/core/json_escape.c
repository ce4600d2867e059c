/* json_escape.c - the one JSON string escaper (see json_escape.h). */
#include "json_escape.h"

#include <string.h>

#include "utf8.h"

size_t sy_json_escape(const char *src, size_t n, char *dst, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t elen, used = 1;
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, elen = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2), elen = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2), elen = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2), elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15], elen = 6;
        } else if (c < 0x80) {
            esc[0] = (char)c, elen = 1;
        } else {
            size_t len = sy_utf8_len(s + i, n - i);
            if (len) {
                memcpy(esc, s + i, len), elen = len, used = len;
            } else {
                memcpy(esc, "\xef\xbf\xbd", 3), elen = 3; /* U+FFFD */
            }
        }
        if (o + elen >= cap) break;
        memcpy(dst + o, esc, elen);
        o += elen;
        i += used;
    }
    dst[o] = '\0';
    return o;
}
