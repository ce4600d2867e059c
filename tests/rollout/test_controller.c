/* Unit tests for the rollout controller: decisions on a fake clock. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"

#define MS 1000000ull
#define S (1000 * MS)
#define MIN (60 * S)
#define T0 (1000 * S) /* the fake monotonic clock starts here */
#define WALL0 1700000000

/* A canary window on the fake clock, fed by the test. */
static sy_window canary;
static uint64_t now;

static void collect(void *ctx, uint64_t since, sy_window_sum *out)
{
    (void)ctx;
    sy_window_collect(&canary, now, since, out);
}

static int64_t wall(void) { return WALL0 + (int64_t)((now - T0) / S); }

/* n attempts spread over the span just before now: `failed` of them fail,
 * the rest answer in latency_ms. */
static void feed(int n, int failed, uint64_t latency_ms, uint64_t span)
{
    for (int i = 0; i < n; i++) {
        uint64_t t = now - span + span * (uint64_t)i / (uint64_t)n;
        sy_window_add(&canary, t, i < failed, latency_ms * MS);
    }
}

static const double steps4[] = {10, 25, 50, 100};

static sy_ro_conf conf(void)
{
    return (sy_ro_conf){.id = "r1", .percent = 10, .success_rate_below = 0.995,
                        .p95_above_ns = 500 * MS, .window_ns = 5 * MIN, .min_requests = 200};
}

static sy_rollout_ctl c;

static void start(const sy_ro_conf *cf)
{
    now = T0;
    sy_window_init(&canary, cf->window_ns);
    sy_ro_init(&c);
    sy_ro_change ch;
    cr_assert_eq(sy_ro_configure(&c, cf, now, wall(), &ch), 0);
    cr_assert(ch.changed && ch.persist, "a fresh start is recorded");
}

static sy_ro_change tick(void)
{
    sy_ro_change ch;
    sy_ro_tick(&c, now, wall(), collect, NULL, &ch);
    return ch;
}

static void done(void) { sy_ro_free(&c); }

Test(controller, starts_at_the_policy_percent, .fini = done)
{
    sy_ro_conf cf = conf();
    start(&cf);
    cr_assert_float_eq(c.share, 10, 1e-9);
    cr_assert_eq(c.state, SY_RO_PROGRESSING);
    cr_assert_str_eq(c.reason.kind, "start");
    cr_assert_str_eq(sy_ro_state_name(c.state), "progressing");
}

Test(controller, five_percent_errors_roll_back_at_min_requests, .fini = done)
{
    sy_ro_conf cf = conf();
    start(&cf);
    now += 30 * S;
    feed(199, 10, 100, 20 * S);
    cr_assert_not(tick().changed, "199 attempts: below min_requests, no decision");
    feed(1, 0, 100, 1 * S);
    sy_ro_change ch = tick();
    cr_assert(ch.changed && ch.rollback);
    cr_assert_float_eq(ch.from, 10, 1e-9);
    cr_assert_float_eq(c.share, 0, 1e-9);
    cr_assert_eq(c.state, SY_RO_ROLLED_BACK);
    cr_assert_str_eq(c.reason.kind, "success_rate");
    cr_assert_eq(c.reason.requests, 200);
    cr_assert_eq(c.reason.failures, 10);
    cr_assert_float_eq(c.reason.value, 95.0, 1e-9);
    cr_assert_float_eq(c.reason.threshold, 99.5, 1e-9);
    cr_assert(strstr(ch.log, "95.00%") && strstr(ch.log, "99.50%"), "%s", ch.log);
    cr_assert_not(tick().changed, "rolled back: nothing more happens");
}

Test(controller, noise_does_not_roll_back, .fini = done)
{
    sy_ro_conf cf = conf();
    start(&cf);
    now += 30 * S;
    /* 2 failures in 200: observed 99.0 %, below 99.5 %, but not evidence. */
    feed(200, 2, 100, 20 * S);
    cr_assert_not(tick().changed);
    /* 4 of 200 neither; 5 of 200 (97.5 %) is. */
    sy_window_init(&canary, cf.window_ns);
    feed(200, 4, 100, 20 * S);
    cr_assert_not(tick().changed);
    sy_window_init(&canary, cf.window_ns);
    feed(200, 5, 100, 20 * S);
    cr_assert(tick().rollback);
}

Test(controller, p95_above_the_threshold_rolls_back, .fini = done)
{
    sy_ro_conf cf = conf();
    start(&cf);
    now += 30 * S;
    /* 4 % of the samples above 500 ms: the P95 is below it. */
    feed(1000, 0, 100, 20 * S);
    feed(40, 0, 900, 10 * S);
    cr_assert_not(tick().changed);
    /* Most of them above: rolled back on p95. */
    feed(600, 0, 800, 10 * S);
    sy_ro_change ch = tick();
    cr_assert(ch.rollback);
    cr_assert_str_eq(c.reason.kind, "p95");
    cr_assert(c.reason.value > 500 && c.reason.value < 900, "p95 %.1f", c.reason.value);
    cr_assert_float_eq(c.reason.threshold, 500, 1e-9);
    cr_assert_eq(c.reason.samples, 1640);
}

