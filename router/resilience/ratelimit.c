/* ratelimit.c - a token bucket (see ratelimit.h). */
#include "ratelimit.h"

int64_t sy_ratelimit_take(sy_ratelimit *b, const sy_rate_limit_conf *rl, uint64_t now_ns)
{
    if (!rl->enabled || rl->rps <= 0) return 0;
    double burst = rl->burst >= 1 ? rl->burst : 1;
    if (!b->primed) {
        b->tokens = burst;
        b->last_ns = now_ns;
        b->primed = 1;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * rl->rps;
        b->last_ns = now_ns;
    }
    if (b->tokens > burst) b->tokens = burst; /* also applies a lowered burst after a reload */
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return (int64_t)((1 - b->tokens) / rl->rps * 1000.0) + 1;
}
