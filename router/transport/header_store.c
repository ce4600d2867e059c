/* header_store.c - an answer's headers by name (see header_store.h). */
#include "header_store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sy_hdr_store_add(sy_hdr_store *s, const char *name, size_t nl, const char *value, size_t vl,
                      size_t first)
{
    size_t need = s->len + nl + vl + 2;
    if (need > SY_HDR_STORE_MAX) return;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : first;
        while (cap < need) cap *= 2;
        if (cap > SY_HDR_STORE_MAX) cap = SY_HDR_STORE_MAX;
        char *nb = realloc(s->buf, cap);
        if (!nb) return;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, name, nl);
    s->buf[s->len + nl] = '\0';
    s->len += nl + 1;
    memcpy(s->buf + s->len, value, vl);
    s->buf[s->len + vl] = '\0';
    s->len += vl + 1;
}

const char *sy_hdr_store_get(const sy_hdr_store *s, const char *name)
{
    size_t off = 0;
    while (off < s->len) {
        const char *k = s->buf + off;
        size_t kl = strlen(k);
        const char *v = k + kl + 1;
        /* Most names differ in their first letter: no call for those. */
        if ((k[0] | 0x20) == (name[0] | 0x20) && strcasecmp(k, name) == 0) return v;
        off += kl + 1 + strlen(v) + 1;
    }
    return NULL;
}

void sy_hdr_store_free(sy_hdr_store *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}
