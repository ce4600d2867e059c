/* fleet_rollout.c - one rollout for every instance (see fleet_rollout.h). */
#include "fleet_rollout.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_window.h"
#include "log.h"
#include "metrics.h"

#define NS_PER_MS 1000000ull
#define WINDOW_TTL_MS 2000 /* an instance that stopped publishing drops out after this */

/* The compare-and-set write. KEYS[1] rollout:ID; ARGV: the version the
 * change was made on, the record, its state, and "cas" or "rollback" (a
 * rollback replaces anything but a rollback). {1, version} when written,
 * {0, version, record} when the fleet's record stays. */
static const char PUSH_LUA[] =
    "local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')\n"
    "if v ~= tonumber(ARGV[1]) then\n"
    "  if ARGV[4] ~= 'rollback' or redis.call('HGET', KEYS[1], 'state') == 'rolled_back' then\n"
    "    return {0, v, redis.call('HGET', KEYS[1], 'record')}\n"
    "  end\n"
    "end\n"
    "v = v + 1\n"
    "redis.call('HSET', KEYS[1], 'version', v, 'record', ARGV[2], 'state', ARGV[3])\n"
    "return {1, v}\n";

/* Publish this instance's windows and read the others'. KEYS[1]
 * windows:ID; ARGV: the window keys' prefix, this instance, its blob, the
 * expiry (ms). Returns {instance, blob, ...} of the others seen recently. */
static const char PUBLISH_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl = tonumber(ARGV[4])\n"
    "redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3], 'PX', ttl)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)\n"
    "redis.call('PEXPIRE', KEYS[1], ttl * 10)\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  if id ~= ARGV[2] then\n"
    "    local b = redis.call('GET', ARGV[1] .. id)\n"
    "    if b then out[#out + 1] = id; out[#out + 1] = b end\n"
    "  end\n"
    "end\n"
    "return out\n";

typedef struct remote {
    sy_window w[2];
} remote;

/* A change made here, waiting to be written or on its way. */
typedef struct change {
    char *record;        /* the fleet record; NULL: none */
    int rolled_back;     /* its state: written in "rollback wins" mode */
    int proposal;        /* a promotion: applied here only once written */
    char count[16];      /* a rollback to count when written (reason kind), or "" */
    int admin;           /* an operator's action (a lost one is worth a warning) */
} change;

struct sy_fleet_rollout {
    sy_shared_core *core;
    sy_rollout *ro;
    pthread_mutex_t mu;  /* everything below; taken after the rollout's lock, never before */
    char *id;            /* the rollout id the keys are for; NULL: no rollout */
    change pending;      /* made here, not yet sent */
    change inflight;     /* sent, not yet answered */
    int pushing, polling, publishing;
    long long known;     /* version of the record applied here; -1: none known */
    uint64_t known_hash; /* and its text's hash: a Redis that lost its data counts again
                          * from 1, so a version alone may name another record */
    remote *remotes;
    size_t n_remotes;
    uint64_t width_ns;   /* this instance's slot width at its last publish */
    sy_window *scratch;  /* [2]: the export buffer (main thread) */
};

/* ------------------------------------------------------------ records */

static uint64_t text_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

