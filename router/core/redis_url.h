/*
 * redis_url.h - the Redis URL of `shared_state.url`, parsed.
 *
 *   redis://[[username]:password@]host[:port][/db]
 *   rediss://...                     (TLS)
 *
 * host is a name, an IPv4 address or [an IPv6 address]; port defaults to
 * 6379, db to 0. username and password may be percent-encoded (%40 for '@').
 * "redis://:secret@host" is a password without a username (Redis before 6,
 * or the default user), "redis://app:secret@host" an ACL user.
 *
 * rediss:// is Redis over TLS. Debian 12's hiredis (0.14) has no TLS of its
 * own, so the client reaches it through a relay (router/shared/tls_relay.h).
 *
 * Pure: no I/O, no allocation. Messages never quote the URL (it may hold a
 * password); sy_redis_url_shown gives the form that logs and /admin/status
 * may print.
 */
#ifndef SY_REDIS_URL_H
#define SY_REDIS_URL_H

#include <stddef.h>

typedef struct sy_redis_url {
    int tls;              /* rediss:// */
    char host[256];
    int port;             /* 1..65535 */
    char username[128];   /* "" when not given */
    char password[512];   /* "" when not given; never printed */
    int has_password;
    int db;               /* 0.. SY_REDIS_MAX_DB */
} sy_redis_url;

#define SY_REDIS_DEFAULT_PORT 6379
#define SY_REDIS_MAX_DB 100000

/* 0 and *out filled; -1 with a message in err (which never holds the
 * password) when text is not a URL this build can use. */
int sy_redis_url_parse(const char *text, sy_redis_url *out, char *err, size_t errlen);

/* "redis://app@cache.internal:6379/2": the URL without its password. */
void sy_redis_url_shown(const sy_redis_url *u, char *buf, size_t cap);

/* Wipe the password from *u (memory that held it is cleared). */
void sy_redis_url_wipe(sy_redis_url *u);

#endif
