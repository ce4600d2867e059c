/* fleet_limit.c - the fleet's rate limit (see fleet_limit.h). */
#include "fleet_limit.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "router.h"

#define REFILL_MS 50

/* Take up to ARGV[3] tokens from the fleet's bucket (rps ARGV[1], burst
 * ARGV[2]), refilled on Redis's clock. Returns the tokens granted. */
static const char TAKE_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local rps, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens = tonumber(v[1]) or burst\n"
    "local ts = tonumber(v[2]) or now\n"
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) / 1000 * rps) end\n"
    "if tokens > burst then tokens = burst end\n"
    "local got = math.min(want, math.floor(tokens))\n"
    "if got < 0 then got = 0 end\n"
    "tokens = tokens - got\n"
    "redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%d', now))\n"
    "redis.call('PEXPIRE', KEYS[1], 3600000)\n"
    "return got\n";

struct sy_fleet_limit {
    sy_shared_core *core;
    struct sy_router *router;
    _Atomic long long pool;      /* tokens granted by the fleet, not yet used */
    _Atomic double rps, burst;   /* the policy's; 0: no rate limit */
    atomic_int instances;        /* for the fallback while Redis is away */
    _Atomic long long refused;   /* requests the empty pool refused since the last take */
    atomic_int fleet_ok;         /* the last take was answered: the fleet's bucket works */
    _Atomic long long borrowed;  /* admitted by the fallback while Redis was up (a take
                                  * not yet answered): charged to the fleet's bucket */
    long long charging;          /* borrowed tokens the take on its way charges */
    struct event *timer;
    int taking;                  /* a take is on its way (main thread) */
};

/* The request path (any worker): a token from the pool, or the fallback. */
static int64_t take(void *ctx, sy_ratelimit *local, const sy_rate_limit_conf *rl, uint64_t now_ns)
{
    sy_fleet_limit *l = ctx;
    long long have = atomic_load_explicit(&l->pool, memory_order_relaxed);
    while (have > 0)
        if (atomic_compare_exchange_weak_explicit(&l->pool, &have, have - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 0;
    if (!sy_shared_up(l->core) || !atomic_load_explicit(&l->fleet_ok, memory_order_relaxed)) {
        /* Redis away (or its bucket not answering yet, or refusing the script):
         * this instance's share of the fleet's limit. */
        int n = atomic_load_explicit(&l->instances, memory_order_relaxed);
        sy_rate_limit_conf part = *rl;
        if (n > 1) {
            part.rps = rl->rps / n;
            part.burst = rl->burst / n >= 1 ? rl->burst / n : 1;
        }
        int64_t wait = sy_ratelimit_take(local, &part, now_ns);
        if (wait == 0 && sy_shared_up(l->core))
            atomic_fetch_add_explicit(&l->borrowed, 1, memory_order_relaxed);
        return wait;
    }
    /* The pool is refilled within REFILL_MS while the fleet has tokens, with
     * what was refused meanwhile, so a burst is served at the next refill. */
    atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
    double rps = rl->rps > 0 ? rl->rps : 1;
    int64_t one = (int64_t)ceil(1000.0 / rps);
    return one > REFILL_MS ? one : REFILL_MS;
}

static void on_take(void *ctx, redisReply *reply)
{
    sy_fleet_limit *l = ctx;
    l->taking = 0;
    long long got, charged = l->charging;
    l->charging = 0;
    if (!reply || sy_reply_int(reply, &got) != 0) {
        atomic_fetch_add(&l->borrowed, charged); /* charged at the next take */
        atomic_store(&l->fleet_ok, 0);
        if (reply && reply->type == REDIS_REPLY_ERROR)
            sy_redis_note_error(l->core->redis, "Redis refused the rate limit's script");
        return;
    }
    atomic_store(&l->fleet_ok, 1);
    /* What the fallback admitted meanwhile was taken from these. */
    if (got < charged) atomic_fetch_add(&l->borrowed, charged - got);
    got -= charged;
    if (got > 0) atomic_fetch_add(&l->pool, got);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_fleet_limit *l = arg;
    double rps = atomic_load(&l->rps), burst = atomic_load(&l->burst);
    if (rps <= 0 || l->taking || !sy_shared_up(l->core)) return;
    if (!atomic_load(&l->fleet_ok)) atomic_store(&l->refused, 0); /* the fallback served them */
    long long batch = (long long)ceil(rps * 0.1);
    if (batch < 1) batch = 1;
    long long have = atomic_load(&l->pool);
    long long refused = atomic_exchange(&l->refused, 0);
    long long borrowed = atomic_exchange(&l->borrowed, 0);
    if (have * 2 > batch && !refused && !borrowed) return; /* enough until the next look */
    long long want = batch - have + refused;
    if (want > burst) want = (long long)burst;
    if (want < 0) want = 0;
    want += borrowed;
    if (want < 1) return;
    char *key = sy_shared_key(l->core, "ratelimit");
    if (!key) {
        atomic_fetch_add(&l->borrowed, borrowed);
        return;
    }
    char a_rps[32], a_burst[32], a_want[32];
    snprintf(a_rps, sizeof a_rps, "%.6f", rps);
    snprintf(a_burst, sizeof a_burst, "%.6f", burst >= 1 ? burst : 1);
    snprintf(a_want, sizeof a_want, "%lld", want);
    const char *argv[] = {"EVAL", TAKE_LUA, "1", key, a_rps, a_burst, a_want};
    if (sy_redis_commandv(l->core->redis, on_take, l, 7, argv) == 0) {
        l->taking = 1;
        l->charging = borrowed;
    } else {
        atomic_fetch_add(&l->borrowed, borrowed);
    }
    free(key);
}

sy_fleet_limit *sy_fleet_limit_new(sy_shared_core *core, struct sy_router *router)
{
    sy_fleet_limit *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->core = core;
    l->router = router;
    atomic_store(&l->instances, 1);
    sy_router_set_rate_limiter(router, take, l);
    return l;
}

void sy_fleet_limit_free(sy_fleet_limit *l)
{
    if (!l) return;
    sy_fleet_limit_stop(l);
    free(l);
}

void sy_fleet_limit_configure(sy_fleet_limit *l, const sy_rate_limit_conf *rl)
{
    atomic_store(&l->rps, rl->enabled ? rl->rps : 0);
    atomic_store(&l->burst, rl->enabled ? rl->burst : 0);
}

void sy_fleet_limit_set_instances(sy_fleet_limit *l, int n)
{
    atomic_store(&l->instances, n > 0 ? n : 1);
}

void sy_fleet_limit_start(sy_fleet_limit *l, struct event_base *base)
{
    struct timeval tv = {0, REFILL_MS * 1000};
    l->timer = event_new(base, -1, EV_PERSIST, on_timer, l);
    if (l->timer) event_add(l->timer, &tv);
}

void sy_fleet_limit_stop(sy_fleet_limit *l)
{
    if (l->timer) event_free(l->timer);
    l->timer = NULL;
}

long long sy_fleet_limit_pool(sy_fleet_limit *l) { return atomic_load(&l->pool); }
