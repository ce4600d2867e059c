/*
 * test_traffic.c - simulate's arrivals (router/sim/traffic.h) and the
 * access-log replay (router/sim/replay.h): the Poisson rate, the weights,
 * the stream share and the users; one seed, one traffic; a log read into
 * arrival times from ts - latency_ms, sorted, with its pseudo-users stable.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "rng.h"
#include "scenario.h"
#include "traffic.h"

static sy_scenario *scenario(const char *text, sy_diags *d)
{
    sy_diags_init(d);
    sy_scenario *s = sy_scenario_load_buffer("s.yaml", text, strlen(text), d);
    cr_assert(s && d->n_errors == 0);
    return s;
}

Test(traffic, poisson_rate_weights_share_and_users)
{
    sy_diags d;
    sy_scenario *s = scenario("duration: 2000s\n"
                              "traffic: {rate: 50, users: 10, models: {a: 3, b: 1}, stream_share: 0.25}\n",
                              &d);
    sy_traffic t;
    cr_assert_eq(sy_traffic_init(&t, s, NULL, s->duration_ms, 1), 0);
    sy_arrival a;
    size_t n = 0, na = 0, streams = 0, users[10] = {0};
    int64_t last = -1;
    while (sy_traffic_next(&t, &a)) {
        cr_assert_geq(a.at_us, last, "arrivals in time order");
        cr_assert_lt(a.at_us, 2000 * 1000000ll, "none at or after the duration");
        last = a.at_us;
        n++;
        na += !strcmp(a.model, "a");
        streams += a.stream;
        cr_assert_eq(a.user[0], 'u');
        int u = atoi(a.user + 1);
        cr_assert(u >= 0 && u < 10, "user %s out of range", a.user);
        users[u]++;
        cr_assert_eq(a.op, SY_OP_CHAT);
    }
    /* 100,000 expected; Poisson's standard deviation is 316. */
    cr_expect(n > 98500 && n < 101500, "%zu arrivals for 50/s over 2000 s", n);
    cr_expect_float_eq((double)na / n, 0.75, 0.01, "weights 3:1");
    cr_expect_float_eq((double)streams / n, 0.25, 0.01);
    for (int u = 0; u < 10; u++) cr_expect(users[u] > n / 10 - n / 50, "user u%d drawn %zu", u, users[u]);
    sy_traffic_fini(&t);
    sy_scenario_free(s);
    sy_diags_free(&d);
}

Test(traffic, one_seed_one_traffic_whatever_else_draws)
{
    sy_diags d;
    sy_scenario *s = scenario("duration: 60s\ntraffic: {rate: 20, models: {a: 1, b: 1}, stream_share: 0.5}\n", &d);
    sy_arrival a[3][200];
    size_t n[3] = {0};
    uint64_t seeds[3] = {5, 5, 6};
    for (int k = 0; k < 3; k++) {
        sy_traffic t;
        cr_assert_eq(sy_traffic_init(&t, s, NULL, s->duration_ms, seeds[k]), 0);
        sy_rng_seed(1000 + (uint64_t)k); /* the engine's generator: not the traffic's */
        while (n[k] < 200 && sy_traffic_next(&t, &a[k][n[k]])) {
            if (k == 1) (void)sy_rng_u64(); /* other draws in between change nothing */
            n[k]++;
        }
        sy_traffic_fini(&t);
    }
    cr_assert_eq(n[0], n[1]);
    int same = 1, differs = n[0] != n[2];
    for (size_t i = 0; i < n[0]; i++) {
        same &= a[0][i].at_us == a[1][i].at_us && !strcmp(a[0][i].user, a[1][i].user) &&
                a[0][i].model == a[1][i].model && a[0][i].stream == a[1][i].stream;
        if (i < n[2]) differs |= a[0][i].at_us != a[2][i].at_us;
    }
    cr_expect(same, "the same seed gives the same arrivals");
    cr_expect(differs, "another seed gives others");
    sy_scenario_free(s);
    sy_diags_free(&d);
}

Test(replay, timestamps)
{
    cr_expect_eq(sy_replay_parse_ts("1970-01-01T00:00:01.000Z"), 1000);
    cr_expect_eq(sy_replay_parse_ts("2026-01-02T03:04:05.678Z"), 1767323045678ll);
    cr_expect_eq(sy_replay_parse_ts("2026-01-02T03:04:05Z"), 1767323045000ll);
    cr_expect_eq(sy_replay_parse_ts("2026-01-02T03:04:05.6Z"), 1767323045600ll);
    cr_expect_eq(sy_replay_parse_ts("2026-01-02 03:04:05.678"), -1);
    cr_expect_eq(sy_replay_parse_ts("2026-13-02T03:04:05.678Z"), -1);
    cr_expect_eq(sy_replay_parse_ts("yesterday"), -1);
    cr_expect_eq(sy_replay_parse_ts(NULL), -1);
}

