/* retry_budget.c - a sliding-window retry budget (see retry_budget.h). */
#include "retry_budget.h"

void sy_retry_budget_init(sy_retry_budget *b)
{
    for (unsigned i = 0; i < SY_RETRY_BUDGET_SECONDS; i++) {
        atomic_init(&b->requests[i], 0);
        atomic_init(&b->retries[i], 0);
    }
    atomic_init(&b->exhausted, 0);
}

static uint32_t second_of(uint64_t now_ns) { return (uint32_t)(now_ns / 1000000000u); }

/* Count one in the bucket of second sec: the bucket starts over when it
 * still holds an older second. A bucket already holding a later second (a
 * caller whose "now" is over the whole window late) is left alone. */
static void bump(_Atomic uint64_t *bucket, uint32_t sec)
{
    uint64_t old = atomic_load_explicit(bucket, memory_order_relaxed), next;
    do {
        uint32_t held = (uint32_t)(old >> 32), count = (uint32_t)old;
        if (held == sec) next = count < UINT32_MAX ? old + 1 : old;
        else if ((int32_t)(sec - held) > 0) next = (uint64_t)sec << 32 | 1u;
        else return;
    } while (!atomic_compare_exchange_weak_explicit(bucket, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

/* A bucket's count if its second is inside the window ending at sec. */
static double in_window(const _Atomic uint64_t *bucket, uint32_t sec)
{
    uint64_t w = atomic_load_explicit(bucket, memory_order_relaxed);
    return sec - (uint32_t)(w >> 32) < SY_RETRY_BUDGET_SECONDS ? (double)(uint32_t)w : 0;
}

void sy_retry_budget_request(sy_retry_budget *b, uint64_t now_ns)
{
    uint32_t sec = second_of(now_ns);
    bump(&b->requests[sec % SY_RETRY_BUDGET_SECONDS], sec);
}

int sy_retry_budget_take(sy_retry_budget *b, double ratio, double min_per_second, uint64_t now_ns)
{
    uint32_t sec = second_of(now_ns);
    double requests = 0, retries = 0;
    for (unsigned i = 0; i < SY_RETRY_BUDGET_SECONDS; i++) {
        requests += in_window(&b->requests[i], sec);
        retries += in_window(&b->retries[i], sec);
    }
    double allowed = ratio * requests + min_per_second * SY_RETRY_BUDGET_SECONDS;
    if (retries + 1 > allowed) {
        atomic_fetch_add_explicit(&b->exhausted, 1, memory_order_relaxed);
        return 0;
    }
    bump(&b->retries[sec % SY_RETRY_BUDGET_SECONDS], sec);
    return 1;
}
