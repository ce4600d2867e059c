/* health.c - the active health state machine of one endpoint (see health.h). */
#include "health.h"

void sy_health_init(sy_health *h)
{
    h->up = 1;
    h->fails = 0;
    h->goods = 0;
}

int sy_health_record(sy_health *h, int ok, int unhealthy_after, int healthy_after)
{
    if (unhealthy_after < 1) unhealthy_after = 1;
    if (healthy_after < 1) healthy_after = 1;
    if (h->up) {
        h->goods = 0;
        if (ok) {
            h->fails = 0;
            return 0;
        }
        if (++h->fails < unhealthy_after) return 0;
        h->up = 0;
        h->fails = 0;
        return 1;
    }
    h->fails = 0;
    if (!ok) {
        h->goods = 0;
        return 0;
    }
    if (++h->goods < healthy_after) return 0;
    h->up = 1;
    h->goods = 0;
    return 1;
}
