/* Unit tests for the Redis URL of shared_state.url (redis_url.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "redis_url.h"

static sy_redis_url parse_ok(const char *text)
{
    sy_redis_url u;
    char err[300] = "";
    cr_assert_eq(sy_redis_url_parse(text, &u, err, sizeof err), 0, "%s: %s", text, err);
    return u;
}

static void parse_bad(const char *text, const char *want, const char *secret)
{
    sy_redis_url u;
    char err[300] = "";
    cr_assert_eq(sy_redis_url_parse(text, &u, err, sizeof err), -1, "%s was accepted", text);
    cr_assert(strstr(err, want), "%s: message '%s' lacks '%s'", text, err, want);
    if (secret) cr_assert_null(strstr(err, secret), "%s: the message shows the password", text);
    cr_assert_eq(u.password[0], '\0', "%s: a refused URL keeps no password", text);
}

Test(redis_url, plain_host_defaults)
{
    sy_redis_url u = parse_ok("redis://cache.internal");
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    cr_assert_eq(u.has_password, 0);
    cr_assert_eq(u.tls, 0);
    u = parse_ok("redis://127.0.0.1:6380/");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 0);
}

Test(redis_url, rediss_is_tls)
{
    sy_redis_url u = parse_ok("rediss://:hunter2-secret@cache.internal:6380/4");
    cr_assert_eq(u.tls, 1);
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 4);
    char shown[600];
    sy_redis_url_shown(&u, shown, sizeof shown);
    cr_assert_str_eq(shown, "rediss://cache.internal:6380/4");
}

Test(redis_url, password_user_db)
{
    sy_redis_url u = parse_ok("redis://:s3cret@cache:7000/5");
    cr_assert_str_eq(u.host, "cache");
    cr_assert_eq(u.port, 7000);
    cr_assert_eq(u.db, 5);
    cr_assert(u.has_password);
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_str_eq(u.username, "");
    u = parse_ok("redis://app:p%40ss%3Aword@10.0.0.7/2");
    cr_assert_str_eq(u.username, "app");
    cr_assert_str_eq(u.password, "p@ss:word", "percent-decoded");
    cr_assert_eq(u.db, 2);
    /* An '@' in the password, written as is: the last '@' ends the user part. */
    u = parse_ok("redis://:a@b@cache");
    cr_assert_str_eq(u.password, "a@b");
    cr_assert_str_eq(u.host, "cache");
    u = parse_ok("redis://:x@[::1]:6390/1");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 6390);
}

Test(redis_url, shown_without_password)
{
    char buf[600];
    sy_redis_url u = parse_ok("redis://app:hunter2-secret@cache:6380/3");
    sy_redis_url_shown(&u, buf, sizeof buf);
    cr_assert_str_eq(buf, "redis://app@cache:6380/3");
    u = parse_ok("redis://:hunter2-secret@[::1]");
    sy_redis_url_shown(&u, buf, sizeof buf);
    cr_assert_str_eq(buf, "redis://[::1]:6379/0");
    sy_redis_url_wipe(&u);
    cr_assert_eq(u.password[0], '\0');
    cr_assert_eq(u.has_password, 0);
}

Test(redis_url, refused)
{
    parse_bad("http://cache", "redis://", NULL);
    parse_bad("redis://", "no host", NULL);
    parse_bad("redis://:pw@", "no host", "pw@");
    parse_bad("redis://cache:0", "port", NULL);
    parse_bad("redis://cache:65536", "port", NULL);
    parse_bad("redis://cache:12ab", "port", NULL);
    parse_bad("redis://cache/db1", "database", NULL);
    parse_bad("redis://cache/100001", "database", NULL);
    parse_bad("redis://hunter2-secret@cache", "no ':'", "hunter2-secret");
    parse_bad("redis://:hunter2-secret@cache?ssl=true", "query", "hunter2-secret");
    parse_bad("redis://:bad%zzpw@cache", "password", "bad%zzpw");
    parse_bad("redis://:nul%00pw@cache", "password", NULL);
    parse_bad("redis://ca che", "host", NULL);
    parse_bad("redis://[::1", "IPv6", NULL);
    parse_bad("redis://cache/0/x@y", "'@'", NULL);
}

Test(redis_url, long_values)
{
    char text[2000], pw[600];
    memset(pw, 'p', sizeof pw - 1);
    pw[sizeof pw - 1] = '\0';
    snprintf(text, sizeof text, "redis://:%s@cache", pw);
    parse_bad(text, "too long", pw + 500);
    char host[300];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(text, sizeof text, "redis://%s", host);
    parse_bad(text, "too long", NULL);
}