char *sy_fleet_record_make(const char *rollout, uint64_t watch_since, uint64_t step_since,
                           const char *by)
{
    cJSON *inner = cJSON_Parse(rollout);
    cJSON *j = cJSON_CreateObject();
    char *text = NULL;
    if (inner && j && cJSON_AddItemToObject(j, "rollout", inner)) {
        inner = NULL;
        cJSON_AddNumberToObject(j, "watch_since_ms", (double)(watch_since / NS_PER_MS));
        cJSON_AddNumberToObject(j, "step_since_ms", (double)(step_since / NS_PER_MS));
        cJSON_AddStringToObject(j, "by", by);
        text = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(inner);
    cJSON_Delete(j);
    return text;
}

int sy_fleet_record_parse(const char *record, char **rollout, uint64_t *watch_since,
                          uint64_t *step_since)
{
    *rollout = NULL;
    cJSON *j = cJSON_Parse(record);
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(j, "rollout");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "watch_since_ms");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step_since_ms");
    if (cJSON_IsObject(inner)) *rollout = cJSON_PrintUnformatted(inner);
    *watch_since = cJSON_IsNumber(w) && w->valuedouble > 0 ? (uint64_t)w->valuedouble * NS_PER_MS : 0;
    *step_since = cJSON_IsNumber(s) && s->valuedouble > 0 ? (uint64_t)s->valuedouble * NS_PER_MS : 0;
    cJSON_Delete(j);
    return *rollout ? 0 : -1;
}

static void change_clear(change *c)
{
    free(c->record);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------- hooks (rollout_live.h) */

static void remotes_clear(sy_fleet_rollout *f)
{
    free(f->remotes);
    f->remotes = NULL;
    f->n_remotes = 0;
}

/* Under f->mu: the rollout's id changed (a new rollout id in the policy). */
static void follow_id(sy_fleet_rollout *f, const char *id)
{
    if (f->id && id && !strcmp(f->id, id)) return;
    free(f->id);
    f->id = id ? strdup(id) : NULL;
    f->known = -1;
    remotes_clear(f);
}

static void hook_collect(void *ctx, int arm, uint64_t now, uint64_t since, sy_window_sum *out)
{
    sy_fleet_rollout *f = ctx;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_remotes; i++)
        if (f->remotes[i].w[arm].width_ns == f->width_ns)
            sy_window_collect(&f->remotes[i].w[arm], now, since, out);
    pthread_mutex_unlock(&f->mu);
}

static char *record_of(sy_fleet_rollout *f, const sy_rollout_ctl *c)
{
    char *inner = sy_ro_encode(c);
    char *rec = inner ? sy_fleet_record_make(inner, c->watch_since, c->step_since, f->core->instance)
                      : NULL;
    free(inner);
    return rec;
}

static void hook_changed(void *ctx, const sy_rollout_ctl *c, const sy_ro_change *ch)
{
    sy_fleet_rollout *f = ctx;
    char *rec = record_of(f, c);
    pthread_mutex_lock(&f->mu);
    follow_id(f, c->id);
    if (!rec) {
        sy_log_error("rollout: out of memory: this change does not reach the fleet");
    } else {
        char count[16];
        snprintf(count, sizeof count, "%s", f->pending.count);
        change_clear(&f->pending);
        f->pending.record = rec;
        f->pending.rolled_back = c->state == SY_RO_ROLLED_BACK;
        f->pending.admin = !strcmp(c->reason.kind, "admin");
        /* A rollback not yet written is counted with whatever follows it. */
        snprintf(f->pending.count, sizeof f->pending.count, "%s",
                 ch->rollback ? c->reason.kind : count);
    }
    pthread_mutex_unlock(&f->mu);
}

static void hook_promote(void *ctx, const sy_rollout_ctl *c, const sy_ro_change *ch, char *hold,
                         size_t cap)
{
    sy_fleet_rollout *f = ctx;
    if (!sy_shared_up(f->core)) {
        snprintf(hold, cap, "next step %.4g%% is due, but waits: the shared state (Redis) is "
                 "away, and no promotion happens without it", ch->to);
        return;
    }
    char *rec = record_of(f, c);
    pthread_mutex_lock(&f->mu);
    if (f->pending.record || (f->pushing && !f->inflight.proposal)) {
        snprintf(hold, cap, "next step %.4g%% is due, and waits for this instance's last change "
                 "to reach the fleet", ch->to);
        free(rec);
    } else if (f->pushing) {
        snprintf(hold, cap, "promotion to %.4g%% proposed to the fleet", ch->to);
        free(rec);
    } else if (rec) {
        f->pending.record = rec;
        f->pending.proposal = 1;
        snprintf(hold, cap, "promotion to %.4g%% proposed to the fleet", ch->to);
    } else {
        snprintf(hold, cap, "next step %.4g%% is due (out of memory proposing it)", ch->to);
    }
    pthread_mutex_unlock(&f->mu);
}

