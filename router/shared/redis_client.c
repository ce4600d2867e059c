/* redis_client.c - the asynchronous Redis connection (see redis_client.h). */
#include "redis_client.h"
#include "tls_relay.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "rng.h"

#define NS_PER_MS 1000000ull
#define WATCH_MS 50          /* how often deadlines and reconnects are looked at */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

enum { ST_DOWN, ST_CONNECTING, ST_UP };

/* A command sent and not yet answered: kept in sending order. */
typedef struct pending {
    struct pending *prev, *next;
    sy_redis *r;
    sy_redis_reply_fn fn; /* NULL: part of the handshake (AUTH, SELECT, PING) */
    void *ctx;
    uint64_t sent_ns;
} pending;

struct sy_redis {
    struct event_base *base;
    sy_redis_url url;
    char shown[600];
    uint64_t timeout_ns;
    redisAsyncContext *ac;   /* NULL while down */
    int state;               /* main thread */
    int handshake_left;      /* handshake replies still awaited */
    atomic_int up;           /* state == ST_UP, for any thread */
    pending list;            /* sentinel of the pending commands */
    uint64_t connect_started;
    uint64_t retry_at;
    int failures;            /* in a row, for the backoff */
    int64_t down_since;      /* wall seconds the outage began; 0 while up */
    struct event *watch;
    void (*listener)(void *ctx, int up);
    void *listener_ctx;
    pthread_mutex_t mu;      /* the status below, read by /admin/status */
    char last_error[256];
    int64_t since;
    uint64_t errors;
    int64_t note_logged_at;  /* main thread: the last sy_redis_note_error logged */
    sy_tls_relay *tls;       /* rediss://: hiredis talks to this relay's Unix socket */
};

/* ------------------------------------------------------------ helpers */

static void list_add(sy_redis *r, pending *p)
{
    p->prev = r->list.prev;
    p->next = &r->list;
    r->list.prev->next = p;
    r->list.prev = p;
}

static void list_del(pending *p)
{
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = p;
}

static void set_status(sy_redis *r, const char *error, int changed)
{
    pthread_mutex_lock(&r->mu);
    if (error) {
        snprintf(r->last_error, sizeof r->last_error, "%s", error);
        r->errors++;
    }
    if (changed) r->since = sy_wall_s();
    pthread_mutex_unlock(&r->mu);
    if (error) sy_metrics_inc_shared_state_errors();
}

static void notify(sy_redis *r, int up)
{
    sy_metrics_set_shared_state_up(up);
    if (r->listener) r->listener(r->listener_ctx, up);
}

/* Down: record why, plan the next try, and when drop is set free the
 * context ourselves (pending callbacks then get NULL). */
static void go_down(sy_redis *r, const char *why, int drop)
{
    /* Over TLS, hiredis only sees the relay's socket close: say why. */
    char tls_why[240];
    if (r->tls && sy_tls_relay_error(r->tls)[0]) {
        snprintf(tls_why, sizeof tls_why, "%.230s", sy_tls_relay_error(r->tls));
        why = tls_why;
    }
    int was = r->state;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->state = ST_DOWN;
    atomic_store(&r->up, 0);
    uint64_t delay = (uint64_t)BACKOFF_FIRST_MS << (r->failures < 6 ? r->failures : 6);
    if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
    delay = delay / 2 + sy_rng_below(delay / 2 + 1); /* jitter: instances do not retry in step */
    r->failures++;
    r->retry_at = sy_now_ns() + delay * NS_PER_MS;
    int first = r->down_since == 0;
    if (first) r->down_since = sy_wall_s();
    set_status(r, why, first);
    if (first)
        sy_log_warn("shared state: Redis at %s is away (%s): serving on the last state known; "
                    "reconnecting with backoff", r->shown, why);
    else
        sy_log_debug("shared state: reconnect to %s failed (%s); next try in %llu ms", r->shown,
                     why, (unsigned long long)delay);
    if (ac) {
        ac->data = NULL; /* its disconnect callback is ours to ignore now */
        if (drop) redisAsyncFree(ac);
    }
    if (was == ST_UP || first) notify(r, 0);
}

static void go_up(sy_redis *r)
{
    r->state = ST_UP;
    r->failures = 0;
    atomic_store(&r->up, 1);
    if (r->down_since) {
        int64_t away = sy_wall_s() - r->down_since;
        sy_log_info("shared state: connected to %s (after %lld s away)", r->shown, (long long)away);
    } else {
        sy_log_info("shared state: connected to %s", r->shown);
    }
    r->down_since = 0;
    set_status(r, NULL, 1);
    notify(r, 1);
}

