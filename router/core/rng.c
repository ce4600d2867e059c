/* rng.c - xoshiro256** with per-thread state derived from one process seed. */
#include "rng.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static _Atomic uint64_t process_seed;
static _Atomic uint64_t thread_counter;
static _Atomic uint64_t seed_generation; /* bumps on sy_rng_seed so threads reseed */

static _Thread_local uint64_t state[4];
static _Thread_local uint64_t state_generation; /* 0 = never seeded */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sy_rng_seed(uint64_t seed)
{
    atomic_store(&process_seed, seed);
    atomic_store(&thread_counter, 0);
    atomic_fetch_add(&seed_generation, 1);
}

static void seed_this_thread(void)
{
    uint64_t gen = atomic_load(&seed_generation);
    if (gen == 0) {
        /* First use anywhere: SWITCHYARD_SEED, else time. */
        const char *env = getenv("SWITCHYARD_SEED");
        uint64_t s = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)clock();
        uint64_t expected = 0;
        atomic_store(&process_seed, s);
        atomic_compare_exchange_strong(&seed_generation, &expected, 1);
        gen = atomic_load(&seed_generation);
    }
    uint64_t x = atomic_load(&process_seed) + 0x632be59bd9b4e019ull * (atomic_fetch_add(&thread_counter, 1) + 1);
    for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
    state_generation = gen;
}

uint64_t sy_rng_u64(void)
{
    if (state_generation != atomic_load_explicit(&seed_generation, memory_order_relaxed) ||
        state_generation == 0)
        seed_this_thread();
    const uint64_t result = rotl(state[1] * 5, 7) * 9;
    const uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

double sy_rng_unit(void) { return (double)(sy_rng_u64() >> 11) * 0x1.0p-53; }

uint64_t sy_rng_below(uint64_t n)
{
    /* Lemire's nearly divisionless method would be faster; rejection keeps it unbiased and simple. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = sy_rng_u64(); while (r >= limit);
    return r % n;
}