static int hook_online(void *ctx)
{
    sy_fleet_rollout *f = ctx;
    return sy_shared_up(f->core);
}

static int hook_busy(void *ctx)
{
    sy_fleet_rollout *f = ctx;
    pthread_mutex_lock(&f->mu);
    int busy = (f->pending.record && !f->pending.proposal) || (f->pushing && !f->inflight.proposal);
    pthread_mutex_unlock(&f->mu);
    return busy;
}

/* ------------------------------------------------------------- adopt */

/* Apply a fleet record here. 0 when applied. */
static int adopt(sy_fleet_rollout *f, const char *record)
{
    char *inner;
    uint64_t watch, step;
    if (sy_fleet_record_parse(record, &inner, &watch, &step) != 0) {
        sy_log_warn("rollout: the fleet's record in Redis is not one switchyard wrote; ignored");
        return -1;
    }
    int rc = sy_rollout_adopt(f->ro, inner, watch, step);
    free(inner);
    return rc;
}

/* ------------------------------------------------------------ replies */

static void on_push(void *ctx, redisReply *reply)
{
    sy_fleet_rollout *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->pushing = 0;
    change sent = f->inflight;
    memset(&f->inflight, 0, sizeof f->inflight);
    long long ok = -1, version = 0;
    int shaped = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
                 sy_reply_int(reply->element[0], &ok) == 0 &&
                 sy_reply_int(reply->element[1], &version) == 0;
    if (!shaped) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(f->core->redis, "Redis refused the rollout's write script");
        /* Not written: try again at the next tick, unless a newer change waits. */
        if (!f->pending.record) {
            f->pending = sent;
        } else {
            if (!f->pending.count[0]) memcpy(f->pending.count, sent.count, sizeof sent.count);
            change_clear(&sent);
        }
        pthread_mutex_unlock(&f->mu);
        return;
    }
    const char *theirs = ok == 1 ? NULL : reply->elements >= 3 ? sy_reply_str(reply->element[2], NULL) : NULL;
    f->known = version;
    f->known_hash = text_hash(ok == 1 ? sent.record : theirs);
    pthread_mutex_unlock(&f->mu);
    if (ok == 1) {
        if (sent.count[0]) {
            sy_metrics_inc_rollbacks(sent.count);
            sy_log_info("rollout: this instance's rollback (%s) is the fleet's (version %lld)",
                        sent.count, version);
        }
        if (sent.proposal) adopt(f, sent.record); /* the promotion took */
    } else {
        if (sent.count[0] && sent.rolled_back)
            sy_log_info("rollout: the fleet had already rolled back (version %lld); not counted "
                        "again here", version);
        else if (sent.proposal)
            sy_log_info("rollout: another change reached the fleet first (version %lld); this "
                        "instance's promotion is dropped", version);
        else if (sent.admin)
            sy_log_warn("rollout: another change reached the fleet first (version %lld); the "
                        "fleet's state replaces this instance's admin action", version);
        else
            sy_log_info("rollout: the fleet's state (version %lld) replaces this instance's own",
                        version);
        if (theirs) adopt(f, theirs);
    }
    change_clear(&sent);
}

/* Redis holds no record: fill it from this instance's state (a first start,
 * or a Redis that came back empty). */