/* ------------------------------------------------------- hiredis callbacks */

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    (void)ac;
    pending *p = privdata;
    sy_redis *r = p->r;
    redisReply *reply = reply_;
    list_del(p);
    if (p->fn) {
        p->fn(p->ctx, reply);
    } else if (r->state == ST_CONNECTING && r->ac) {
        /* The handshake: AUTH, SELECT or PING. */
        if (!reply) {
            /* the connection is going away: its callbacks say why */
        } else if (reply->type == REDIS_REPLY_ERROR) {
            char why[200];
            snprintf(why, sizeof why, "Redis refused the handshake (AUTH or SELECT): %.150s",
                     reply->str ? reply->str : "error");
            go_down(r, why, 1);
        } else if (--r->handshake_left == 0) {
            go_up(r);
        }
    }
    free(p);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    sy_redis *r = ac->data;
    if (!r || status == REDIS_OK) return; /* ready once the handshake is answered */
    char why[200];
    snprintf(why, sizeof why, "cannot connect: %.150s", ac->errstr[0] ? ac->errstr : "error");
    go_down(r, why, 0); /* hiredis frees the context after this call */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    sy_redis *r = ac->data;
    if (!r) return;
    char why[200];
    snprintf(why, sizeof why, "connection lost: %.150s",
             status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "error");
    go_down(r, why, 0);
}

/* ------------------------------------------------------------ connecting */

static int send_raw(sy_redis *r, sy_redis_reply_fn fn, void *ctx, int argc, const char **argv,
                    const size_t *lens)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->r = r;
    p->fn = fn;
    p->ctx = ctx;
    p->sent_ns = sy_now_ns();
    list_add(r, p);
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
        list_del(p);
        free(p);
        return -1;
    }
    return 0;
}

static void start_connect(sy_redis *r)
{
    redisAsyncContext *ac = r->tls ? redisAsyncConnectUnix(sy_tls_relay_path(r->tls))
                                   : redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        char why[200];
        snprintf(why, sizeof why, "cannot connect: %.150s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        go_down(r, why, 0);
        return;
    }
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        go_down(r, "cannot attach to the event loop", 0);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = ST_CONNECTING;
    r->connect_started = sy_now_ns();
    /* Queued now, sent once connected; "up" when the last one is answered. */
    r->handshake_left = 0;
    int rc = 0;
    if (r->url.has_password) {
        const char *argv[3] = {"AUTH", r->url.username, r->url.password};
        if (r->url.username[0]) rc |= send_raw(r, NULL, NULL, 3, argv, NULL);
        else {
            argv[1] = r->url.password;
            rc |= send_raw(r, NULL, NULL, 2, argv, NULL);
        }
        r->handshake_left++;
    }
    if (r->url.db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->url.db);
        const char *argv[2] = {"SELECT", db};
        rc |= send_raw(r, NULL, NULL, 2, argv, NULL);
        r->handshake_left++;
    }
    if (r->handshake_left == 0) {
        const char *argv[1] = {"PING"};
        rc |= send_raw(r, NULL, NULL, 1, argv, NULL);
        r->handshake_left++;
    }
    if (rc != 0) go_down(r, "out of memory", 1);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_redis *r = arg;
    uint64_t now = sy_now_ns();
    if (r->state == ST_DOWN) {
        if (now >= r->retry_at) start_connect(r);
        return;
    }
    if (r->state == ST_CONNECTING) {
        if (now - r->connect_started > r->timeout_ns) {
            char why[120];
            snprintf(why, sizeof why, "no connection within the timeout (%llu ms)",
                     (unsigned long long)(r->timeout_ns / NS_PER_MS));
            go_down(r, why, 1);
        }
        return;
    }
    pending *oldest = r->list.next;
    if (oldest != &r->list && now - oldest->sent_ns > r->timeout_ns) {
        char why[120];
        snprintf(why, sizeof why, "a command was not answered within the timeout (%llu ms)",
                 (unsigned long long)(r->timeout_ns / NS_PER_MS));
        go_down(r, why, 1);
    }
}

/* ------------------------------------------------------------- the API */

