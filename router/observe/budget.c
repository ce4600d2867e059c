/* budget.c - the monthly budget (see budget.h). */
#include "budget.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "store.h"

#define STORE_KEY "budget"
#define NANO 1e9
/* Spend above this (USD) is not counted further: a nonsense cost or price
 * must not wrap the counter (1e9 USD is 1e18 nano-dollars, below 2^64). */
#define MAX_USD 1e9

struct sy_budget {
    _Atomic uint64_t spent;  /* nano-dollars this month; any thread */
    _Atomic uint64_t limit;  /* nano-dollars; 0: no budget */
    atomic_int reject;       /* on_exceed: reject */
    atomic_int shared;       /* several instances: spend is also counted in unpushed */
    _Atomic uint64_t unpushed; /* nano-dollars added here, not yet in the fleet's total */
    struct sy_store *store;
    pthread_mutex_t mu;      /* the rest: the main thread, and refusal messages */
    char month[SY_BUDGET_MONTH_LEN];
    int alerted;             /* the last threshold logged this month: 0, 80, 100 */
    uint64_t saved;          /* spend last put to the store */
    int dirty;               /* month or alerted changed since the last put */
};

static void month_of(int64_t now_s, char out[SY_BUDGET_MONTH_LEN])
{
    time_t t = (time_t)now_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        memset(&tm, 0, sizeof tm);
    snprintf(out, SY_BUDGET_MONTH_LEN, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u);
}

static uint64_t to_nano(double usd)
{
    if (!(usd > 0) || !isfinite(usd)) return 0;
    return usd >= MAX_USD ? (uint64_t)(MAX_USD * NANO) : (uint64_t)llround(usd * NANO);
}

static double to_usd(uint64_t nano) { return (double)nano / NANO; }

/* "0.05", "12.30", "0.000123": at least cents, more digits only when they say something. */
static const char *usd_text(uint64_t nano, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.6f", to_usd(nano));
    if (n <= 0 || (size_t)n >= cap) return buf;
    char *dot = strchr(buf, '.');
    char *end = buf + n - 1;
    while (dot && end > dot + 2 && *end == '0') *end-- = '\0';
    return buf;
}

/* 0, 80 or 100: the highest threshold the spend has reached. */
static int level(uint64_t spent, uint64_t limit)
{
    if (!limit) return 0;
    if (spent >= limit) return 100;
    /* spent >= 0.8 * limit, in integers (both below 2^60) */
    return spent * 5 >= limit * 4 ? 80 : 0;
}

static int month_ok(const char *m)
{
    /* "YYYY-MM" */
    if (strlen(m) != 7 || m[4] != '-') return 0;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (m[i] < '0' || m[i] > '9')) return 0;
    int mon = (m[5] - '0') * 10 + (m[6] - '0');
    return mon >= 1 && mon <= 12;
}

/* Load what the store holds for this month. 0, or -1 with err. */
static int load(sy_budget *b, char *err, size_t errlen)
{
    char *text = NULL;
    int rc = sy_store_get(b->store, STORE_KEY, &text);
    if (rc == 1) return 0; /* nothing yet */
    if (rc != 0) {
        snprintf(err, errlen, "out of memory reading the budget state");
        return -1;
    }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "month");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "spent_usd");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "alerted");
    if (!cJSON_IsObject(doc) || !cJSON_IsString(m) || !month_ok(m->valuestring) ||
        !cJSON_IsNumber(s) || !(s->valuedouble >= 0) || !isfinite(s->valuedouble) ||
        (a && !cJSON_IsNumber(a))) {
        cJSON_Delete(doc);
        snprintf(err, errlen,
                 "the state file's \"budget\" entry is not {\"month\": \"YYYY-MM\", "
                 "\"spent_usd\": N}; fix or remove it (the month's spend would be lost)");
        return -1;
    }
    if (!strcmp(m->valuestring, b->month)) {
        atomic_store(&b->spent, to_nano(s->valuedouble));
        b->saved = atomic_load(&b->spent);
        int al = a ? a->valueint : 0;
        b->alerted = al >= 100 ? 100 : al >= 80 ? 80 : 0;
    } else {
        sy_log_info("budget: the state file counts %s; %s starts at 0 USD", m->valuestring,
                    b->month);
        b->dirty = 1;
    }
    cJSON_Delete(doc);
    return 0;
}

sy_budget *sy_budget_new(struct sy_store *store, int64_t now_s, char *err, size_t errlen)
{
    sy_budget *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->store = store;
    month_of(now_s, b->month);
    if (store && load(b, err, errlen) != 0) {
        sy_budget_free(b);
        return NULL;
    }
    sy_metrics_set_budget(to_usd(atomic_load(&b->spent)), 0);
    return b;
}

