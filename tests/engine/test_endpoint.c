/*
 * Unit tests for an endpoint's shared state (router/engine/endpoint.h): the
 * lock-free paths give the answers the breaker, cooldowns and health flag
 * give under the lock, and an endpoint that answers is used without its
 * mutex.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "endpoint.h"

#define MS 1000000ull

static const sy_breaker_conf conf = {
    .failure_threshold = 3, .success_threshold = 2, .open_for_ms = 100, .half_open_max_calls = 2};

/* ------------------------------------------------ the locked reference */

/* The endpoint as it was decided before the lock-free paths: everything
 * under one lock, straight from breaker.h and cooldown.h. */
typedef struct ref {
    sy_breaker b;
    sy_cooldowns cool;
    int healthy;
} ref;

static sy_endpoint_look ref_acquire(ref *r, const char *model, uint64_t now, sy_breaker_permit *permit)
{
    sy_endpoint_look look = {0, r->healthy, 0, 0};
    look.cool_until = sy_cooldown_until(&r->cool, model, now);
    look.ok = r->healthy && !look.cool_until &&
              (permit ? sy_breaker_acquire(&r->b, &conf, now, permit, NULL) == SY_BREAKER_ALLOWED
                      : sy_breaker_usable(&r->b, &conf, now));
    if (!look.ok && r->b.state == SY_BREAKER_OPEN) look.open_until = r->b.open_until;
    return look;
}

static int changes;
static void count_change(void *ctx, const sy_endpoint_state *s)
{
    (void)ctx;
    (void)s;
    changes++;
}

static void expect_same_breaker(const sy_endpoint_state *s, const ref *r, int step)
{
    cr_assert_eq(s->breaker.state, r->b.state, "step %d: state", step);
    cr_assert_eq(s->breaker.failures, r->b.failures, "step %d: failures", step);
    cr_assert_eq(s->breaker.probes_in_flight, r->b.probes_in_flight, "step %d: probes", step);
    cr_assert_eq(s->breaker.probe_successes, r->b.probe_successes, "step %d: probe successes", step);
    cr_assert_eq(s->breaker.generation, r->b.generation, "step %d: generation", step);
    cr_assert_eq(s->healthy, r->healthy, "step %d: health", step);
}

/* A refusal's "when" matters only where the engine uses it: with the
 * endpoint healthy (the soonest time to wait for). */
static void expect_same_look(sy_endpoint_look a, sy_endpoint_look b, int step)
{
    cr_assert_eq(a.ok, b.ok, "step %d: ok", step);
    cr_assert_eq(a.healthy, b.healthy, "step %d: healthy", step);
    if (!a.ok && a.healthy) {
        cr_assert_eq(a.cool_until, b.cool_until, "step %d: cool_until", step);
        cr_assert_eq(a.open_until, b.open_until, "step %d: open_until", step);
    }
}

