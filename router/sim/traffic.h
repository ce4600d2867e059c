/*
 * traffic.h - the client requests of a simulation, one arrival at a time.
 *
 * From a scenario's `traffic`: arrivals form a Poisson process at `rate`
 * per second (exponential gaps), each from a user drawn uniformly from
 * `users` ("u0" .. "u<users-1>", the sticky key), for a model drawn by the
 * `models` weights, streamed with chance `stream_share`. The draws come
 * from a stream of their own, seeded from the run's seed (splitmix64), not
 * from rng.h's generator that the engine (backoff jitter) and the outcomes
 * draw from: so one seed gives one traffic whatever the policy does with
 * it, and two policies simulated with the same seed see the same arrivals.
 *
 * From a replay (replay.h): the log's arrival times, models, stream flags
 * and pseudo-users, in order; nothing is drawn.
 *
 * Either way arrivals stop at `duration` (when the scenario gives one).
 */
#ifndef SY_TRAFFIC_H
#define SY_TRAFFIC_H

#include <stdint.h>

#include <switchyard/plugin.h>

#include "replay.h"
#include "scenario.h"

typedef struct sy_arrival {
    int64_t at_us;          /* since the start */
    const char *model;      /* borrowed from the scenario or the replay */
    int stream;
    sy_op op;
    char user[32];          /* the sticky key */
} sy_arrival;

typedef struct sy_traffic {
    const sy_scenario *s;
    const sy_replay *replay;  /* NULL: the scenario's Poisson traffic */
    int64_t end_us;           /* no arrival at or after this; INT64_MAX: none */
    double *cum;              /* the models' cumulative weights, normalised */
    double t_us;              /* the last arrival (Poisson) */
    size_t next;              /* the next replay item */
    uint64_t rng;             /* the traffic's own stream (splitmix64 state) */
    uint64_t count;
} sy_traffic;

/* replay may be NULL. Returns 0, or -1 when out of memory. */
int sy_traffic_init(sy_traffic *t, const sy_scenario *s, const sy_replay *replay,
                    int64_t duration_ms, uint64_t seed);
void sy_traffic_fini(sy_traffic *t);

/* The next arrival: 1 and *out filled, or 0 when the traffic is over. */
int sy_traffic_next(sy_traffic *t, sy_arrival *out);

#endif
