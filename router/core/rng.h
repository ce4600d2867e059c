/*
 * rng.h - the one source of randomness (xoshiro256**), seeded once.
 * Each thread has its own state derived from the process seed, so draws need
 * no lock; a fixed seed (SWITCHYARD_SEED or sy_rng_seed) makes runs repeatable.
 */
#ifndef SY_RNG_H
#define SY_RNG_H

#include <stdint.h>

void sy_rng_seed(uint64_t seed);
uint64_t sy_rng_u64(void);
/* Uniform in [0, 1). */
double sy_rng_unit(void);
/* Uniform in [0, n) for n > 0. */
uint64_t sy_rng_below(uint64_t n);

#endif
