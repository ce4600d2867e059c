/* fleet_responses.c - the response map shared by the fleet (see fleet_responses.h). */
#include "fleet_responses.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "response_map.h"

#define READ_COUNT "2000" /* stream entries read at once */
#define WRITES_PER_TICK 2000

/* KEYS[1] resp:ID, KEYS[2] resp-log; ARGV: this instance, id, the entry
 * (JSON), ttl ms, the log's length bound. */
static const char WRITE_LUA[] =
    "redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'by', ARGV[1], 'id', ARGV[2],\n"
    "           'v', ARGV[3])\n"
    "return 1\n";

/* One put made here, waiting for the main thread. */
typedef struct op {
    struct op *next;
    int64_t expires_ms;
    sy_response_home home;
    char id[SY_RESPONSE_ID_MAX + 1];
} op;

struct sy_fleet_responses {
    sy_shared_core *core;
    sy_response_map *map;
    _Atomic(op *) queue;      /* newest first; pushed by workers, taken by the main thread */
    atomic_size_t queued;
    atomic_size_t max_queue;
    op *todo;                 /* taken, oldest first, not yet written (main thread) */
    int writing;              /* writes on their way */
    int reading;
    char last_id[64];         /* the stream entry read last ("0-0": from the start) */
};

/* ------------------------------------------------- the workers' side */

static void on_change(void *ctx, const char *id, const sy_response_home *home,
                      int64_t expires_ms)
{
    sy_fleet_responses *f = ctx;
    if (atomic_load_explicit(&f->queued, memory_order_relaxed) >=
        atomic_load_explicit(&f->max_queue, memory_order_relaxed))
        return; /* Redis away for long: the oldest changes are the ones kept */
    op *o = malloc(sizeof *o);
    if (!o) return;
    o->expires_ms = expires_ms;
    o->home = *home;
    snprintf(o->id, sizeof o->id, "%s", id);
    atomic_fetch_add_explicit(&f->queued, 1, memory_order_relaxed);
    op *head = atomic_load_explicit(&f->queue, memory_order_relaxed);
    do o->next = head;
    while (!atomic_compare_exchange_weak_explicit(&f->queue, &head, o, memory_order_release,
                                                  memory_order_relaxed));
}

/* ------------------------------------------------------- writing */

static void on_written(void *ctx, redisReply *reply)
{
    sy_fleet_responses *f = ctx;
    f->writing--;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        sy_redis_note_error(f->core->redis, "Redis refused the response map's write script");
}

static int64_t now_ms(void) { return sy_wall_s() * 1000; }

static void write_some(sy_fleet_responses *f)
{
    /* Take what the workers queued, oldest first, behind what waits already. */
    op *taken = atomic_exchange_explicit(&f->queue, NULL, memory_order_acquire), *rev = NULL;
    while (taken) {
        op *n = taken->next;
        taken->next = rev;
        rev = taken;
        taken = n;
    }
    op **tail = &f->todo;
    while (*tail) tail = &(*tail)->next;
    *tail = rev;
    char *log = sy_shared_key(f->core, "resp-log");
    char bound[32];
    snprintf(bound, sizeof bound, "%zu", atomic_load(&f->max_queue));
    for (int n = 0; log && f->todo && n < WRITES_PER_TICK; n++) {
        op *o = f->todo;
        char *key = sy_shared_key(f->core, "resp:%s", o->id);
        char *value = NULL, ttl[32];
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddStringToObject(j, "provider", o->home.provider);
            cJSON_AddStringToObject(j, "endpoint", o->home.endpoint);
            cJSON_AddStringToObject(j, "model", o->home.model);
            cJSON_AddNumberToObject(j, "expires_ms", (double)o->expires_ms);
            value = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
        }
        int64_t left = o->expires_ms - now_ms();
        snprintf(ttl, sizeof ttl, "%lld", (long long)(left > 1 ? left : 1));
        const char *argv[] = {"EVAL", WRITE_LUA, "2", key, log, f->core->instance, o->id,
                              value ? value : "", ttl, bound};
        int sent = key && value && sy_redis_commandv(f->core->redis, on_written, f, 10, argv) == 0;
        free(key);
        free(value);
        if (!sent) break; /* Redis away (or no memory): at the next tick */
        f->writing++;
        f->todo = o->next;
        free(o);
        atomic_fetch_sub(&f->queued, 1);
    }
    free(log);
}

