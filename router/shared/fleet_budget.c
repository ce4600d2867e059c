/* fleet_budget.c - the fleet's monthly spend (see fleet_budget.h). */
#include "fleet_budget.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "clock.h"
#include "log.h"
#include "store.h"

/* KEYS[1] budget:MONTH; ARGV: nano-dollars to add, this instance's last known
 * total (fills a missing key). Returns the fleet's total. */
static const char ADD_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end\n"
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], 5184000)\n"
    "return v\n";

struct sy_fleet_budget {
    sy_shared_core *core;
    sy_budget *b;
    int busy;                          /* a write on its way */
    uint64_t sent;                     /* what it adds */
    char month[SY_BUDGET_MONTH_LEN];   /* the month it adds to */
};

sy_fleet_budget *sy_fleet_budget_new(sy_shared_core *core, sy_budget *b)
{
    sy_fleet_budget *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->core = core;
    f->b = b;
    sy_budget_share(b);
    return f;
}

void sy_fleet_budget_free(sy_fleet_budget *f) { free(f); }

static void on_add(void *ctx, redisReply *reply)
{
    sy_fleet_budget *f = ctx;
    f->busy = 0;
    long long total;
    if (!reply || sy_reply_int(reply, &total) != 0 || total < 0) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(f->core->redis, "Redis refused the budget's script");
        sy_budget_return_unpushed(f->b, f->sent); /* again at the next tick */
        return;
    }
    sy_budget_set_fleet_spent(f->b, f->month, (uint64_t)total);
}

void sy_fleet_budget_tick(sy_fleet_budget *f)
{
    if (f->busy || !sy_shared_up(f->core)) return;
    sy_budget_month(f->b, f->month);
    char *key = sy_shared_key(f->core, "budget:%s", f->month);
    if (!key) return;
    uint64_t add = sy_budget_take_unpushed(f->b);
    uint64_t spent = sy_budget_spent_nano(f->b);
    char a_add[32], a_seed[32];
    snprintf(a_add, sizeof a_add, "%llu", (unsigned long long)add);
    snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)(spent > add ? spent - add : 0));
    const char *argv[] = {"EVAL", ADD_LUA, "1", key, a_add, a_seed};
    f->sent = add;
    if (sy_redis_commandv(f->core->redis, on_add, f, 6, argv) == 0) f->busy = 1;
    else sy_budget_return_unpushed(f->b, add);
    free(key);
}

static void month_now(char out[SY_BUDGET_MONTH_LEN])
{
    time_t t = (time_t)sy_wall_s();
    struct tm tm;
    if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
    snprintf(out, SY_BUDGET_MONTH_LEN, "%04d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100);
}

void sy_fleet_budget_preload(const sy_shared_core *core, redisContext *c, sy_store *store)
{
    char month[SY_BUDGET_MONTH_LEN];
    month_now(month);
    char *key = sy_shared_key(core, "budget:%s", month);
    if (!key) return;
    const char *argv[] = {"GET", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    free(key);
    long long total;
    if (!r || sy_reply_int(r, &total) != 0 || total < 0) {
        if (r) freeReplyObject(r);
        return; /* nothing yet this month (or no answer): the state file's, if any */
    }
    freeReplyObject(r);
    /* Keep the thresholds already logged this month (the state file knows). */
    int alerted = 0;
    char *old = NULL;
    if (sy_store_get(store, "budget", &old) == 0) {
        cJSON *j = cJSON_Parse(old);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "month");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "alerted");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, month) && cJSON_IsNumber(a))
            alerted = a->valueint;
        cJSON_Delete(j);
        free(old);
    }
    char text[160];
    snprintf(text, sizeof text, "{\"month\":\"%s\",\"spent_usd\":%llu.%09llu,\"alerted\":%d}", month,
             (unsigned long long)total / 1000000000ull, (unsigned long long)total % 1000000000ull,
             alerted);
    if (sy_store_put(store, "budget", text) == 0)
        sy_log_info("shared state: the fleet's spend for %s read from Redis: %llu.%02llu USD", month,
                    (unsigned long long)total / 1000000000ull,
                    (unsigned long long)(total % 1000000000ull) / 10000000ull);
}
