/*
 * test_outcomes.c - the outcome picker of `simulate` (router/sim/outcomes.h):
 * which piece speaks at which time for which endpoint, and what one attempt
 * draws: outages, timeouts, errors with their status and Retry-After,
 * answers whole or streamed or cut; rates and the latency distribution over
 * many draws; and one seed giving one sequence.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcomes.h"
#include "rng.h"
#include "scenario.h"

#define MS(n) ((uint64_t)(n) * 1000000ull)
#define T0 MS(5000000)

static const char SCENARIO[] =
    "duration: 30m\n"
    "traffic: {rate: 1, models: {m: 1}}\n"
    "outcomes:\n"
    "  a: [{from: 0m, error_rate: 0.001, latency: {p50: 400ms, p95: 900ms}}]\n"
    "  b:\n"
    "    - {from: 0m,  error_rate: 0.002, status: 503, latency: {p50: 120ms, p95: 300ms}}\n"
    "    - {from: 10m, error_rate: 0.05}\n"
    "    - {from: 15m, status: 429, retry_after: 2s, latency: {p95: 600ms}}\n"
    "  b/east: [{from: 0m, error_rate: 0}, {from: 20m, outage: 5m}]\n";

static sy_scenario *S;
static sy_outcomes *O;
static sy_diags D;

static void setup(void)
{
    sy_diags_init(&D);
    S = sy_scenario_load_buffer("s.yaml", SCENARIO, strlen(SCENARIO), &D);
    cr_assert(S && D.n_errors == 0);
    O = sy_outcomes_new(S, T0);
    cr_assert(O);
    sy_rng_seed(7);
}

static void teardown(void)
{
    sy_outcomes_free(O);
    sy_scenario_free(S);
    sy_diags_free(&D);
}

static sy_conditions at(const char *prov, const char *ep, uint64_t ms)
{
    sy_conditions c;
    sy_outcomes_at(O, prov, ep, T0 + MS(ms), &c);
    return c;
}

TestSuite(outcomes, .init = setup, .fini = teardown);

Test(outcomes, defaults_for_a_provider_the_scenario_does_not_name)
{
    sy_conditions c = at("zzz", "e", 0);
    cr_expect_float_eq(c.error_rate, 0.0, 1e-12);
    cr_expect_eq(c.status, SY_SCN_DEFAULT_STATUS);
    cr_expect_eq(c.p50_ms, SY_SCN_DEFAULT_P50_MS);
    cr_expect_eq(c.p95_ms, SY_SCN_DEFAULT_P95_MS);
    cr_expect_eq(c.retry_after_ms, -1);
    cr_expect_not(c.outage);
}

Test(outcomes, a_piece_keeps_what_the_one_before_set)
{
    sy_conditions c = at("b", "north", 9 * 60 * 1000 + 999);
    cr_expect_float_eq(c.error_rate, 0.002, 1e-12);
    cr_expect_eq(c.status, 503);
    c = at("b", "north", 10 * 60 * 1000);
    cr_expect_float_eq(c.error_rate, 0.05, 1e-12, "the 10m piece starts at 10m");
    cr_expect_eq(c.status, 503, "status carried over");
    cr_expect_eq(c.p50_ms, 120, "latency carried over");
    cr_expect_eq(c.p95_ms, 300);
    c = at("b", "north", 16 * 60 * 1000);
    cr_expect_float_eq(c.error_rate, 0.05, 1e-12);
    cr_expect_eq(c.status, 429);
    cr_expect_eq(c.retry_after_ms, 2000);
    cr_expect_eq(c.p50_ms, 120, "p50 carried over while p95 changes");
    cr_expect_eq(c.p95_ms, 600);
}

Test(outcomes, an_endpoints_own_pieces_win_and_its_outage_is_a_span)
{
    sy_conditions c = at("b", "east", 12 * 60 * 1000);
    cr_expect_float_eq(c.error_rate, 0.0, 1e-12, "the endpoint's error_rate wins");
    cr_expect_eq(c.p50_ms, 120, "what it does not name comes from its provider");
    cr_expect_not(c.outage);
    cr_expect(at("b", "east", 20 * 60 * 1000).outage);
    cr_expect(at("b", "east", 25 * 60 * 1000 - 1).outage);
    cr_expect_not(at("b", "east", 25 * 60 * 1000).outage, "the outage lasts 5m, then ends");
    cr_expect_not(at("b", "north", 21 * 60 * 1000).outage, "other endpoints are not out");
}

Test(outcomes, what_one_attempt_draws)
{
    sy_script_outcome o;
    sy_conditions c = {.status = 503, .retry_after_ms = -1, .p50_ms = 100, .p95_ms = 100};

    c.outage = 1;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_eq(o.kind, SY_SCRIPT_CONNECT_ERROR);
    c.outage = 0;

    c.timeout_rate = 1;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_eq(o.kind, SY_SCRIPT_HANG);
    c.timeout_rate = 0;

    c.error_rate = 1;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_eq(o.kind, SY_SCRIPT_ANSWER);
    cr_expect_eq(o.status, 503);
    cr_expect_null(o.headers, "no Retry-After unless the scenario says so");
    cr_expect(strstr(o.body, "\"error\""));
    cr_expect_eq(o.latency_ms, 100, "p50 == p95: no spread");

    c.status = 429;
    c.retry_after_ms = 2000;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_eq(o.status, 429);
    cr_expect_str_eq(o.headers, "Retry-After: 2");
    c.retry_after_ms = 1500;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_str_eq(o.headers, "retry-after-ms: 1500");
    c.status = 500;
    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_null(o.headers, "Retry-After goes with a 429 or a 503 only");
    c.error_rate = 0;

    sy_outcomes_draw(O, &c, 0, 0, &o);
    cr_expect_eq(o.status, 200);
    cr_expect(strstr(o.body, "\"usage\""), "a whole answer carries usage");
    cr_expect_eq(o.end, SY_SCRIPT_END_OK);

    sy_outcomes_draw(O, &c, 1, 0, &o);
    cr_expect_eq(o.status, 200);
    cr_expect_null(o.body);
    cr_expect(o.chunks[0].data && o.chunks[1].data && o.chunks[2].data);
    cr_expect_str_eq(o.chunks[2].data, "data: [DONE]\n\n");
    cr_expect_null(o.chunks[3].data);

    c.cut_rate = 1;
    sy_outcomes_draw(O, &c, 1, 0, &o);
    cr_expect_eq(o.end, SY_SCRIPT_END_CUT);
    cr_expect(o.chunks[0].data);
    cr_expect_null(o.chunks[1].data, "a cut stream stops after its first part, without [DONE]");
    c.cut_rate = 0;

    sy_outcomes_draw(O, &c, 0, 1, &o);
    cr_expect_eq(o.status, 200);
    cr_expect(strstr(o.body, "\"list\""), "a health probe gets a model list");
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

Test(outcomes, rates_and_latency_over_many_draws)
{
    enum { N = 200000 };
    sy_conditions c = {.status = 503, .retry_after_ms = -1, .p50_ms = 120, .p95_ms = 300,
                       .error_rate = 0.05, .timeout_rate = 0.01};
    int64_t *lat = malloc(N * sizeof *lat);
    cr_assert(lat);
    size_t errors = 0, hangs = 0, n_lat = 0;
    for (int i = 0; i < N; i++) {
        sy_script_outcome o;
        sy_outcomes_draw(O, &c, 0, 0, &o);
        if (o.kind == SY_SCRIPT_HANG) hangs++;
        else if (o.status != 200) errors++;
        if (o.kind == SY_SCRIPT_ANSWER) lat[n_lat++] = o.latency_ms;
    }
    /* 200,000 draws: the standard error of 5 % is 0.05 %; allow 0.3 %. */
    cr_expect_float_eq((double)errors / N, 0.05, 0.003, "error share %.4f", (double)errors / N);
    cr_expect_float_eq((double)hangs / N, 0.01, 0.0015, "timeout share %.4f", (double)hangs / N);
    qsort(lat, n_lat, sizeof *lat, cmp_i64);
    int64_t p50 = lat[n_lat / 2], p95 = lat[n_lat * 95 / 100];
    cr_expect(p50 >= 115 && p50 <= 125, "p50 %lld ms, want about 120", (long long)p50);
    cr_expect(p95 >= 288 && p95 <= 312, "p95 %lld ms, want about 300", (long long)p95);
    cr_expect_geq(lat[0], 1);
    free(lat);
}

