/* counting.c - what the rollout counts (see counting.h). */
#include "counting.h"

#include <switchyard/plugin.h>

#include <string.h>

#define NS_PER_MS 1000000ull

void sy_ro_conf_from_policy(const sy_policy *p, sy_ro_conf *c)
{
    const sy_migration_conf *m = &p->migration;
    const sy_rollback_conf *rb = &m->rollback;
    memset(c, 0, sizeof *c);
    c->id = m->rollout_id;
    c->percent = m->percent;
    c->steps = m->steps;
    c->n_steps = m->n_steps;
    c->step_after_ns = (uint64_t)m->step_after_ms * NS_PER_MS;
    int64_t window_ms = rb->enabled && rb->window_ms > 0 ? rb->window_ms : SY_RO_DEFAULT_WINDOW_MS;
    c->window_ns = (uint64_t)window_ms * NS_PER_MS;
    c->min_requests = (uint64_t)(rb->enabled && rb->min_requests > 0 ? rb->min_requests
                                                                    : SY_RO_DEFAULT_MIN_REQUESTS);
    if (rb->enabled) {
        c->success_rate_below = rb->success_rate_below / 100.0;
        c->p95_above_ns = (uint64_t)rb->p95_above_ms * NS_PER_MS;
    }
}

/* Failures that are not the provider's: not counted either way. */
static int neutral(const char *failure)
{
    static const char *const names[] = {"client_error", "client_gone", "shutdown", "plugin_error",
                                        "too_large"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(failure, names[i])) return 1;
    return 0;
}

int sy_ro_count_attempt(const sy_attempt_event *e, int latency_total, int *arm, int *failed,
                        uint64_t *latency_ns)
{
    if (e->budget_exhausted || !e->arm) return 0;
    /* Reading or deleting a stored response is no model call: its latency
     * says nothing about the canary's answers, and it goes where the
     * response lives, whatever the arm. */
    if (e->op == SY_OP_RESPONSE_ITEM) return 0;
    if (!strcmp(e->arm, "canary")) *arm = 1;
    else if (!strcmp(e->arm, "stable")) *arm = 0;
    else return 0;
    if (e->failure && neutral(e->failure)) return 0;
    *failed = e->failure != NULL;
    *latency_ns = 0;
    if (!e->failure) {
        uint64_t upto = !latency_total && e->ttfb_ns ? e->ttfb_ns : e->end_ns;
        *latency_ns = upto > e->start_ns ? upto - e->start_ns : 0;
    }
    return 1;
}
