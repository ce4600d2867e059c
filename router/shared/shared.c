/* shared.c - several instances sharing state through Redis (see shared.h). */
#include "shared.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "clock.h"
#include "fleet_budget.h"
#include "fleet_limit.h"
#include "fleet_responses.h"
#include "fleet_rollout.h"
#include "log.h"
#include "rng.h"
#include "response_map.h"
#include "shared_impl.h"
#include "router.h"
#include "store.h"

struct sy_shared {
    sy_shared_core core;
    char *url_shown;
    sy_fleet_rollout *rollout;
    sy_fleet_limit *limit;
    sy_fleet_budget *budget;
    sy_fleet_responses *responses;
    char *policy_url;     /* to tell a reload that changed shared_state */
    char *policy_prefix;
    char *preload_id;     /* the rollout record read at start: id, version, text */
    long long preload_version;
    char *preload_record;
    struct sy_budget *b;
    int presence_busy;    /* the instances' presence on its way (main thread) */
    int instances;        /* instances seen in the last few seconds, this one included */
    /* /admin/status runs on a worker: it reads the client under status_mu,
     * which stop holds while the client goes. */
    pthread_mutex_t status_mu;
    struct sy_router *router; /* where the status hook is set (attach) */
};

static void status_hook(void *ctx, cJSON *root);

/* ------------------------------------------------------------ helpers */

char *sy_shared_key(const sy_shared_core *c, const char *fmt, ...)
{
    char rest[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof rest) return NULL;
    size_t len = strlen(c->prefix) + (size_t)n + 1;
    char *k = malloc(len);
    if (k) snprintf(k, len, "%s%s", c->prefix, rest);
    return k;
}

int sy_shared_up(const sy_shared_core *c)
{
    return atomic_load_explicit(&((sy_shared_core *)c)->up, memory_order_acquire);
}

int sy_reply_int(const redisReply *r, long long *out)
{
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || !r->str) return -1;
    char *end;
    long long v = strtoll(r->str, &end, 10);
    if (end == r->str || *end) return -1;
    *out = v;
    return 0;
}

const char *sy_reply_str(const redisReply *r, size_t *len)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || !r->str)
        return NULL;
    if (len) *len = (size_t)r->len;
    return r->str;
}

/* ------------------------------------------------------------- the API */

sy_shared *sy_shared_new(const sy_policy *p, char *err, size_t errlen)
{
    const sy_shared_state_conf *ss = &p->shared_state;
    sy_shared *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[300];
    if (!ss->url || sy_redis_url_parse(ss->url, &s->core.url, why, sizeof why) != 0) {
        snprintf(err, errlen, "shared_state.url: %s", ss->url ? why : "not set");
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->status_mu, NULL);
    s->core.prefix = strdup(ss->prefix ? ss->prefix : "switchyard:");
    s->core.timeout_ms = ss->timeout_ms > 0 ? ss->timeout_ms : 200;
    s->url_shown = strdup(ss->url_shown ? ss->url_shown : "");
    s->policy_url = strdup(ss->url);
    s->policy_prefix = strdup(s->core.prefix ? s->core.prefix : "");
    if (!s->core.prefix || !s->url_shown || !s->policy_url || !s->policy_prefix) {
        snprintf(err, errlen, "out of memory");
        sy_shared_free(s);
        return NULL;
    }
    char host[64] = "host";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(s->core.instance, sizeof s->core.instance, "%s:%ld:%04x", host, (long)getpid(),
             (unsigned)sy_rng_below(65536));
    sy_log_info("shared state: Redis at %s, keys under \"%s\", this instance is %s", s->url_shown,
                s->core.prefix, s->core.instance);
    return s;
}