static const char LOG[] =
    "{\"ts\":\"2026-03-10T09:00:02.500Z\",\"request_id\":\"r2\",\"method\":\"POST\","
    "\"path\":\"/v1/chat/completions\",\"model\":\"gpt-4.1\",\"stream\":true,\"latency_ms\":500}\n"
    "{\"ts\":\"2026-03-10T09:00:01.300Z\",\"request_id\":\"r1\",\"method\":\"POST\","
    "\"path\":\"/v1/chat/completions\",\"model\":\"gpt-4o-mini\",\"stream\":false,\"latency_ms\":300}\n"
    "not json at all\n"
    "\n"
    "{\"ts\":\"2026-03-10T09:00:01.500Z\",\"request_id\":\"m\",\"method\":\"GET\",\"path\":\"/v1/models\","
    "\"model\":\"\"}\n"
    "{\"ts\":\"2026-03-10T09:00:03.000Z\",\"request_id\":\"r3\",\"method\":\"POST\","
    "\"path\":\"/v1/embeddings\",\"model\":\"gpt-4.1\",\"stream\":true,\"latency_ms\":null}\n"
    "{\"request_id\":\"no-ts\",\"path\":\"/v1/chat/completions\",\"model\":\"x\"}";

Test(replay, a_log_becomes_sorted_arrivals)
{
    char err[256];
    sy_replay *r = sy_replay_parse(LOG, strlen(LOG), err, sizeof err);
    cr_assert(r, "%s", err);
    cr_expect_eq(r->lines, 6, "blank lines are not counted");
    cr_expect_eq(r->n_items, 3);
    cr_expect_eq(r->skipped, 3);
    cr_expect_eq(r->unreadable, 2, "the non-JSON line and the one without ts");
    cr_expect_eq(r->first_bad_line, 3);
    cr_assert_eq(r->n_models, 2);
    /* arrivals: r1 at 01.000, r2 at 02.000, r3 at 03.000 (no latency) */
    cr_expect_eq(r->items[0].at_ms, 0);
    cr_expect_str_eq(r->models[r->items[0].model], "gpt-4o-mini");
    cr_expect_eq(r->items[0].stream, 0);
    cr_expect_eq(r->items[1].at_ms, 1000);
    cr_expect_str_eq(r->models[r->items[1].model], "gpt-4.1");
    cr_expect_eq(r->items[1].stream, 1);
    cr_expect_eq(r->items[2].at_ms, 2000);
    cr_expect_eq(r->items[2].op, SY_OP_EMBEDDINGS);
    cr_expect_eq(r->items[2].stream, 0, "embeddings never stream");
    cr_expect_eq(r->span_ms, 2000);

    /* Replayed as traffic: pseudo-users folded into traffic.users, stable. */
    sy_diags d;
    sy_scenario *s = scenario("traffic: {users: 7}\n", &d);
    sy_traffic t;
    cr_assert_eq(sy_traffic_init(&t, s, r, 0, 1), 0);
    sy_arrival a[4];
    size_t n = 0;
    while (n < 4 && sy_traffic_next(&t, &a[n])) n++;
    cr_expect_eq(n, 3);
    cr_expect_eq(a[1].at_us, 1000000);
    cr_expect_str_eq(a[1].model, "gpt-4.1");
    char want[32];
    snprintf(want, sizeof want, "u%llu", (unsigned long long)(r->items[1].user_hash % 7));
    cr_expect_str_eq(a[1].user, want);
    sy_traffic_fini(&t);

    /* The duration cuts the replay. */
    cr_assert_eq(sy_traffic_init(&t, s, r, 1500, 1), 0);
    n = 0;
    while (n < 4 && sy_traffic_next(&t, &a[n])) n++;
    cr_expect_eq(n, 2);
    sy_traffic_fini(&t);
    sy_scenario_free(s);
    sy_diags_free(&d);
    sy_replay_free(r);
}

Test(replay, nothing_to_replay_is_an_error)
{
    char err[256];
    const char *log = "garbage\n{\"ts\":\"2026-03-10T09:00:01.500Z\",\"path\":\"/v1/models\"}\n";
    cr_expect_null(sy_replay_parse(log, strlen(log), err, sizeof err));
    cr_expect(strstr(err, "no request to replay"), "%s", err);
    cr_expect_null(sy_replay_load("/nonexistent/access.log", err, sizeof err));
    cr_expect(strstr(err, "cannot open"), "%s", err);
}
