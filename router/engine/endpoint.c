/* endpoint.c - an endpoint's live state and its lock-free paths (see endpoint.h). */
#include "endpoint.h"

#include <string.h>

void sy_endpoint_init(sy_endpoint_state *s)
{
    pthread_mutex_init(&s->mu, NULL);
    sy_breaker_init(&s->breaker);
    memset(&s->cool, 0, sizeof s->cool);
    s->healthy = 1;
    s->checks = 0;
    atomic_init(&s->gate, 0);
    atomic_init(&s->open_until, 0);
    atomic_init(&s->cool_max, 0);
    atomic_init(&s->ewma_bits, 0);
    atomic_init(&s->ewma_last_ns, 0);
    atomic_init(&s->ewma_samples, 0);
    atomic_init(&s->in_flight, 0);
    sy_endpoint_publish(s);
}

void sy_endpoint_publish(sy_endpoint_state *s)
{
    const sy_breaker *b = &s->breaker;
    uint64_t gate = 0, open_until = 0;
    if (s->healthy && b->state == SY_BREAKER_CLOSED && b->failures == 0)
        gate = b->generation << 1 | 1u;
    if (!s->healthy) open_until = UINT64_MAX; /* refused, with no time to wait for */
    else if (b->state == SY_BREAKER_OPEN) open_until = b->open_until;
    atomic_store_explicit(&s->gate, gate, memory_order_release);
    atomic_store_explicit(&s->open_until, open_until, memory_order_release);
    /* Only ever raised: a cooldown never ends early, and a stale maximum
     * only sends a request down the locked path, which reads the slots. */
    uint64_t latest = sy_cooldown_latest(&s->cool, 0);
    if (latest > atomic_load_explicit(&s->cool_max, memory_order_relaxed))
        atomic_store_explicit(&s->cool_max, latest, memory_order_release);
}

/* The lock-free look: 1 allowed (*permit, if asked for, gets a closed
 * breaker's permit), 0 refused (*look says why), -1 only the lock can tell
 * (a cooldown running, a failure counted, half-open). */
static int try_unlocked(const sy_endpoint_state *s, uint64_t now, sy_breaker_permit *permit,
                        sy_endpoint_look *look)
{
    if (now < atomic_load_explicit(&s->cool_max, memory_order_acquire)) return -1;
    uint64_t gate = atomic_load_explicit(&s->gate, memory_order_acquire);
    if (gate & 1u) {
        if (permit) *permit = (sy_breaker_permit){0, gate >> 1};
        return 1;
    }
    /* An open breaker leaves OPEN only once open_until has passed, so before
     * then a refusal needs no lock, however old the word read. */
    uint64_t until = atomic_load_explicit(&s->open_until, memory_order_acquire);
    if (until && now < until) {
        look->healthy = until != UINT64_MAX;
        look->open_until = look->healthy ? until : 0;
        return 0;
    }
    return -1;
}

sy_endpoint_look sy_endpoint_acquire(sy_endpoint_state *s, const sy_breaker_conf *c,
                                     const char *model, uint64_t now, sy_breaker_permit *permit,
                                     sy_endpoint_changed_fn changed, void *ctx)
{
    sy_endpoint_look look = {0, 1, 0, 0};
    int fast = try_unlocked(s, now, permit, &look);
    if (fast >= 0) {
        look.ok = fast;
        return look;
    }
    pthread_mutex_lock(&s->mu);
    sy_breaker_state before = s->breaker.state;
    /* A model cooling after a 429 is asked first: no breaker permit is taken
     * for an attempt that will not be made. */
    look.cool_until = sy_cooldown_until(&s->cool, model, now);
    look.healthy = s->healthy;
    look.ok = s->healthy && !look.cool_until &&
              (permit ? sy_breaker_acquire(&s->breaker, c, now, permit, NULL) == SY_BREAKER_ALLOWED
                      : sy_breaker_usable(&s->breaker, c, now));
    if (!look.ok && s->breaker.state == SY_BREAKER_OPEN) look.open_until = s->breaker.open_until;
    sy_endpoint_publish(s);
    if (s->breaker.state != before && changed) changed(ctx, s);
    pthread_mutex_unlock(&s->mu);
    return look;
}

/* Would releasing this permit with this outcome leave the breaker as it is? */
static int release_is_noop(const sy_endpoint_state *s, sy_breaker_permit permit,
                           sy_breaker_outcome outcome)
{
    if (permit.probe || outcome == SY_OUTCOME_FAILURE) return 0;
    /* Not a probe, not a failure: the breaker only ever zeroes a closed
     * breaker's failure count for a success of the current generation
     * (breaker.c); a neutral end changes nothing at all. */
    if (outcome == SY_OUTCOME_NEUTRAL) return 1;
    uint64_t gate = atomic_load_explicit(&s->gate, memory_order_acquire);
    return (gate & 1u) && gate >> 1 == permit.generation;
}

int sy_endpoint_release(sy_endpoint_state *s, const sy_breaker_conf *c, uint64_t now,
                        sy_breaker_permit permit, sy_breaker_outcome outcome,
                        sy_endpoint_changed_fn changed, void *ctx)
{
    if (release_is_noop(s, permit, outcome)) return 0;
    pthread_mutex_lock(&s->mu);
    int moved = sy_breaker_release(&s->breaker, c, now, permit, outcome);
    sy_endpoint_publish(s);
    if (moved && changed) changed(ctx, s);
    int opened = moved && s->breaker.state == SY_BREAKER_OPEN;
    pthread_mutex_unlock(&s->mu);
    return opened;
}

void sy_endpoint_cool(sy_endpoint_state *s, const char *model, uint64_t until_ns, uint64_t now_ns)
{
    pthread_mutex_lock(&s->mu);
    sy_cooldown_set(&s->cool, model, until_ns, now_ns);
    sy_endpoint_publish(s);
    pthread_mutex_unlock(&s->mu);
}

int sy_endpoint_set_healthy(sy_endpoint_state *s, int up, sy_endpoint_changed_fn changed, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    int moved = s->healthy != up;
    s->healthy = up;
    sy_endpoint_publish(s);
    if (moved && changed) changed(ctx, s);
    pthread_mutex_unlock(&s->mu);
    return moved;
}

void sy_endpoint_attempt_ends(sy_endpoint_state *s)
{
    uint32_t n = atomic_load_explicit(&s->in_flight, memory_order_relaxed);
    while (n && !atomic_compare_exchange_weak_explicit(&s->in_flight, &n, n - 1,
                                                       memory_order_relaxed, memory_order_relaxed)) {
    }
}

static double bits_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

void sy_endpoint_ewma(const sy_endpoint_state *s, sy_ewma *out)
{
    out->value_ns = bits_double(atomic_load_explicit(&s->ewma_bits, memory_order_relaxed));
    out->last_ns = atomic_load_explicit(&s->ewma_last_ns, memory_order_relaxed);
    out->samples = atomic_load_explicit(&s->ewma_samples, memory_order_relaxed);
    out->in_flight = atomic_load_explicit(&s->in_flight, memory_order_relaxed);
}

void sy_endpoint_observe_latency(sy_endpoint_state *s, uint64_t latency_ns, uint64_t now_ns)
{
    sy_ewma e;
    sy_endpoint_ewma(s, &e);
    sy_ewma_observe(&e, latency_ns, now_ns);
    atomic_store_explicit(&s->ewma_bits, double_bits(e.value_ns), memory_order_relaxed);
    atomic_store_explicit(&s->ewma_last_ns, e.last_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->ewma_samples, 1, memory_order_relaxed);
}