void sy_shared_free(sy_shared *s)
{
    if (!s) return;
    if (s->router) sy_router_set_status_hook(s->router, NULL, NULL);
    sy_shared_stop(s);
    sy_fleet_rollout_free(s->rollout);
    sy_fleet_limit_free(s->limit);
    sy_fleet_budget_free(s->budget);
    sy_fleet_responses_free(s->responses);
    free(s->preload_id);
    free(s->preload_record);
    sy_redis_url_wipe(&s->core.url);
    if (s->policy_url) memset(s->policy_url, 0, strlen(s->policy_url));
    free(s->policy_url);
    free(s->policy_prefix);
    free(s->url_shown);
    free(s->core.prefix);
    pthread_mutex_destroy(&s->status_mu);
    free(s);
}

/* The record for the policy's rollout id and the month's spend, blocking. */
void sy_shared_preload(sy_shared *s, const sy_policy *p, struct sy_store *store)
{
    char err[300];
    redisContext *c = sy_redis_sync_connect(&s->core.url, s->core.timeout_ms, err, sizeof err);
    if (!c) {
        sy_log_warn("shared state: Redis at %s did not answer at start (%s): starting from this "
                    "instance's own state; it joins the fleet once Redis answers",
                    s->url_shown, err);
        return;
    }
    const sy_migration_conf *m = &p->migration;
    if (m->enabled && m->rollout_id) {
        char *key = sy_shared_key(&s->core, "rollout:%s", m->rollout_id);
        const char *argv[] = {"HMGET", key, "version", "record"};
        redisReply *r = key ? redisCommandArgv(c, 4, argv, NULL) : NULL;
        long long version;
        const char *rec;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            sy_reply_int(r->element[0], &version) == 0 &&
            (rec = sy_reply_str(r->element[1], NULL))) {
            char *inner;
            uint64_t w, st;
            if (sy_fleet_record_parse(rec, &inner, &w, &st) == 0 &&
                sy_store_put(store, "rollout", inner) == 0) {
                free(s->preload_id);
                free(s->preload_record);
                s->preload_id = strdup(m->rollout_id);
                s->preload_record = strdup(rec);
                s->preload_version = version;
                sy_log_info("shared state: the fleet's rollout %s (version %lld) read from Redis",
                            m->rollout_id, version);
            }
            free(inner);
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            sy_log_warn("shared state: Redis refused reading the rollout: %.150s", r->str);
        }
        if (r) freeReplyObject(r);
        free(key);
    }
    sy_fleet_budget_preload(&s->core, c, store);
    redisFree(c);
}

/* The offset that puts the monotonic clock on the wall clock's scale, so
 * window slots of different instances cover the same spans of time. */
static uint64_t wall_offset_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wall = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    uint64_t mono = sy_now_ns();
    return wall > mono ? wall - mono : 0;
}

int sy_shared_attach(sy_shared *s, const sy_policy *p, struct sy_router *router,
                     struct sy_rollout *rollout, struct sy_budget *budget,
                     struct sy_response_map *responses)
{
    if (rollout) {
        s->rollout = sy_fleet_rollout_new(&s->core, rollout, wall_offset_ns());
        if (!s->rollout) return -1;
        const char *id = s->preload_id ? s->preload_id
                                       : p->migration.enabled ? p->migration.rollout_id : NULL;
        if (id)
            sy_fleet_rollout_preloaded(s->rollout, id, s->preload_id ? s->preload_version : -1,
                                       s->preload_id ? s->preload_record : NULL);
    }
    if (router) {
        s->router = router;
        sy_router_set_status_hook(router, status_hook, s);
        s->limit = sy_fleet_limit_new(&s->core, router);
        if (!s->limit) return -1;
        sy_fleet_limit_configure(s->limit, &p->rate_limit);
    }
    if (budget) {
        s->budget = sy_fleet_budget_new(&s->core, budget);
        if (!s->budget) return -1;
    }
    if (responses) {
        s->responses = sy_fleet_responses_new(&s->core, responses, (size_t)p->responses.map_size);
        if (!s->responses) return -1;
    }
    return 0;
}

static void on_redis(void *ctx, int up)
{
    sy_shared *s = ctx;
    atomic_store_explicit(&s->core.up, up, memory_order_release);
    if (s->rollout) sy_fleet_rollout_redis_state(s->rollout, up);
}

