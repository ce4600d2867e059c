/* stats.c - Wilson score bounds (see stats.h). */
#include "stats.h"

#include <math.h>

static double wilson(double k, uint64_t n, double z, double sign)
{
    double nn = (double)n, p = k / nn, z2 = z * z;
    double centre = p + z2 / (2 * nn);
    double spread = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    double b = (centre + sign * spread) / (1 + z2 / nn);
    return b < 0 ? 0 : b > 1 ? 1 : b;
}

double sy_wilson_lower(double k, uint64_t n, double z) { return n ? wilson(k, n, z, -1) : 0; }
double sy_wilson_upper(double k, uint64_t n, double z) { return n ? wilson(k, n, z, +1) : 1; }
