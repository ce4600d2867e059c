/* traffic.c - a simulation's arrivals (see traffic.h). */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The traffic's own stream: splitmix64, a fine generator for this and
 * independent of rng.h's (see traffic.h). */
static uint64_t next_u64(sy_traffic *t)
{
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(sy_traffic *t) { return (double)(next_u64(t) >> 11) * 0x1.0p-53; }

static uint64_t below(sy_traffic *t, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;
    do r = next_u64(t); while (r >= limit);
    return r % n;
}

int sy_traffic_init(sy_traffic *t, const sy_scenario *s, const sy_replay *replay,
                    int64_t duration_ms, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->rng = seed ^ 0x7472616666696321ull; /* "traffic!": apart from other uses of the seed */
    t->s = s;
    t->replay = replay;
    t->end_us = duration_ms > 0 ? duration_ms * 1000 : INT64_MAX;
    if (replay || !s->n_models) return 0;
    t->cum = malloc(s->n_models * sizeof *t->cum);
    if (!t->cum) return -1;
    double total = 0, run = 0;
    for (size_t i = 0; i < s->n_models; i++) total += s->models[i].weight;
    for (size_t i = 0; i < s->n_models; i++) {
        run += s->models[i].weight;
        t->cum[i] = run / total;
    }
    t->cum[s->n_models - 1] = 1.0;
    return 0;
}

void sy_traffic_fini(sy_traffic *t)
{
    free(t->cum);
    t->cum = NULL;
}

static int from_replay(sy_traffic *t, sy_arrival *out)
{
    const sy_replay *r = t->replay;
    if (t->next >= r->n_items) return 0;
    const sy_replay_item *it = &r->items[t->next];
    if (it->at_ms * 1000 >= t->end_us) return 0;
    t->next++;
    out->at_us = it->at_ms * 1000;
    out->model = r->models[it->model];
    out->stream = it->stream;
    out->op = (sy_op)it->op;
    int64_t users = t->s->has_traffic ? t->s->users : 0;
    if (users > 0)
        snprintf(out->user, sizeof out->user, "u%llu",
                 (unsigned long long)(it->user_hash % (uint64_t)users));
    else
        snprintf(out->user, sizeof out->user, "r%016llx", (unsigned long long)it->user_hash);
    return 1;
}

int sy_traffic_next(sy_traffic *t, sy_arrival *out)
{
    int ok = t->replay ? from_replay(t, out) : 0;
    if (!t->replay) {
        const sy_scenario *s = t->s;
        /* Exponential gap; 1 - unit() is in (0, 1], so the log is finite. */
        t->t_us += -log(1.0 - unit(t)) * 1e6 / s->rate;
        if (t->t_us >= (double)t->end_us) return 0;
        out->at_us = (int64_t)t->t_us;
        snprintf(out->user, sizeof out->user, "u%llu",
                 (unsigned long long)below(t, (uint64_t)s->users));
        double u = unit(t);
        size_t m = 0;
        while (m + 1 < s->n_models && u >= t->cum[m]) m++;
        out->model = s->models[m].name;
        out->stream = s->stream_share > 0 && unit(t) < s->stream_share;
        out->op = SY_OP_CHAT;
        ok = 1;
    }
    if (ok) t->count++;
    return ok;
}