sy_redis *sy_redis_new(struct event_base *base, const sy_redis_url *url, int64_t timeout_ms)
{
    sy_redis *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->base = base;
    r->url = *url;
    sy_redis_url_shown(url, r->shown, sizeof r->shown);
    r->timeout_ns = (uint64_t)(timeout_ms > 0 ? timeout_ms : 200) * NS_PER_MS;
    r->list.prev = r->list.next = &r->list;
    pthread_mutex_init(&r->mu, NULL);
    r->since = sy_wall_s();
    if (url->tls) {
        char err[256];
        r->tls = sy_tls_relay_new(base, url->host, url->port, timeout_ms, err, sizeof err);
        if (!r->tls) {
            sy_log_error("shared state: rediss://: %s", err);
            sy_redis_free(r);
            return NULL;
        }
    }
    struct timeval tv = {0, WATCH_MS * 1000};
    r->watch = event_new(base, -1, EV_PERSIST, on_watch, r);
    if (!r->watch || event_add(r->watch, &tv) != 0) {
        sy_redis_free(r);
        return NULL;
    }
    sy_metrics_set_shared_state_up(0);
    start_connect(r);
    return r;
}

void sy_redis_free(sy_redis *r)
{
    if (!r) return;
    if (r->watch) event_free(r->watch);
    r->state = ST_DOWN;
    atomic_store(&r->up, 0);
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac); /* pending callbacks run with NULL */
    }
    /* Anything left (never sent) is dropped the same way. */
    while (r->list.next != &r->list) {
        pending *p = r->list.next;
        list_del(p);
        if (p->fn) p->fn(p->ctx, NULL);
        free(p);
    }
    sy_tls_relay_free(r->tls);
    sy_redis_url_wipe(&r->url);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void sy_redis_set_listener(sy_redis *r, void (*fn)(void *ctx, int up), void *ctx)
{
    r->listener = fn;
    r->listener_ctx = ctx;
}

int sy_redis_up(const sy_redis *r)
{
    return r && atomic_load(&((sy_redis *)r)->up);
}

int sy_redis_command(sy_redis *r, sy_redis_reply_fn fn, void *ctx, int argc, const char **argv,
                     const size_t *lens)
{
    if (!r || r->state != ST_UP || !r->ac || !fn) return -1;
    return send_raw(r, fn, ctx, argc, argv, lens);
}

int sy_redis_commandv(sy_redis *r, sy_redis_reply_fn fn, void *ctx, int argc, const char **argv)
{
    return sy_redis_command(r, fn, ctx, argc, argv, NULL);
}

void sy_redis_note_error(sy_redis *r, const char *what)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    int same = !strcmp(r->last_error, what);
    pthread_mutex_unlock(&r->mu);
    set_status(r, what, 0);
    /* Once per kind of error and minute: a script refused every tick must
     * not fill the log. */
    int64_t now = sy_wall_s();
    if (!same || now - r->note_logged_at >= 60) {
        r->note_logged_at = now;
        sy_log_warn("shared state: %s", what);
    }
}

void sy_redis_status(sy_redis *r, cJSON *obj)
{
    pthread_mutex_lock(&r->mu);
    int up = atomic_load(&r->up);
    cJSON_AddStringToObject(obj, "url", r->shown);
    cJSON_AddBoolToObject(obj, "connected", up);
    cJSON_AddNumberToObject(obj, "since", (double)r->since);
    if (r->last_error[0]) cJSON_AddStringToObject(obj, "last_error", r->last_error);
    else cJSON_AddNullToObject(obj, "last_error");
    cJSON_AddNumberToObject(obj, "errors", (double)r->errors);
    pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------ blocking */

static int sync_ok(redisContext *c, redisReply *reply, const char *what, char *err, size_t errlen)
{
    if (!reply) {
        snprintf(err, errlen, "%s: %.150s", what, c->errstr[0] ? c->errstr : "no answer");
        return -1;
    }
    int ok = reply->type != REDIS_REPLY_ERROR;
    if (!ok) snprintf(err, errlen, "%s refused: %.150s", what, reply->str ? reply->str : "error");
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

redisContext *sy_redis_sync_connect(const sy_redis_url *url, int64_t timeout_ms, char *err,
                                    size_t errlen)
{
    if (url->tls) {
        /* The TLS relay lives on the main loop, which does not run yet: a
         * rediss:// fleet is joined at the first tick instead (~200 ms). */
        snprintf(err, errlen, "rediss://: the fleet's state is read once the loop runs");
        return NULL;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect: %.150s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (url->has_password) {
        const char *argv[3] = {"AUTH", url->username, url->password};
        redisReply *rep = url->username[0] ? redisCommandArgv(c, 3, argv, NULL)
                                           : (argv[1] = url->password, redisCommandArgv(c, 2, argv, NULL));
        if (sync_ok(c, rep, "AUTH", err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }
    }
    if (url->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", url->db);
        const char *argv[2] = {"SELECT", db};
        if (sync_ok(c, redisCommandArgv(c, 2, argv, NULL), "SELECT", err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}