static void reseed(sy_fleet_rollout *f)
{
    char *inner;
    uint64_t watch, step;
    if (sy_rollout_snapshot(f->ro, &inner, &watch, &step) != 0) return;
    char *rec = sy_fleet_record_make(inner, watch, step, f->core->instance);
    cJSON *j = cJSON_Parse(inner);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
    int rolled_back = cJSON_IsString(st) && !strcmp(st->valuestring, "rolled_back");
    cJSON_Delete(j);
    free(inner);
    if (!rec) return;
    pthread_mutex_lock(&f->mu);
    if (!f->pending.record && !f->pushing) {
        f->pending.record = rec;
        f->pending.rolled_back = rolled_back;
        f->known = 0;
        rec = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    free(rec);
}

static void on_poll(void *ctx, redisReply *reply)
{
    sy_fleet_rollout *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->polling = 0;
    long long known = f->known;
    uint64_t known_hash = f->known_hash;
    pthread_mutex_unlock(&f->mu);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(f->core->redis, "Redis refused reading the rollout");
        return;
    }
    long long version;
    const char *record = sy_reply_str(reply->element[1], NULL);
    if (sy_reply_int(reply->element[0], &version) != 0 || !record) {
        reseed(f);
        return;
    }
    uint64_t h = text_hash(record);
    if (version == known && h == known_hash) return;
    if (adopt(f, record) == 0) {
        pthread_mutex_lock(&f->mu);
        f->known = version;
        f->known_hash = h;
        pthread_mutex_unlock(&f->mu);
    }
}

static void on_publish(void *ctx, redisReply *reply)
{
    sy_fleet_rollout *f = ctx;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(f->core->redis, "Redis refused the windows' script");
        pthread_mutex_lock(&f->mu);
        f->publishing = 0;
        pthread_mutex_unlock(&f->mu);
        return;
    }
    size_t n = reply->elements / 2, got = 0;
    remote *rs = n ? malloc(n * sizeof *rs) : NULL;
    for (size_t i = 0; rs && i < n; i++) {
        size_t len;
        const char *blob = sy_reply_str(reply->element[2 * i + 1], &len);
        if (blob && sy_fleet_window_decode(blob, len, rs[got].w) == 0) got++;
        else sy_log_debug("rollout: another instance's windows could not be read; skipped");
    }
    pthread_mutex_lock(&f->mu);
    f->publishing = 0;
    free(f->remotes);
    f->remotes = rs;
    f->n_remotes = rs ? got : 0;
    pthread_mutex_unlock(&f->mu);
}

/* --------------------------------------------------------------- tick */

static void publish(sy_fleet_rollout *f, const char *id)
{
    uint64_t now = sy_rollout_now(f->ro);
    sy_rollout_export(f->ro, now, f->scratch);
    char *blob = sy_fleet_window_encode(f->scratch);
    char *zkey = sy_shared_key(f->core, "windows:%s", id);
    char *wprefix = sy_shared_key(f->core, "window:%s:", id);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", WINDOW_TTL_MS);
    if (blob && zkey && wprefix) {
        pthread_mutex_lock(&f->mu);
        f->width_ns = f->scratch[0].width_ns;
        f->publishing = 1;
        pthread_mutex_unlock(&f->mu);
        const char *argv[] = {"EVAL", PUBLISH_LUA, "1", zkey, wprefix, f->core->instance, blob, ttl};
        if (sy_redis_commandv(f->core->redis, on_publish, f, 8, argv) != 0) {
            pthread_mutex_lock(&f->mu);
            f->publishing = 0;
            pthread_mutex_unlock(&f->mu);
        }
    }
    free(blob);
    free(zkey);
    free(wprefix);
}