Test(controller, p95_needs_min_requests_samples, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.success_rate_below = 0;
    start(&cf);
    now += 30 * S;
    feed(199, 0, 2000, 10 * S);
    cr_assert_not(tick().changed);
    feed(1, 0, 2000, 1 * S);
    cr_assert(tick().rollback);
}

Test(controller, resume_after_a_rollback_returns_the_share_and_a_fresh_window, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.percent = 25;
    start(&cf);
    now += 30 * S;
    feed(400, 40, 100, 20 * S);
    cr_assert(tick().rollback);
    char err[200];
    sy_ro_change ch;
    cr_assert_eq(sy_ro_action(&c, "pause", 0, now, wall(), &ch, err, sizeof err), -2,
                 "no pause while rolled back");
    now += 1 * S;
    cr_assert_eq(sy_ro_action(&c, "resume", 0, now, wall(), &ch, err, sizeof err), 0);
    cr_assert(ch.changed && !ch.rollback);
    cr_assert_float_eq(c.share, 25, 1e-9);
    cr_assert_eq(c.state, SY_RO_PROGRESSING);
    /* The bad window that rolled it back does not count against it now. */
    now += 1 * S;
    cr_assert_not(tick().changed);
    now += 10 * S;
    feed(300, 0, 100, 5 * S);
    cr_assert_not(tick().changed);
}