void sy_shared_start(sy_shared *s, struct event_base *base)
{
    if (s->core.redis) return;
    s->core.redis = sy_redis_new(base, &s->core.url, s->core.timeout_ms);
    if (!s->core.redis) {
        sy_log_error("shared state: out of memory starting the Redis client; this instance "
                     "runs on its own");
        return;
    }
    sy_redis_set_listener(s->core.redis, on_redis, s);
    if (s->limit) sy_fleet_limit_start(s->limit, base);
}

void sy_shared_stop(sy_shared *s)
{
    if (s->limit) sy_fleet_limit_stop(s->limit);
    atomic_store(&s->core.up, 0); /* workers read this, never the client */
    /* /admin/status reads the client under status_mu: not while it goes. */
    pthread_mutex_lock(&s->status_mu);
    sy_redis *r = s->core.redis;
    s->core.redis = NULL;
    pthread_mutex_unlock(&s->status_mu);
    sy_redis_free(r); /* pending callbacks get NULL (the parts above are still alive) */
}

/* Presence: how many instances are there (for the rate limit while Redis
 * is away, and the status). KEYS[1] instances; ARGV: this instance, the
 * expiry (ms). */
static const char PRESENCE_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))\n"
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)\n"
    "return redis.call('ZCARD', KEYS[1])\n";

static void on_presence(void *ctx, redisReply *reply)
{
    sy_shared *s = ctx;
    s->presence_busy = 0;
    long long n;
    if (!reply || sy_reply_int(reply, &n) != 0 || n < 1) return;
    s->instances = (int)n;
    if (s->limit) sy_fleet_limit_set_instances(s->limit, (int)n);
}

void sy_shared_tick(sy_shared *s)
{
    if (!sy_shared_up(&s->core)) return;
    if (!s->presence_busy) {
        char *key = sy_shared_key(&s->core, "instances");
        const char *argv[] = {"EVAL", PRESENCE_LUA, "1", key, s->core.instance, "3000"};
        if (key && sy_redis_commandv(s->core.redis, on_presence, s, 6, argv) == 0)
            s->presence_busy = 1;
        free(key);
    }
    if (s->rollout) sy_fleet_rollout_tick(s->rollout);
    if (s->budget) sy_fleet_budget_tick(s->budget);
    if (s->responses) sy_fleet_responses_tick(s->responses);
}

void sy_shared_apply_policy(sy_shared *s, const sy_policy *p)
{
    const sy_shared_state_conf *ss = &p->shared_state;
    if (!ss->enabled || !ss->url || strcmp(ss->url, s->policy_url) != 0 ||
        strcmp(ss->prefix ? ss->prefix : "", s->policy_prefix) != 0)
        sy_log_warn("shared_state changed in the policy: not applied, a restart is needed (still "
                    "%s, keys under \"%s\")", s->url_shown, s->core.prefix);
    if (s->limit) sy_fleet_limit_configure(s->limit, &p->rate_limit);
    if (s->responses) sy_fleet_responses_configure(s->responses, (size_t)p->responses.map_size);
}

/* "shared_state" in /admin/status (router.h's status hook). */
static void status_hook(void *ctx, cJSON *root)
{
    sy_shared *s = ctx;
    pthread_mutex_lock(&s->status_mu);
    cJSON *o = cJSON_AddObjectToObject(root, "shared_state");
    if (o) {
        if (s->core.redis) {
            sy_redis_status(s->core.redis, o);
        } else {
            cJSON_AddStringToObject(o, "url", s->url_shown);
            cJSON_AddBoolToObject(o, "connected", 0);
        }
        cJSON_AddStringToObject(o, "prefix", s->core.prefix);
        cJSON_AddStringToObject(o, "instance", s->core.instance);
        if (s->instances > 0) cJSON_AddNumberToObject(o, "instances", s->instances);
        if (s->rollout) sy_fleet_rollout_status(s->rollout, o);
        if (s->limit) cJSON_AddNumberToObject(o, "rate_limit_pool", (double)sy_fleet_limit_pool(s->limit));
    }
    pthread_mutex_unlock(&s->status_mu);
}