/* Random operations on both: every answer and every breaker field agree. */
Test(endpoint, lock_free_paths_agree_with_the_locked_breaker)
{
    static const char *models[] = {"gpt-4o", "gpt-4o-mini"};
    for (unsigned seed = 1; seed <= 40; seed++) {
        srand(seed);
        sy_endpoint_state s;
        memset(&s, 0, sizeof s);
        sy_endpoint_init(&s);
        ref r;
        sy_breaker_init(&r.b);
        memset(&r.cool, 0, sizeof r.cool);
        r.healthy = 1;
        sy_breaker_permit held[64];
        int n_held = 0;
        uint64_t now = 1000 * MS;
        for (int step = 0; step < 2000; step++) {
            int op = rand() % 100;
            const char *model = models[rand() % 2];
            if (op < 40) { /* an attempt asks */
                sy_breaker_permit p1 = {0, 0}, p2 = {0, 0};
                sy_endpoint_look a = sy_endpoint_acquire(&s, &conf, model, now, &p1, count_change, NULL);
                sy_endpoint_look b = ref_acquire(&r, model, now, &p2);
                expect_same_look(a, b, step);
                if (a.ok) {
                    cr_assert_eq(p1.probe, p2.probe, "step %d: permit kind", step);
                    cr_assert_eq(p1.generation, p2.generation, "step %d: permit generation", step);
                    if (n_held < 64) held[n_held++] = p1;
                    else { /* no room: hand it straight back, neutral */
                        sy_endpoint_release(&s, &conf, now, p1, SY_OUTCOME_NEUTRAL, count_change, NULL);
                        sy_breaker_release(&r.b, &conf, now, p2, SY_OUTCOME_NEUTRAL);
                    }
                }
            } else if (op < 50) { /* the planner only looks */
                sy_endpoint_look a = sy_endpoint_acquire(&s, &conf, model, now, NULL, count_change, NULL);
                sy_endpoint_look b = ref_acquire(&r, model, now, NULL);
                expect_same_look(a, b, step);
            } else if (op < 85 && n_held) { /* an attempt ends */
                int i = rand() % n_held;
                int o = rand() % 10;
                sy_breaker_outcome out = o < 6 ? SY_OUTCOME_SUCCESS : o < 8 ? SY_OUTCOME_FAILURE
                                                                            : SY_OUTCOME_NEUTRAL;
                int opened = sy_endpoint_release(&s, &conf, now, held[i], out, count_change, NULL);
                sy_breaker_state before = r.b.state;
                int moved = sy_breaker_release(&r.b, &conf, now, held[i], out);
                cr_assert_eq(opened, moved && r.b.state == SY_BREAKER_OPEN && before != SY_BREAKER_OPEN,
                             "step %d: opened", step);
                held[i] = held[--n_held];
            } else if (op < 90) { /* a 429 */
                uint64_t until = now + (uint64_t)(rand() % 300) * MS;
                sy_endpoint_cool(&s, model, until, now);
                sy_cooldown_set(&r.cool, model, until, now);
            } else if (op < 93) { /* a health check's verdict */
                int up = rand() % 3 != 0;
                sy_endpoint_set_healthy(&s, up, count_change, NULL);
                r.healthy = up;
            } else { /* time passes */
                now += (uint64_t)(rand() % 150) * MS;
            }
            expect_same_breaker(&s, &r, step);
        }
        pthread_mutex_destroy(&s.mu);
    }
}

Test(endpoint, an_open_breaker_is_refused_until_its_time_then_probed)
{
    sy_endpoint_state s;
    memset(&s, 0, sizeof s);
    sy_endpoint_init(&s);
    uint64_t now = 5000 * MS;
    sy_breaker_permit p;
    for (int i = 0; i < conf.failure_threshold; i++) {
        cr_assert(sy_endpoint_acquire(&s, &conf, "m", now, &p, NULL, NULL).ok);
        sy_endpoint_release(&s, &conf, now, p, SY_OUTCOME_FAILURE, NULL, NULL);
    }
    cr_assert_eq(s.breaker.state, SY_BREAKER_OPEN);
    sy_endpoint_look look = sy_endpoint_acquire(&s, &conf, "m", now + 99 * MS, &p, NULL, NULL);
    cr_assert_not(look.ok);
    cr_assert_eq(look.open_until, now + 100 * MS);
    look = sy_endpoint_acquire(&s, &conf, "m", now + 100 * MS, &p, NULL, NULL);
    cr_assert(look.ok, "open_for is over: a probe goes");
    cr_assert_eq(p.probe, 1);
    cr_assert_eq(s.breaker.state, SY_BREAKER_HALF_OPEN);
    pthread_mutex_destroy(&s.mu);
}

/* ------------------------------------------------ no lock when answered */

typedef struct worker_arg {
    sy_endpoint_state *s;
    int rounds;
    int done;
} worker_arg;

static void *answered_attempts(void *p)
{
    worker_arg *w = p;
    uint64_t now = 1000 * MS;
    for (int i = 0; i < w->rounds; i++, now += MS) {
        sy_breaker_permit permit;
        if (!sy_endpoint_acquire(w->s, &conf, "m", now, &permit, NULL, NULL).ok) return NULL;
        sy_endpoint_attempt_begins(w->s);
        sy_endpoint_observe_latency(w->s, 2 * MS, now);
        sy_endpoint_attempt_ends(w->s);
        sy_endpoint_release(w->s, &conf, now, permit, i % 2 ? SY_OUTCOME_SUCCESS : SY_OUTCOME_NEUTRAL,
                            NULL, NULL);
    }
    w->done = 1;
    return NULL;
}