Test(controller, admin_actions, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.steps = steps4;
    cf.n_steps = 4;
    cf.step_after_ns = 30 * MIN;
    start(&cf);
    char err[200];
    sy_ro_change ch;
    cr_assert_eq(sy_ro_action(&c, "set", 150, now, wall(), &ch, err, sizeof err), -1);
    cr_assert(strstr(err, "between 0 and 100"));
    cr_assert_eq(sy_ro_action(&c, "explode", 0, now, wall(), &ch, err, sizeof err), -1);
    cr_assert_eq(sy_ro_action(&c, "set", 30, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_float_eq(c.share, 30, 1e-9);
    cr_assert_float_eq(sy_ro_next_step(&c), 50, 1e-9);
    cr_assert_str_eq(c.reason.kind, "admin");
    cr_assert_eq(sy_ro_action(&c, "pause", 0, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_eq(c.state, SY_RO_PAUSED);
    cr_assert_eq(sy_ro_action(&c, "rollback", 0, now, wall(), &ch, err, sizeof err), 0);
    cr_assert(ch.rollback && ch.changed);
    cr_assert_float_eq(c.share, 0, 1e-9);
    cr_assert_eq(sy_ro_action(&c, "rollback", 0, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_not(ch.rollback, "a second rollback counts nothing");
    cr_assert_eq(sy_ro_action(&c, "set", 100, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_eq(c.state, SY_RO_COMPLETE, "set out of a rollback: the last step is complete");
}

Test(controller, steps_promote_on_schedule_and_never_on_thin_data, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.steps = steps4;
    cf.n_steps = 4;
    cf.step_after_ns = 30 * MIN;
    start(&cf);
    /* Good data, but step_after has not passed. */
    now += 29 * MIN;
    feed(1000, 0, 100, 4 * MIN);
    cr_assert_not(tick().changed);
    cr_assert(strstr(c.hold, "next step 25%"), "%s", c.hold);
    /* Time has passed but the last window is thin. */
    now += 6 * MIN;
    feed(150, 0, 100, 4 * MIN);
    cr_assert_not(tick().changed);
    cr_assert(strstr(c.hold, "waiting for data"), "%s", c.hold);
    feed(100, 0, 100, 1 * MIN);
    sy_ro_change ch = tick();
    cr_assert(ch.changed && !ch.rollback);
    cr_assert_float_eq(c.share, 25, 1e-9);
    cr_assert_str_eq(c.reason.kind, "promotion");
    cr_assert(ch.persist);
    /* The next step waits a full step_after again. */
    now += 10 * MIN;
    feed(1000, 0, 100, 4 * MIN);
    cr_assert_not(tick().changed);
    now += 25 * MIN;
    feed(1000, 0, 100, 4 * MIN);
    cr_assert(tick().changed);
    cr_assert_float_eq(c.share, 50, 1e-9);
    now += 31 * MIN;
    feed(1000, 0, 100, 4 * MIN);
    cr_assert(tick().changed);
    cr_assert_float_eq(c.share, 100, 1e-9);
    cr_assert_eq(c.state, SY_RO_COMPLETE);
    cr_assert_float_eq(sy_ro_next_step(&c), -1, 1e-9);
}

Test(controller, a_bad_window_holds_the_step, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.steps = steps4;
    cf.n_steps = 4;
    cf.step_after_ns = 10 * MIN;
    start(&cf);
    now += 11 * MIN;
    /* 99.0 %: below the threshold, too few failures to roll back. */
    feed(300, 3, 100, 4 * MIN);
    cr_assert_not(tick().changed);
    cr_assert(strstr(c.hold, "success rate"), "%s", c.hold);
    cr_assert_float_eq(c.share, 10, 1e-9);
    /* A P95 above the threshold holds it too. */
    sy_window_init(&canary, cf.window_ns);
    feed(300, 0, 100, 4 * MIN);
    feed(20, 0, 700, 1 * MIN);
    cr_assert_not(tick().changed);
    cr_assert(strstr(c.hold, "P95"), "%s", c.hold);
}

Test(controller, paused_holds_but_rollback_still_watches, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.steps = steps4;
    cf.n_steps = 4;
    cf.step_after_ns = 10 * MIN;
    start(&cf);
    char err[200];
    sy_ro_change ch;
    cr_assert_eq(sy_ro_action(&c, "pause", 0, now, wall(), &ch, err, sizeof err), 0);
    now += 20 * MIN;
    feed(1000, 0, 100, 4 * MIN);
    cr_assert_not(tick().changed, "no promotion while paused");
    feed(300, 100, 100, 1 * MIN);
    cr_assert(tick().rollback);
}

Test(controller, record_survives_a_restart, .fini = done)
{
    sy_ro_conf cf = conf();
    cf.percent = 20;
    start(&cf);
    now += 30 * S;
    feed(400, 40, 100, 20 * S);
    cr_assert(tick().rollback);
    char *json = sy_ro_encode(&c);
    cr_assert_not_null(json);
    sy_ro_free(&c);

    /* A new process: same policy, the record restored. */
    now += 3600 * S;
    sy_ro_init(&c);
    cr_assert_eq(sy_ro_restore(&c, json, now, wall()), 0);
    sy_ro_change ch;
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert_not(ch.changed);
    cr_assert_eq(c.state, SY_RO_ROLLED_BACK);
    cr_assert_float_eq(c.share, 0, 1e-9);
    cr_assert_str_eq(c.reason.kind, "success_rate");
    cr_assert_eq(c.reason.failures, 40);
    cr_assert(strstr(ch.log, "restored"), "%s", ch.log);
    /* A changed rollout.percent does not undo a rollback... */
    cf.percent = 30;
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert_float_eq(c.share, 0, 1e-9);
    cr_assert(ch.persist && !ch.changed);
    /* ...resume does, to the share before the rollback. */
    char err[200];
    cr_assert_eq(sy_ro_action(&c, "resume", 0, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_float_eq(c.share, 20, 1e-9);
    /* A new rollout id starts fresh at its percent. */
    cf.id = "r2";
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert(ch.changed);
    cr_assert_float_eq(c.share, 30, 1e-9);
    cr_assert_eq(c.state, SY_RO_PROGRESSING);
    cr_assert(strstr(c.reason.text, "new rollout id"), "%s", c.reason.text);
    free(json);
}

Test(controller, same_id_keeps_a_promoted_share_and_applies_a_changed_percent, .fini = done)
{
    sy_ro_conf cf = conf();
    start(&cf);
    char err[200];
    sy_ro_change ch;
    cr_assert_eq(sy_ro_action(&c, "set", 40, now, wall(), &ch, err, sizeof err), 0);
    char *json = sy_ro_encode(&c);
    sy_ro_free(&c);
    sy_ro_init(&c);
    cr_assert_eq(sy_ro_restore(&c, json, now, wall()), 0);
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert_float_eq(c.share, 40, 1e-9, "the admin's share outlives the restart");
    cf.percent = 5;
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert(ch.changed);
    cr_assert_float_eq(c.share, 5, 1e-9, "an edited rollout.percent applies");
    cr_assert_str_eq(c.reason.kind, "policy");
    free(json);
}

Test(controller, an_unreadable_record_holds_the_canary_at_zero, .fini = done)
{
    sy_ro_conf cf = conf();
    now = T0;
    sy_window_init(&canary, cf.window_ns);
    sy_ro_init(&c);
    cr_assert_eq(sy_ro_restore(&c, "{\"id\":\"r1\",\"share\":\"lots\"}", now, wall()), -1);
    sy_ro_change ch;
    cr_assert_eq(sy_ro_configure(&c, &cf, now, wall(), &ch), 0);
    cr_assert_eq(c.state, SY_RO_ROLLED_BACK);
    cr_assert_float_eq(c.share, 0, 1e-9);
    char err[200];
    cr_assert_eq(sy_ro_action(&c, "set", 10, now, wall(), &ch, err, sizeof err), 0);
    cr_assert_float_eq(c.share, 10, 1e-9);
}