/* ------------------------------------------------------- reading */

static void apply(sy_fleet_responses *f, const redisReply *fields)
{
    const char *by = NULL, *id = NULL, *v = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const char *k = sy_reply_str(fields->element[i], NULL);
        const char *val = sy_reply_str(fields->element[i + 1], NULL);
        if (!k || !val) continue;
        if (!strcmp(k, "by")) by = val;
        else if (!strcmp(k, "id")) id = val;
        else if (!strcmp(k, "v")) v = val;
    }
    if (!by || !id || !strcmp(by, f->core->instance)) return; /* ours: already here */
    size_t len = strlen(id);
    if (!sy_response_id_valid(id, len)) return;
    cJSON *j = v ? cJSON_Parse(v) : NULL;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "provider");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "endpoint");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "expires_ms");
    if (cJSON_IsString(p) && cJSON_IsString(e) && cJSON_IsNumber(x) && x->valuedouble > (double)now_ms()) {
        sy_response_home h;
        memset(&h, 0, sizeof h);
        snprintf(h.provider, sizeof h.provider, "%s", p->valuestring);
        snprintf(h.endpoint, sizeof h.endpoint, "%s", e->valuestring);
        if (cJSON_IsString(m)) snprintf(h.model, sizeof h.model, "%s", m->valuestring);
        sy_response_map_put_replica(f->map, id, len, &h, (int64_t)x->valuedouble);
    }
    cJSON_Delete(j);
}

static void read_on(sy_fleet_responses *f);

static void on_read(void *ctx, redisReply *reply)
{
    sy_fleet_responses *f = ctx;
    f->reading = 0;
    if (!reply || reply->type == REDIS_REPLY_NIL) return; /* nothing new */
    if (reply->type != REDIS_REPLY_ARRAY) {
        if (reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(f->core->redis, "Redis refused reading the response map's log");
        return;
    }
    /* [[stream, [[id, [field, value, ...]], ...]]] */
    size_t got = 0;
    for (size_t s = 0; s < reply->elements; s++) {
        const redisReply *st = reply->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2) continue;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2) continue;
            const char *eid = sy_reply_str(en->element[0], NULL);
            if (!eid) continue;
            snprintf(f->last_id, sizeof f->last_id, "%s", eid);
            if (en->element[1]->type == REDIS_REPLY_ARRAY) apply(f, en->element[1]);
            got++;
        }
    }
    if (got >= (size_t)atoi(READ_COUNT)) read_on(f); /* more waits: go on at once */
}

static void read_on(sy_fleet_responses *f)
{
    if (f->reading) return;
    char *log = sy_shared_key(f->core, "resp-log");
    if (!log) return;
    const char *argv[] = {"XREAD", "COUNT", READ_COUNT, "STREAMS", log, f->last_id};
    if (sy_redis_commandv(f->core->redis, on_read, f, 6, argv) == 0) f->reading = 1;
    free(log);
}

/* ------------------------------------------------------------ the rest */

void sy_fleet_responses_tick(sy_fleet_responses *f)
{
    if (!sy_shared_up(f->core)) return;
    write_some(f);
    read_on(f);
}

sy_fleet_responses *sy_fleet_responses_new(sy_shared_core *core, sy_response_map *map,
                                           size_t max_queue)
{
    sy_fleet_responses *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->core = core;
    f->map = map;
    atomic_store(&f->max_queue, max_queue > 1000 ? max_queue : 1000);
    snprintf(f->last_id, sizeof f->last_id, "0-0");
    sy_response_map_set_listener(map, on_change, f);
    return f;
}

void sy_fleet_responses_configure(sy_fleet_responses *f, size_t max_queue)
{
    atomic_store(&f->max_queue, max_queue > 1000 ? max_queue : 1000);
}

void sy_fleet_responses_free(sy_fleet_responses *f)
{
    if (!f) return;
    op *o = atomic_exchange(&f->queue, NULL);
    while (o) {
        op *n = o->next;
        free(o);
        o = n;
    }
    while (f->todo) {
        op *n = f->todo->next;
        free(f->todo);
        f->todo = n;
    }
    free(f);
}
