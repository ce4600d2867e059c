/* redis_url.c - parse redis:// URLs (see redis_url.h). */
#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (cap bytes with the NUL). 0, or -1 when
 * too long, a bad escape, or a decoded NUL. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return -1;
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

/* Digits only, value lo..hi. */
static int number(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int parse(const char *text, sy_redis_url *out, char *err, size_t errlen)
{
    out->port = SY_REDIS_DEFAULT_PORT;
    const char *p;
    if (!strncmp(text, "redis://", 8)) {
        p = text + 8;
    } else if (!strncmp(text, "rediss://", 9)) {
        out->tls = 1;
        p = text + 9;
    } else {
        return fail(err, errlen,
                    "want a Redis URL: redis://[[user]:password@]host[:port][/db] (rediss:// "
                    "for TLS)");
    }
    const char *end = p + strlen(p);
    /* The authority ends at the first '/' (after the userinfo's last '@'). */
    const char *at = NULL;
    for (const char *q = p; q < end && *q != '/'; q++)
        if (*q == '@') at = q;
    if (!at) {
        /* An '@' after a '/' belongs to nothing we know. */
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (slash && memchr(slash, '@', (size_t)(end - slash)))
            return fail(err, errlen, "the URL has an '@' after the host: percent-encode it (%40)");
    }
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (decode(p, ulen, out->username, sizeof out->username) != 0)
            return fail(err, errlen, "the URL's user name is too long or badly percent-encoded");
        if (colon) {
            if (decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) != 0) {
                return fail(err, errlen,
                            "the URL's password is too long (511 bytes at most) or badly "
                            "percent-encoded");
            }
            out->has_password = 1;
        } else {
            /* "redis://word@host": clients disagree whether word is a user or
             * a password; a password must never be printed as a user name. */
            memset(out->username, 0, sizeof out->username);
            return fail(err, errlen,
                        "the URL's user part has no ':': write redis://:PASSWORD@host for a "
                        "password, or redis://USER:PASSWORD@host for an ACL user");
        }
        p = at + 1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (!he) return fail(err, errlen, "the URL's IPv6 address has no closing ']'");
        size_t n = (size_t)(he - p - 1);
        if (n == 0 || n >= sizeof out->host) return fail(err, errlen, "the URL's host is empty or too long");
        for (size_t i = 0; i < n; i++) {
            char c = p[1 + i];
            if (!(hexval(c) >= 0 || c == ':' || c == '.'))
                return fail(err, errlen, "the URL's IPv6 address is not valid");
        }
        memcpy(out->host, p + 1, n);
        p = he + 1;
    } else {
        while (p < end && *p != ':' && *p != '/' && *p != '?' && *p != '#') p++;
        size_t n = (size_t)(p - hs);
        if (n == 0) return fail(err, errlen, "the URL has no host");
        if (n >= sizeof out->host) return fail(err, errlen, "the URL's host is too long");
        for (size_t i = 0; i < n; i++)
            if (!host_char_ok(hs[i])) return fail(err, errlen, "the URL's host has a character a host name cannot have");
        memcpy(out->host, hs, n);
    }
    if (p < end && *p == ':') {
        const char *ps = ++p;
        while (p < end && *p != '/' && *p != '?' && *p != '#') p++;
        if (number(ps, (size_t)(p - ps), 1, 65535, &out->port) != 0)
            return fail(err, errlen, "the URL's port must be a number from 1 to 65535");
    }
    if (p < end && *p == '/') {
        const char *ds = ++p;
        while (p < end && *p != '?' && *p != '#') p++;
        if (p > ds && number(ds, (size_t)(p - ds), 0, SY_REDIS_MAX_DB, &out->db) != 0)
            return fail(err, errlen, "the URL's database (after the '/') must be a number, e.g. /0");
    }
    if (p < end) {
        return fail(err, errlen,
                    "the URL has a query or fragment ('?', '#'); this build reads none: write "
                    "redis://[[user]:password@]host[:port][/db]");
    }
    return 0;
}

int sy_redis_url_parse(const char *text, sy_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (parse(text, out, err, errlen) == 0) return 0;
    sy_redis_url_wipe(out); /* a refused URL keeps no password */
    return -1;
}

void sy_redis_url_shown(const sy_redis_url *u, char *buf, size_t cap)
{
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(buf, cap, "%s://%s%s%s%s%s:%d/%d", u->tls ? "rediss" : "redis", u->username,
             u->username[0] ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
}

void sy_redis_url_wipe(sy_redis_url *u)
{
    volatile char *p = u->password;
    for (size_t i = 0; i < sizeof u->password; i++) p[i] = 0;
    u->has_password = 0;
}
