/* breaker.c - one endpoint's circuit breaker (see breaker.h). */
#include "breaker.h"

#include <string.h>

static const uint64_t NS_PER_MS = 1000000u;

void sy_breaker_init(sy_breaker *b)
{
    memset(b, 0, sizeof *b);
    b->state = SY_BREAKER_CLOSED;
}

const char *sy_breaker_state_name(sy_breaker_state s)
{
    switch (s) {
    case SY_BREAKER_CLOSED: return "closed";
    case SY_BREAKER_HALF_OPEN: return "half_open";
    case SY_BREAKER_OPEN: return "open";
    }
    return "closed";
}

static void enter(sy_breaker *b, sy_breaker_state s, const sy_breaker_conf *c, uint64_t now)
{
    b->state = s;
    b->generation++;
    b->failures = 0;
    b->probe_successes = 0;
    b->probes_in_flight = 0;
    if (s == SY_BREAKER_OPEN) {
        b->opens++;
        b->open_until = now + (uint64_t)c->open_for_ms * NS_PER_MS;
    }
}

/* OPEN whose time is up becomes HALF_OPEN; returns the state after. */
static sy_breaker_state settle(sy_breaker *b, const sy_breaker_conf *c, uint64_t now)
{
    if (b->state == SY_BREAKER_OPEN && now >= b->open_until) enter(b, SY_BREAKER_HALF_OPEN, c, now);
    return b->state;
}

sy_breaker_refusal sy_breaker_acquire(sy_breaker *b, const sy_breaker_conf *c, uint64_t now,
                                      sy_breaker_permit *permit, uint64_t *retry_at_ns)
{
    if (retry_at_ns) *retry_at_ns = 0;
    switch (settle(b, c, now)) {
    case SY_BREAKER_OPEN:
        if (retry_at_ns) *retry_at_ns = b->open_until;
        return SY_BREAKER_REFUSED_OPEN;
    case SY_BREAKER_HALF_OPEN:
        if (b->probes_in_flight >= c->half_open_max_calls) return SY_BREAKER_REFUSED_PROBES;
        b->probes_in_flight++;
        *permit = (sy_breaker_permit){1, b->generation};
        return SY_BREAKER_ALLOWED;
    case SY_BREAKER_CLOSED:
        break;
    }
    *permit = (sy_breaker_permit){0, b->generation};
    return SY_BREAKER_ALLOWED;
}

int sy_breaker_release(sy_breaker *b, const sy_breaker_conf *c, uint64_t now,
                       sy_breaker_permit permit, sy_breaker_outcome outcome)
{
    sy_breaker_state before = b->state;
    /* A permit from before the last state change says nothing about the
     * endpoint as it is now (e.g. a slow attempt started while closed ends
     * after the breaker opened): its probe slot is gone with that state. */
    if (permit.generation != b->generation) {
        /* Still, a failure seen while closed counts toward opening. */
        if (b->state == SY_BREAKER_CLOSED && outcome == SY_OUTCOME_FAILURE &&
            ++b->failures >= c->failure_threshold)
            enter(b, SY_BREAKER_OPEN, c, now);
        return b->state != before;
    }
    if (permit.probe && b->probes_in_flight > 0) b->probes_in_flight--;
    switch (b->state) {
    case SY_BREAKER_CLOSED:
        if (outcome == SY_OUTCOME_SUCCESS) b->failures = 0;
        else if (outcome == SY_OUTCOME_FAILURE && ++b->failures >= c->failure_threshold)
            enter(b, SY_BREAKER_OPEN, c, now);
        break;
    case SY_BREAKER_HALF_OPEN:
        if (outcome == SY_OUTCOME_FAILURE) enter(b, SY_BREAKER_OPEN, c, now);
        else if (outcome == SY_OUTCOME_SUCCESS && ++b->probe_successes >= c->success_threshold)
            enter(b, SY_BREAKER_CLOSED, c, now);
        break;
    case SY_BREAKER_OPEN:
        break;
    }
    return b->state != before;
}

int sy_breaker_usable(const sy_breaker *b, const sy_breaker_conf *c, uint64_t now)
{
    switch (b->state) {
    case SY_BREAKER_CLOSED: return 1;
    case SY_BREAKER_OPEN: return now >= b->open_until;
    case SY_BREAKER_HALF_OPEN: return b->probes_in_flight < c->half_open_max_calls;
    }
    return 1;
}
