/*
 * health.h - the active health of one upstream endpoint: the state machine
 * that the prober (engine/prober.h) feeds with each probe's result.
 *
 * Pure: no clock, no lock, no allocation. The caller serialises calls on one
 * sy_health and passes the thresholds of the current policy each time (so a
 * reload that changes them applies from the next probe on).
 *
 *   UP   --unhealthy_after consecutive failed probes--> DOWN
 *   DOWN --healthy_after consecutive good probes-------> UP
 *
 * A good probe while up, or a failed one while down, resets the other run.
 *
 * It starts UP. A new endpoint (at start-up, or added by a reload) then takes
 * traffic at once, exactly as it would without health checks, and its breaker
 * still guards it; a dead one is taken out by its first unhealthy_after
 * probes (the first probe goes at once). Starting DOWN would keep the router
 * unready for healthy_after probe intervals (a minute with the defaults) after
 * every start, and would hold back a new endpoint that is fine.
 */
#ifndef SY_HEALTH_H
#define SY_HEALTH_H

typedef struct sy_health {
    int up;    /* 1: healthy */
    int fails; /* consecutive failed probes while up */
    int goods; /* consecutive good probes while down */
} sy_health;

/* Up, with no probe seen. */
void sy_health_init(sy_health *h);

/* One probe ended: ok 1 good, 0 failed. Thresholds below 1 count as 1.
 * Returns 1 when h->up changed, 0 otherwise. */
int sy_health_record(sy_health *h, int ok, int unhealthy_after, int healthy_after);

#endif
