/* retry_budget.c - a sliding-window retry budget (see retry_budget.h). */
#include "retry_budget.h"

#include <string.h>

void sy_retry_budget_init(sy_retry_budget *b) { memset(b, 0, sizeof *b); }

/* The bucket of this second, emptied if it last held an older second. */
static unsigned bucket(sy_retry_budget *b, uint64_t now_ns)
{
    uint64_t sec = now_ns / 1000000000u;
    unsigned i = (unsigned)(sec % SY_RETRY_BUDGET_SECONDS);
    if (b->second[i] != sec) {
        b->second[i] = sec;
        b->requests[i] = 0;
        b->retries[i] = 0;
    }
    return i;
}

void sy_retry_budget_request(sy_retry_budget *b, uint64_t now_ns)
{
    unsigned i = bucket(b, now_ns);
    if (b->requests[i] < UINT32_MAX) b->requests[i]++;
}

int sy_retry_budget_take(sy_retry_budget *b, double ratio, double min_per_second, uint64_t now_ns)
{
    unsigned cur = bucket(b, now_ns);
    uint64_t sec = now_ns / 1000000000u;
    double requests = 0, retries = 0;
    for (unsigned i = 0; i < SY_RETRY_BUDGET_SECONDS; i++) {
        if (sec - b->second[i] >= SY_RETRY_BUDGET_SECONDS) continue; /* stale bucket */
        requests += b->requests[i];
        retries += b->retries[i];
    }
    double allowed = ratio * requests + min_per_second * SY_RETRY_BUDGET_SECONDS;
    if (retries + 1 > allowed) {
        b->exhausted++;
        return 0;
    }
    if (b->retries[cur] < UINT32_MAX) b->retries[cur]++;
    return 1;
}
