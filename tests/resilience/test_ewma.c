/* Unit tests for the peak-EWMA latency. */
#include <criterion/criterion.h>

#include "ewma.h"

#define MS 1000000ull

Test(ewma, peak_jumps_up_at_once_and_decays_with_time)
{
    sy_ewma e;
    sy_ewma_init(&e);
    sy_ewma_observe(&e, 100 * MS, 0);
    cr_assert_float_eq(e.value_ns, 100.0 * MS, 1);
    sy_ewma_observe(&e, 900 * MS, 1 * MS);
    cr_assert_float_eq(e.value_ns, 900.0 * MS, 1, "a slower sample replaces the value at once");
    /* One tau later a fast sample takes about 63 % of the way down. */
    sy_ewma_observe(&e, 100 * MS, 1 * MS + SY_EWMA_TAU_NS);
    double want = 900.0 * MS * 0.36787944 + 100.0 * MS * (1 - 0.36787944);
    cr_assert_float_eq(e.value_ns, want, 1e3);
    /* Samples arriving at the same instant barely move it. */
    double before = e.value_ns;
    sy_ewma_observe(&e, 1 * MS, 1 * MS + SY_EWMA_TAU_NS);
    cr_assert_float_eq(e.value_ns, before, 1);
}

Test(ewma, cost_uses_unknown_and_in_flight)
{
    sy_ewma e;
    sy_ewma_init(&e);
    cr_assert_float_eq(sy_ewma_cost(&e, 50.0), 50.0, 1e-9);
    sy_ewma_observe(&e, 200, 0);
    e.in_flight = 2;
    cr_assert_float_eq(sy_ewma_cost(&e, 50.0), 600.0, 1e-9);
}
