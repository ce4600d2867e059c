/* rollout_sim.c - the rollout controller on the simulated clock (see
 * rollout_sim.h). */
#include "rollout_sim.h"

#include <stdio.h>
#include <string.h>

#include "counting.h"

enum { ARM_STABLE = 0, ARM_CANARY = 1 };

int sy_sim_rollout_init(sy_sim_rollout *r, const sy_policy *p, uint64_t now, int64_t wall)
{
    memset(r, 0, sizeof *r);
    sy_ro_init(&r->ctl);
    r->active = p->migration.enabled;
    if (!r->active) return 0;
    r->latency_total = p->migration.rollback.latency == SY_LATENCY_TOTAL;
    sy_ro_conf conf;
    sy_ro_conf_from_policy(p, &conf);
    for (int a = 0; a < 2; a++) sy_window_init(&r->arm[a], conf.window_ns);
    sy_ro_change ch;
    return sy_ro_configure(&r->ctl, &conf, now, wall, &ch) != 0 ? -1 : 0;
}

void sy_sim_rollout_fini(sy_sim_rollout *r) { sy_ro_free(&r->ctl); }

void sy_sim_rollout_on_attempt(void *ctx, const sy_attempt_event *e)
{
    sy_sim_rollout *r = ctx;
    int arm, failed;
    uint64_t latency;
    if (r->active && sy_ro_count_attempt(e, r->latency_total, &arm, &failed, &latency))
        sy_window_add(&r->arm[arm], e->end_ns, failed, latency);
}

static void collect_canary(void *ctx, uint64_t since, sy_window_sum *out)
{
    sy_sim_rollout *r = ctx;
    sy_window_collect(&r->arm[ARM_CANARY], r->now, since, out);
}

void sy_sim_rollout_tick(sy_sim_rollout *r, uint64_t now, int64_t wall, sy_ro_change *out)
{
    memset(out, 0, sizeof *out);
    if (!r->active) return;
    r->now = now;
    sy_ro_tick(&r->ctl, now, wall, collect_canary, r, out);
}

int sy_sim_rollout_action(sy_sim_rollout *r, const char *action, double percent, uint64_t now,
                          int64_t wall, sy_ro_change *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r->active) {
        snprintf(err, errlen, "the policy has no migration.canary: there is no rollout to act on");
        return -2;
    }
    return sy_ro_action(&r->ctl, action, percent, now, wall, out, err, errlen);
}

double sy_sim_rollout_share(const sy_sim_rollout *r) { return r->active ? r->ctl.share : 0; }
