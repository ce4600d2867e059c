/* ratelimit.c - a process-wide token bucket (see ratelimit.h). A mutex keeps
 * it exact across workers; it is held for a few arithmetic operations. */
#include "ratelimit.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double tokens;
static uint64_t last_ns;
static int primed;

void sy_ratelimit_reset(void)
{
    pthread_mutex_lock(&lock);
    primed = 0;
    pthread_mutex_unlock(&lock);
}

int64_t sy_ratelimit_take(const sy_rate_limit_conf *rl, uint64_t now_ns)
{
    if (!rl->enabled || rl->rps <= 0) return 0;
    double burst = rl->burst >= 1 ? rl->burst : 1;
    int64_t wait_ms = 0;
    pthread_mutex_lock(&lock);
    if (!primed) {
        tokens = burst;
        last_ns = now_ns;
        primed = 1;
    }
    if (now_ns > last_ns) {
        tokens += (double)(now_ns - last_ns) / 1e9 * rl->rps;
        last_ns = now_ns;
    }
    if (tokens > burst) tokens = burst; /* also applies a lowered burst after a reload */
    if (tokens >= 1) {
        tokens -= 1;
    } else {
        wait_ms = (int64_t)((1 - tokens) / rl->rps * 1000.0) + 1;
    }
    pthread_mutex_unlock(&lock);
    return wait_ms;
}
