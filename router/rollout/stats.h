/*
 * stats.h - the statistics the rollback rule rests on (docs/rollout.md).
 *
 * The Wilson score interval of a binomial proportion: given k of n, bounds
 * for the true proportion at confidence z (one-sided). Unlike the plain
 * observed rate it widens on little data, so 2 failures in 200 requests do
 * not "prove" a 99.5 % success rate was missed, while 10 in 200 do.
 */
#ifndef SY_STATS_H
#define SY_STATS_H

#include <stdint.h>

/* z of the rollback rule: one-sided 99.9 % (the standard normal's 0.999
 * quantile). Chosen by simulation: the window is tested every tick as it
 * slides, so a 95 % bound would fire on a healthy canary many times a day
 * (docs/rollout.md has the figures). */
#define SY_ROLLBACK_Z 3.090232

/* Lower and upper Wilson bounds for the proportion k/n at z; n == 0 gives
 * 0 and 1 (nothing known). */
double sy_wilson_lower(double k, uint64_t n, double z);
double sy_wilson_upper(double k, uint64_t n, double z);

#endif
