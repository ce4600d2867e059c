/* ratelimit.c - a lock-free token bucket (GCRA; see ratelimit.h). */
#include "ratelimit.h"

int64_t sy_ratelimit_take(sy_ratelimit *b, const sy_rate_limit_conf *rl, uint64_t now_ns)
{
    if (!rl->enabled || rl->rps <= 0) return 0;
    double burst = rl->burst >= 1 ? rl->burst : 1;
    double interval = 1e9 / rl->rps;             /* ns one token is worth */
    double tolerance = (burst - 1) * interval;   /* how far ahead the bucket may run */
    uint64_t tat = atomic_load_explicit(&b->tat, memory_order_relaxed);
    for (;;) {
        uint64_t from = tat > now_ns ? tat : now_ns;
        double ahead = (double)(from - now_ns);
        if (ahead > tolerance) {
            /* Refused: a token is back when the bucket is one interval less ahead. */
            return (int64_t)((ahead - tolerance) / 1e6) + 1;
        }
        uint64_t next = from + (uint64_t)interval;
        if (atomic_compare_exchange_weak_explicit(&b->tat, &tat, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 0;
    }
}