/* The endpoint's mutex is held by someone else the whole time: attempts
 * that are answered still get through, because they never ask for it. */
Test(endpoint, attempts_that_are_answered_never_take_the_mutex)
{
    sy_endpoint_state s;
    memset(&s, 0, sizeof s);
    sy_endpoint_init(&s);
    pthread_mutex_lock(&s.mu);
    worker_arg w = {&s, 10000, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, answered_attempts, &w), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    int joined = pthread_timedjoin_np(t, NULL, &until);
    pthread_mutex_unlock(&s.mu);
    if (joined != 0) pthread_join(t, NULL);
    cr_assert_eq(joined, 0, "an answered attempt waited for the endpoint's mutex");
    cr_assert(w.done);
    sy_ewma e;
    sy_endpoint_ewma(&s, &e);
    cr_assert_eq(e.samples, 10000);
    cr_assert_eq(e.in_flight, 0);
    cr_assert_float_eq(e.value_ns, 2.0 * MS, 1.0);
    pthread_mutex_destroy(&s.mu);
}

/* A failure does take the mutex: it is what the breaker counts. */
Test(endpoint, a_failure_counts_under_the_mutex_and_closes_the_gate)
{
    sy_endpoint_state s;
    memset(&s, 0, sizeof s);
    sy_endpoint_init(&s);
    sy_breaker_permit p;
    cr_assert(sy_endpoint_acquire(&s, &conf, "m", MS, &p, NULL, NULL).ok);
    sy_endpoint_release(&s, &conf, MS, p, SY_OUTCOME_FAILURE, NULL, NULL);
    cr_assert_eq(s.breaker.failures, 1);
    cr_assert_eq(atomic_load(&s.gate) & 1u, 0, "a failure counted: the next answers go through the lock");
    cr_assert(sy_endpoint_acquire(&s, &conf, "m", MS, &p, NULL, NULL).ok);
    sy_endpoint_release(&s, &conf, MS, p, SY_OUTCOME_SUCCESS, NULL, NULL);
    cr_assert_eq(s.breaker.failures, 0);
    cr_assert_eq(atomic_load(&s.gate) & 1u, 1, "a success cleared the count: the gate opens again");
    pthread_mutex_destroy(&s.mu);
}

/* ------------------------------------------------ several workers at once */

typedef struct race_arg {
    sy_endpoint_state *s;
    unsigned seed;
} race_arg;

static void *racing_attempts(void *p)
{
    race_arg *a = p;
    unsigned seed = a->seed;
    struct timespec ts;
    for (int i = 0; i < 20000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        sy_breaker_permit permit;
        if (!sy_endpoint_acquire(a->s, &conf, "m", now, &permit, NULL, NULL).ok) continue;
        sy_endpoint_attempt_begins(a->s);
        int r = rand_r(&seed) % 50;
        sy_breaker_outcome out = r == 0 ? SY_OUTCOME_FAILURE : SY_OUTCOME_SUCCESS;
        sy_endpoint_attempt_ends(a->s);
        sy_endpoint_release(a->s, &conf, now, permit, out, NULL, NULL);
    }
    return NULL;
}

/* Workers racing through successes and failures leave a consistent state:
 * nothing in flight, no probe slot lost, the published words agreeing with
 * the breaker. */
Test(endpoint, racing_workers_leave_a_consistent_state)
{
    sy_endpoint_state s;
    memset(&s, 0, sizeof s);
    sy_endpoint_init(&s);
    pthread_t t[4];
    race_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (race_arg){&s, (unsigned)i + 1};
        cr_assert_eq(pthread_create(&t[i], NULL, racing_attempts, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&s.in_flight), 0);
    cr_assert_eq(s.breaker.probes_in_flight, 0, "every probe permit came back");
    uint64_t gate = atomic_load(&s.gate);
    int clean = s.breaker.state == SY_BREAKER_CLOSED && s.breaker.failures == 0;
    cr_assert_eq((int)(gate & 1u), clean);
    if (clean) cr_assert_eq(gate >> 1, s.breaker.generation);
    pthread_mutex_destroy(&s.mu);
}
