/* backoff.c - backoff with jitter and Retry-After (see backoff.h). */
#include "backoff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"

int64_t sy_backoff_delay_ms(const sy_retry_conf *rc, int retry)
{
    if (retry < 1) retry = 1;
    int64_t cap = rc->backoff_base_ms;
    for (int i = 1; i < retry && cap < rc->backoff_max_ms; i++) cap *= 2;
    if (cap > rc->backoff_max_ms) cap = rc->backoff_max_ms;
    if (cap <= 0) return 0;
    switch (rc->jitter) {
    case SY_JITTER_NONE: return cap;
    case SY_JITTER_EQUAL: return cap / 2 + (int64_t)sy_rng_below((uint64_t)(cap / 2) + 1);
    case SY_JITTER_FULL:
    default: return (int64_t)sy_rng_below((uint64_t)cap + 1);
    }
}

static int parse_uint(const char *s, int64_t *out)
{
    while (*s == ' ') s++;
    if (!isdigit((unsigned char)*s)) return -1;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*s - '0');
    }
    while (*s == ' ') s++;
    if (*s) return -1;
    *out = v;
    return 0;
}

int64_t sy_retry_after_ms(const char *retry_after, const char *retry_after_ms, int64_t now_wall_s)
{
    int64_t v;
    if (retry_after_ms && parse_uint(retry_after_ms, &v) == 0) return v;
    if (!retry_after) return -1;
    if (parse_uint(retry_after, &v) == 0) return v > INT64_MAX / 1000 ? INT64_MAX : v * 1000;
    /* HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate). */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) return -1;
    int64_t when = (int64_t)timegm(&tm);
    int64_t delta = when - now_wall_s;
    return delta > 0 ? delta * 1000 : 0;
}

int64_t sy_retry_delay_ms(const sy_retry_conf *rc, int retry, int64_t retry_after_ms)
{
    int64_t d = sy_backoff_delay_ms(rc, retry);
    if (rc->retry_after_honor && retry_after_ms >= 0) {
        if (retry_after_ms > rc->retry_after_max_ms) return SY_RETRY_NO_WAIT;
        if (retry_after_ms > d) d = retry_after_ms;
    }
    return d;
}
