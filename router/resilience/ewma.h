/*
 * ewma.h - peak-EWMA latency of one endpoint, for `balance: latency`.
 *
 * As in Finagle's and linkerd's peak EWMA: a sample above the current value
 * replaces it at once (a region that just got slow is avoided at once), a
 * sample below it decays toward it with weight exp(-dt / tau) (a region that
 * recovered earns its traffic back over about tau). The value used to rank
 * endpoints also grows with the attempts in flight, so one endpoint does not
 * take every request while its latency is still unknown.
 *
 * Pure: the caller passes "now" and serialises calls on one ewma.
 */
#ifndef SY_EWMA_H
#define SY_EWMA_H

#include <stdint.h>

#define SY_EWMA_TAU_NS (10ull * 1000000000ull) /* 10 s */

typedef struct sy_ewma {
    double value_ns;    /* 0 = no sample yet */
    uint64_t last_ns;   /* time of the last sample */
    uint32_t in_flight;
    uint64_t samples;
} sy_ewma;

void sy_ewma_init(sy_ewma *e);
void sy_ewma_observe(sy_ewma *e, uint64_t latency_ns, uint64_t now_ns);
/* Rank: lower is better. An endpoint with no sample ranks as `unknown_ns`
 * (pass the best known value, so new endpoints get tried). */
double sy_ewma_cost(const sy_ewma *e, double unknown_ns);

#endif