Test(outcomes, one_seed_one_sequence)
{
    sy_conditions c = {.status = 503, .retry_after_ms = -1, .p50_ms = 120, .p95_ms = 300,
                       .error_rate = 0.3};
    int64_t a[64], b[64];
    int sa[64], sb[64];
    sy_script_outcome o;
    sy_rng_seed(99);
    for (int i = 0; i < 64; i++) {
        sy_outcomes_draw(O, &c, 0, 0, &o);
        a[i] = o.latency_ms;
        sa[i] = o.status;
    }
    sy_rng_seed(99);
    for (int i = 0; i < 64; i++) {
        sy_outcomes_draw(O, &c, 0, 0, &o);
        b[i] = o.latency_ms;
        sb[i] = o.status;
    }
    cr_expect_arr_eq(a, b, sizeof a);
    cr_expect_arr_eq(sa, sb, sizeof sa);
}

Test(outcomes, the_picker_scripts_every_exchange_by_endpoint_and_time)
{
    sy_endpoint north = {.provider = "b", .name = "north", .base_url = "https://n.test/v1"};
    sy_endpoint east = {.provider = "b", .name = "east", .base_url = "https://e.test/v1"};
    sy_request req = {.op = SY_OP_CHAT, .model = "m", .stream = 0};
    sy_io_request r = {.endpoint = &east, .req = &req};
    sy_script_outcome o;
    cr_expect_eq(sy_outcomes_pick(O, &r, T0 + MS(21 * 60 * 1000), &o), 0);
    cr_expect_eq(o.kind, SY_SCRIPT_CONNECT_ERROR, "b/east is out from 20m to 25m");
    cr_expect_eq(sy_outcomes_pick(O, &r, T0 + MS(26 * 60 * 1000), &o), 0);
    cr_expect_eq(o.kind, SY_SCRIPT_ANSWER);
    r.endpoint = &north;
    cr_expect_eq(sy_outcomes_pick(O, &r, T0 + MS(21 * 60 * 1000), &o), 0);
    cr_expect_eq(o.kind, SY_SCRIPT_ANSWER, "b/north is not out");
    r.req = NULL; /* a health probe */
    r.endpoint = &east;
    cr_expect_eq(sy_outcomes_pick(O, &r, T0 + MS(22 * 60 * 1000), &o), 0);
    cr_expect_eq(o.kind, SY_SCRIPT_CONNECT_ERROR, "probes see the outage too");
}