void sy_budget_free(sy_budget *b)
{
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void sy_budget_configure(sy_budget *b, const sy_budget_conf *conf)
{
    int on = conf && conf->enabled && conf->monthly_usd > 0;
    uint64_t limit = on ? to_nano(conf->monthly_usd) : 0;
    pthread_mutex_lock(&b->mu);
    uint64_t old = atomic_exchange(&b->limit, limit);
    atomic_store(&b->reject, on && conf->on_exceed == SY_BUDGET_REJECT);
    if (old != limit) {
        /* A threshold the spend is below under the new limit is logged again
         * when it is reached. */
        int now = level(atomic_load(&b->spent), limit);
        if (now < b->alerted) {
            b->alerted = now;
            b->dirty = 1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    sy_metrics_set_budget(to_usd(atomic_load(&b->spent)), to_usd(limit));
}

static void on_request(void *ctx, const sy_request_event *e)
{
    if (e->cost_usd > 0) sy_budget_add(ctx, e->cost_usd);
}

int sy_budget_observe(sy_budget *b, sy_router *r)
{
    return sy_router_add_observer(r, (sy_observer){NULL, on_request, NULL, b});
}

void sy_budget_add(sy_budget *b, double usd)
{
    uint64_t n = to_nano(usd);
    if (!n) return;
    atomic_fetch_add_explicit(&b->spent, n, memory_order_relaxed);
    if (atomic_load_explicit(&b->shared, memory_order_relaxed))
        atomic_fetch_add_explicit(&b->unpushed, n, memory_order_relaxed);
}

int sy_budget_refuses(const sy_budget *b)
{
    if (!b || !atomic_load_explicit(&b->reject, memory_order_relaxed)) return 0;
    uint64_t limit = atomic_load_explicit(&b->limit, memory_order_relaxed);
    return limit && atomic_load_explicit(&b->spent, memory_order_relaxed) >= limit;
}

void sy_budget_refusal(sy_budget *b, char *buf, size_t cap)
{
    char spent[48], limit[48], month[SY_BUDGET_MONTH_LEN];
    sy_budget_month(b, month);
    snprintf(buf, cap,
             "the monthly budget is spent: %s of %s USD (budget.monthly_usd) for %s (UTC); "
             "switchyard refuses new requests until the month ends or the budget is raised",
             usd_text(atomic_load(&b->spent), spent, sizeof spent),
             usd_text(atomic_load(&b->limit), limit, sizeof limit), month);
}

/* Put the month's state in the store (not yet on disk: serve flushes). */
static void save(sy_budget *b, uint64_t spent)
{
    char spent_txt[48], text[160];
    /* Exact decimal of the nano-dollar count: no double printing in between. */
    snprintf(spent_txt, sizeof spent_txt, "%llu.%09llu", (unsigned long long)(spent / 1000000000u),
             (unsigned long long)(spent % 1000000000u));
    snprintf(text, sizeof text, "{\"month\":\"%s\",\"spent_usd\":%s,\"alerted\":%d}", b->month,
             spent_txt, b->alerted);
    if (sy_store_put(b->store, STORE_KEY, text) == 0) {
        b->saved = spent;
        b->dirty = 0;
    }
}

static void log_threshold(const sy_budget *b, int pct, uint64_t spent, uint64_t limit)
{
    char s[48], l[48];
    usd_text(spent, s, sizeof s);
    usd_text(limit, l, sizeof l);
    if (pct < 100)
        sy_log_warn("budget: 80%% of budget.monthly_usd is spent for %s (UTC): %s of %s USD",
                    b->month, s, l);
    else if (atomic_load(&b->reject))
        sy_log_warn("budget: 100%% of budget.monthly_usd is spent for %s (UTC): %s of %s USD; "
                    "on_exceed: reject: new requests are refused (429 insufficient_quota) until "
                    "the month ends",
                    b->month, s, l);
    else
        sy_log_warn("budget: 100%% of budget.monthly_usd is spent for %s (UTC): %s of %s USD; "
                    "on_exceed: alert: requests are still served",
                    b->month, s, l);
}

void sy_budget_tick(sy_budget *b, int64_t now_s)
{
    char month[SY_BUDGET_MONTH_LEN];
    month_of(now_s, month);
    pthread_mutex_lock(&b->mu);
    if (strcmp(month, b->month) != 0) {
        /* A request ending right at midnight may land in either month. */
        uint64_t last = atomic_exchange(&b->spent, 0);
        atomic_store(&b->unpushed, 0);
        char s[48];
        sy_log_info("budget: %s ended with %s USD spent; %s starts at 0", b->month,
                    usd_text(last, s, sizeof s), month);
        memcpy(b->month, month, sizeof month);
        b->alerted = 0;
        b->saved = 0;
        b->dirty = 1;
    }
    uint64_t spent = atomic_load(&b->spent), limit = atomic_load(&b->limit);
    int lv = level(spent, limit);
    if (lv > b->alerted) {
        if (b->alerted < 80) log_threshold(b, 80, spent, limit);
        if (lv == 100) log_threshold(b, 100, spent, limit);
        b->alerted = lv;
        b->dirty = 1;
    }
    if (b->store && (b->dirty || spent != b->saved)) save(b, spent);
    pthread_mutex_unlock(&b->mu);
    sy_metrics_set_budget(to_usd(spent), to_usd(limit));
}

double sy_budget_spent_usd(const sy_budget *b) { return to_usd(atomic_load(&b->spent)); }

void sy_budget_month(sy_budget *b, char out[SY_BUDGET_MONTH_LEN])
{
    pthread_mutex_lock(&b->mu);
    memcpy(out, b->month, SY_BUDGET_MONTH_LEN);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------ several instances */

void sy_budget_share(sy_budget *b) { atomic_store(&b->shared, 1); }

uint64_t sy_budget_take_unpushed(sy_budget *b) { return atomic_exchange(&b->unpushed, 0); }

void sy_budget_return_unpushed(sy_budget *b, uint64_t nano)
{
    atomic_fetch_add(&b->unpushed, nano);
}

uint64_t sy_budget_spent_nano(const sy_budget *b) { return atomic_load(&b->spent); }

void sy_budget_set_fleet_spent(sy_budget *b, const char *month, uint64_t nano)
{
    pthread_mutex_lock(&b->mu);
    /* What this instance added since it sent its part is still its own. */
    if (!strcmp(month, b->month)) atomic_store(&b->spent, nano + atomic_load(&b->unpushed));
    pthread_mutex_unlock(&b->mu);
}
