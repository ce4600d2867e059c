/* ewma.c - peak-EWMA latency (see ewma.h). */
#include "ewma.h"

#include <math.h>
#include <string.h>

void sy_ewma_init(sy_ewma *e) { memset(e, 0, sizeof *e); }

void sy_ewma_observe(sy_ewma *e, uint64_t latency_ns, uint64_t now_ns)
{
    double x = (double)latency_ns;
    if (e->samples == 0 || x > e->value_ns) {
        e->value_ns = x;
    } else {
        double dt = now_ns > e->last_ns ? (double)(now_ns - e->last_ns) : 0.0;
        double w = exp(-dt / (double)SY_EWMA_TAU_NS);
        e->value_ns = e->value_ns * w + x * (1.0 - w);
    }
    e->last_ns = now_ns;
    e->samples++;
}

double sy_ewma_cost(const sy_ewma *e, double unknown_ns)
{
    double v = e->samples ? e->value_ns : unknown_ns;
    return v * (double)(e->in_flight + 1);
}