void sy_fleet_rollout_tick(sy_fleet_rollout *f)
{
    if (!sy_shared_up(f->core)) return;
    pthread_mutex_lock(&f->mu);
    char *id = f->id ? strdup(f->id) : NULL;
    int publishing = f->publishing;
    pthread_mutex_unlock(&f->mu);
    if (!id) return; /* no rollout (no canary in the policy) */
    char *key = sy_shared_key(f->core, "rollout:%s", id);
    if (!publishing) publish(f, id);

    pthread_mutex_lock(&f->mu);
    if (key && !f->pushing && f->pending.record) {
        f->inflight = f->pending;
        memset(&f->pending, 0, sizeof f->pending);
        f->pushing = 1;
        char base[24];
        snprintf(base, sizeof base, "%lld", f->known > 0 ? f->known : 0);
        change c = f->inflight;
        pthread_mutex_unlock(&f->mu);
        const char *argv[] = {"EVAL", PUSH_LUA, "1", key, base, c.record,
                              c.rolled_back ? "rolled_back" : "live",
                              c.rolled_back ? "rollback" : "cas"};
        if (sy_redis_commandv(f->core->redis, on_push, f, 8, argv) != 0) {
            pthread_mutex_lock(&f->mu);
            f->pushing = 0;
            if (!f->pending.record) f->pending = f->inflight;
            else change_clear(&f->inflight);
            memset(&f->inflight, 0, sizeof f->inflight);
            pthread_mutex_unlock(&f->mu);
        }
    } else if (key && !f->pushing && !f->polling) {
        f->polling = 1;
        pthread_mutex_unlock(&f->mu);
        const char *argv[] = {"HMGET", key, "version", "record"};
        if (sy_redis_commandv(f->core->redis, on_poll, f, 4, argv) != 0) {
            pthread_mutex_lock(&f->mu);
            f->polling = 0;
            pthread_mutex_unlock(&f->mu);
        }
    } else {
        pthread_mutex_unlock(&f->mu);
    }
    free(key);
    free(id);
}

void sy_fleet_rollout_redis_state(sy_fleet_rollout *f, int up)
{
    if (up) return;
    /* Others' windows would only grow stale: decide on this instance's own. */
    pthread_mutex_lock(&f->mu);
    remotes_clear(f);
    pthread_mutex_unlock(&f->mu);
}

/* ------------------------------------------------------------ the rest */

sy_fleet_rollout *sy_fleet_rollout_new(sy_shared_core *core, sy_rollout *r,
                                       uint64_t clock_offset_ns)
{
    sy_fleet_rollout *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->scratch = malloc(2 * sizeof *f->scratch);
    if (!f->scratch) {
        free(f);
        return NULL;
    }
    f->core = core;
    f->ro = r;
    f->known = -1;
    pthread_mutex_init(&f->mu, NULL);
    sy_rollout_fleet hooks = {f, hook_collect, hook_changed, hook_promote, hook_online, hook_busy};
    sy_rollout_set_fleet(r, &hooks, clock_offset_ns);
    return f;
}

void sy_fleet_rollout_free(sy_fleet_rollout *f)
{
    if (!f) return;
    change_clear(&f->pending);
    change_clear(&f->inflight);
    remotes_clear(f);
    free(f->scratch);
    free(f->id);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void sy_fleet_rollout_preloaded(sy_fleet_rollout *f, const char *id, long long version,
                                const char *record)
{
    pthread_mutex_lock(&f->mu);
    follow_id(f, id);
    f->known = version;
    f->known_hash = text_hash(record);
    pthread_mutex_unlock(&f->mu);
}

int sy_fleet_rollout_instances(sy_fleet_rollout *f)
{
    pthread_mutex_lock(&f->mu);
    int n = 1 + (int)f->n_remotes;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void sy_fleet_rollout_status(sy_fleet_rollout *f, cJSON *obj)
{
    pthread_mutex_lock(&f->mu);
    cJSON *ro = cJSON_AddObjectToObject(obj, "rollout");
    if (ro) {
        if (f->id) cJSON_AddStringToObject(ro, "key_id", f->id);
        if (f->known >= 0) cJSON_AddNumberToObject(ro, "version", (double)f->known);
        else cJSON_AddNullToObject(ro, "version");
        cJSON_AddBoolToObject(ro, "change_waiting", f->pending.record || f->pushing);
        cJSON_AddNumberToObject(ro, "instances", 1 + (double)f->n_remotes);
    }
    pthread_mutex_unlock(&f->mu);
}
