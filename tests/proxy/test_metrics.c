/* test_metrics.c - the Prometheus registry: exact sums under concurrency, strict
 * exposition syntax, escaping, cardinality cap, gauges, families left out until
 * set, series declared at 0 from a policy (metrics_seed.c) and across reloads. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_seed.h"
#include "policy.h"
#include "prom_check.h"

#define MS_NS 1000000ull

static void reset(void) { sy_metrics_reset_for_tests(); }

TestSuite(metrics, .init = reset, .fini = reset);

/* Renders, checks strictly, and returns the parsed doc (and the text when asked). */
static void scrape(prom_doc *doc, char **text_out)
{
    size_t len = 0;
    char *text = sy_metrics_render(&len);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    char err[512];
    int rc = prom_parse(text, len, doc, err, sizeof err);
    cr_assert_eq(rc, 0, "exposition rejected: %s\n---\n%.4000s", err, text);
    if (text_out)
        *text_out = text;
    else
        free(text);
}

static sy_request_event req(const char *arm, const char *provider, const char *endpoint,
                            const char *asked, const char *served, int status, uint64_t dur_ns)
{
    sy_request_event ev = {
        .request_id = "r", .method = "POST", .path = "/v1/chat/completions",
        .arm = arm, .provider = provider, .endpoint = endpoint,
        .model_asked = asked, .model_served = served, .status = status, .attempts = 1,
        .start_ns = 1000 * MS_NS, .end_ns = 1000 * MS_NS + dur_ns, .upstream_ns = dur_ns / 2,
        .input_tokens = -1, .output_tokens = -1,
    };
    return ev;
}

/* ---- concurrency ------------------------------------------------------- */

#define THREADS 8
#define EVENTS 10000

static atomic_bool writers_done;

static uint64_t dur_of(int i) { return (uint64_t)(i % 7 + 1) * MS_NS + (uint64_t)i; }

static void *writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    char model[16];
    snprintf(model, sizeof model, "m%d", t % 2);
    for (int i = 0; i < EVENTS; i++) {
        const char *arm = i % 2 ? "canary" : "stable";
        char endpoint[8];
        snprintf(endpoint, sizeof endpoint, "e%d", i % 3);
        bool fail = i % 5 == 0;
        bool fallback = i % 10 == 3;
        sy_request_event ev = req(arm, "p", endpoint, model,
                                  fail ? "" : fallback ? "fb" : model, fail ? 502 : 200,
                                  dur_of(i));
        ev.input_tokens = 10;
        ev.output_tokens = fail ? -1 : 3;
        sy_metrics_observe_request(&ev);

        sy_attempt_event at = {
            .provider = "p", .endpoint = endpoint, .model = model,
            .status = fail ? 502 : 200, .reason = fail ? "502" : NULL,
            .start_ns = 5 * MS_NS, .ttfb_ns = 5 * MS_NS + 2 * MS_NS, .end_ns = 9 * MS_NS,
        };
        sy_metrics_observe_attempt(&at);
        sy_metrics_add_cost(model, 0.25);
        if (i % 100 == 0)
            sy_metrics_inc_rate_limited();
    }
    return NULL;
}

/* Scrapes while the writers run: every scrape must parse, and counters must
 * never go backwards between scrapes. */
static void *scraper(void *arg)
{
    int *scrapes = arg;
    double last = 0;
    while (!atomic_load(&writers_done)) {
        prom_doc doc;
        scrape(&doc, NULL);
        double now = prom_sum(&doc, "switchyard_requests_total", NULL);
        cr_assert_geq(now, last);
        last = now;
        prom_doc_free(&doc);
        (*scrapes)++;
    }
    return NULL;
}

static void run_round(void)
{
    pthread_t th[THREADS], sc;
    int scrapes = 0;
    atomic_store(&writers_done, false);
    cr_assert_eq(pthread_create(&sc, NULL, scraper, &scrapes), 0);
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&writers_done, true);
    pthread_join(sc, NULL);
    cr_assert_gt(scrapes, 0);
}

static void check_totals(int rounds)
{
    prom_doc doc;
    scrape(&doc, NULL);
    double n = (double)THREADS * EVENTS * rounds;
    double fails = n / 5;
    cr_assert_eq(prom_sum(&doc, "switchyard_requests_total", NULL), n);
    cr_assert_eq(prom_sum(&doc, "switchyard_requests_total", "code", "502", NULL), fails);
    cr_assert_eq(prom_sum(&doc, "switchyard_requests_total", "code", "200", "model", "fb", NULL),
                 n / 10);
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider", "p",
                       "endpoint", "e0", "model", "m0", "code", "502", NULL));
    /* i % 2 == 0, i % 3 == 0, i % 5 == 0: i % 30 == 0, in the 4 threads with m0 */
    double per_thread = 0;
    for (int i = 0; i < EVENTS; i++)
        per_thread += i % 30 == 0;
    cr_assert_eq(v, per_thread * 4 * rounds);

    /* histograms: exact counts, exact sum, right buckets */
    cr_assert_eq(prom_sum(&doc, "switchyard_request_duration_seconds_count", NULL), n);
    double sum_ns = 0, le5 = 0;
    for (int i = 0; i < EVENTS; i++) {
        sum_ns += (double)dur_of(i);
        le5 += dur_of(i) <= 5 * MS_NS;
    }
    double got_sum = prom_sum(&doc, "switchyard_request_duration_seconds_sum", NULL);
    cr_assert(fabs(got_sum - sum_ns * THREADS * rounds / 1e9) < 1e-6, "sum %f", got_sum);
    cr_assert_eq(prom_sum(&doc, "switchyard_request_duration_seconds_bucket", "le", "0.005", NULL),
                 le5 * THREADS * rounds);
    cr_assert_eq(prom_sum(&doc, "switchyard_request_duration_seconds_bucket", "le", "+Inf", NULL),
                 n);
    cr_assert_eq(prom_sum(&doc, "switchyard_overhead_seconds_count", NULL), n);
    cr_assert_eq(prom_sum(&doc, "switchyard_upstream_ttfb_seconds_count", NULL), n);
    /* ttfb is 2 ms: first bucket (5 ms) holds all of them */
    cr_assert_eq(prom_sum(&doc, "switchyard_upstream_ttfb_seconds_bucket", "le", "0.005", NULL), n);
    cr_assert_eq(prom_sum(&doc, "switchyard_upstream_attempts_total", NULL), n);

    cr_assert_eq(prom_sum(&doc, "switchyard_retries_total", "reason", "502", NULL), fails);
    cr_assert_eq(prom_sum(&doc, "switchyard_fallbacks_total", NULL), n / 10);
    cr_assert_eq(prom_sum(&doc, "switchyard_fallbacks_total", "from_model", "m1", "to_model", "fb",
                          NULL), n / 20);
    cr_assert_eq(prom_sum(&doc, "switchyard_tokens_total", "kind", "input", NULL), 10 * n);
    cr_assert_eq(prom_sum(&doc, "switchyard_tokens_total", "kind", "output", NULL),
                 3 * (n - fails));
    cr_assert(prom_get(&doc, &v, "switchyard_rate_limited_total", NULL));
    cr_assert_eq(v, n / 100);
    /* 0.25 is exact in binary, so the double sum is exact too */
    cr_assert_eq(prom_sum(&doc, "switchyard_cost_usd_total", NULL), 0.25 * n);
    prom_doc_free(&doc);
}

Test(metrics, eight_threads_sum_exactly_and_exited_shards_are_kept)
{
    run_round();
    check_totals(1);
    /* a second set of threads adopts the dead shards; nothing is lost */
    run_round();
    check_totals(2);
}

/* ---- exposition -------------------------------------------------------- */

Test(metrics, empty_registry_renders_valid_text)
{
    prom_doc doc;
    char *text;
    scrape(&doc, &text);
    double v;
    cr_assert_eq(prom_count(&doc, "switchyard_build_info"), 1);
    cr_assert_eq(prom_sum(&doc, "switchyard_build_info", NULL), 1);
    cr_assert_eq(doc.samples[0].nlabels, 1);
    cr_assert_str_eq(doc.samples[0].labels[0].name, "version");
    cr_assert_neq(doc.samples[0].labels[0].value[0], '\0');
    cr_assert(prom_get(&doc, &v, "switchyard_rate_limited_total", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_overhead_seconds_count", NULL));
    cr_assert_eq(v, 0);
    prom_doc_free(&doc);
    free(text);
}

Test(metrics, every_spec_metric_has_help_and_type)
{
    sy_request_event ev = req("canary", "holysheep", "cn-north", "gpt-4.1", "gpt-4o", 200,
                              300 * MS_NS);
    ev.input_tokens = 100;
    ev.output_tokens = 20;
    sy_metrics_observe_request(&ev);
    sy_attempt_event at = {.provider = "holysheep", .endpoint = "cn-north", .model = "gpt-4.1",
                           .status = 503, .reason = "503", .start_ns = 1, .ttfb_ns = 1 + MS_NS,
                           .end_ns = 2 * MS_NS};
    sy_metrics_observe_attempt(&at);
    sy_metrics_set_rollout_percent(12.5);
    sy_metrics_set_breaker_state("holysheep", "cn-north", 2);
    sy_metrics_set_endpoint_healthy("holysheep", "cn-north", 1);
    sy_metrics_set_endpoint_healthy("holysheep", "cn-east", 0);
    sy_metrics_inc_rollbacks("p95");
    sy_metrics_add_cost("gpt-4o", 0.5);
    sy_metrics_inc_rate_limited();

    prom_doc doc;
    scrape(&doc, NULL);
    static const struct {
        const char *name, *type;
    } want[] = {
        {"switchyard_requests_total", "counter"},
        {"switchyard_request_duration_seconds", "histogram"},
        {"switchyard_upstream_ttfb_seconds", "histogram"},
        {"switchyard_overhead_seconds", "histogram"},
        {"switchyard_retries_total", "counter"},
        {"switchyard_fallbacks_total", "counter"},
        {"switchyard_breaker_state", "gauge"},
        {"switchyard_breaker_opens_total", "counter"},
        {"switchyard_endpoint_healthy", "gauge"},
        {"switchyard_rollout_percent", "gauge"},
        {"switchyard_rollbacks_total", "counter"},
        {"switchyard_tokens_total", "counter"},
        {"switchyard_cost_usd_total", "counter"},
        {"switchyard_rate_limited_total", "counter"},
        {"switchyard_build_info", "gauge"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const prom_family *f = prom_family_get(&doc, want[i].name);
        cr_assert_not_null(f, "%s missing", want[i].name);
        cr_assert(f->has_help, "%s has no HELP", want[i].name);
        cr_assert_str_eq(f->type, want[i].type, "%s", want[i].name);
    }
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "canary", "provider",
                       "holysheep", "endpoint", "cn-north", "model", "gpt-4o", "code", "200",
                       NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_rollout_percent", NULL));
    cr_assert_eq(v, 12.5);
    cr_assert(prom_get(&doc, &v, "switchyard_breaker_state", "provider", "holysheep", "endpoint",
                       "cn-north", NULL));
    cr_assert_eq(v, 2);
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "holysheep", "endpoint",
                       "cn-east", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_rollbacks_total", "reason", "p95", NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_fallbacks_total", "from_model", "gpt-4.1", "to_model",
                       "gpt-4o", NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_tokens_total", "model", "gpt-4o", "kind", "output",
                       NULL));
    cr_assert_eq(v, 20);
    cr_assert(prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "gpt-4o", NULL));
    cr_assert_eq(v, 0.5);
    /* 300 ms total, 150 ms upstream: 150 ms of overhead lands in +Inf only (> 100 ms) */
    cr_assert(prom_get(&doc, &v, "switchyard_overhead_seconds_bucket", "le", "0.1", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_overhead_seconds_sum", NULL));
    cr_assert_eq(v, 0.15);
    cr_assert(prom_get(&doc, &v, "switchyard_request_duration_seconds_bucket", "arm", "canary",
                       "provider", "holysheep", "endpoint", "cn-north", "le", "0.25", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_request_duration_seconds_bucket", "arm", "canary",
                       "provider", "holysheep", "endpoint", "cn-north", "le", "0.5", NULL));
    cr_assert_eq(v, 1);
    prom_doc_free(&doc);
}

Test(metrics, model_label_fallbacks_and_attempt_rules)
{
    /* none answered: model label is the asked model, no fallback */
    sy_request_event ev = req("stable", "openai", "global", "gpt-4.1", "", 502, MS_NS);
    sy_metrics_observe_request(&ev);
    /* answered by the asked model: no fallback */
    ev = req("stable", "openai", "global", "gpt-4.1", "gpt-4.1", 200, MS_NS);
    sy_metrics_observe_request(&ev);
    /* NULL strings count as "" */
    ev = req(NULL, NULL, NULL, NULL, NULL, 401, 0);
    sy_metrics_observe_request(&ev);
    /* end before start counts as 0 s */
    ev = req("stable", "openai", "global", "gpt-4.1", "gpt-4.1", 200, 0);
    ev.end_ns = ev.start_ns - 5;
    sy_metrics_observe_request(&ev);

    sy_attempt_event ok = {.provider = "openai", .endpoint = "global", .status = 200,
                           .start_ns = 10, .ttfb_ns = 0, .end_ns = 20};
    sy_metrics_observe_attempt(&ok); /* no ttfb, no retry */
    sy_attempt_event cut = {.provider = "openai", .endpoint = "global", .status = 0,
                            .reason = "connect_error", .start_ns = 10, .end_ns = 20};
    sy_metrics_observe_attempt(&cut);

    prom_doc doc;
    scrape(&doc, NULL);
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider", "openai",
                       "endpoint", "global", "model", "gpt-4.1", "code", "502", NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "", "provider", "",
                       "endpoint", "", "model", "", "code", "401", NULL));
    cr_assert_eq(v, 1);
    cr_assert_eq(prom_count(&doc, "switchyard_fallbacks_total"), 0);
    cr_assert_eq(prom_count(&doc, "switchyard_tokens_total"), 0);
    cr_assert_eq(prom_sum(&doc, "switchyard_request_duration_seconds_bucket", "le", "0.005", NULL),
                 4);
    cr_assert(prom_get(&doc, &v, "switchyard_upstream_attempts_total", "provider", "openai",
                       "endpoint", "global", "code", "0", NULL));
    cr_assert_eq(v, 1);
    cr_assert_eq(prom_sum(&doc, "switchyard_retries_total", NULL), 1);
    cr_assert(prom_get(&doc, &v, "switchyard_retries_total", "provider", "openai", "endpoint",
                       "global", "reason", "connect_error", NULL));
    cr_assert_eq(prom_sum(&doc, "switchyard_upstream_ttfb_seconds_count", NULL), 0);
    prom_doc_free(&doc);
}

Test(metrics, breaker_opens_count_transitions_into_open)
{
    int states[] = {0, 2, 2, 1, 2, 0, 1, 0};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        sy_metrics_set_breaker_state("p", "e", states[i]);
    sy_metrics_set_breaker_state("p", "other-endpoint", 2); /* first set already open */
    prom_doc doc;
    scrape(&doc, NULL);
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_breaker_opens_total", "provider", "p", "endpoint",
                       "e", NULL));
    cr_assert_eq(v, 2);
    cr_assert(prom_get(&doc, &v, "switchyard_breaker_state", "provider", "p", "endpoint", "e",
                       NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_breaker_opens_total", "provider", "p", "endpoint",
                       "other-endpoint", NULL));
    cr_assert_eq(v, 1);
    prom_doc_free(&doc);
}

Test(metrics, cost_ignores_negative_and_non_finite)
{
    sy_metrics_add_cost("m", 1.5);
    sy_metrics_add_cost("m", -1);
    sy_metrics_add_cost("m", NAN);
    sy_metrics_add_cost("m", INFINITY);
    sy_metrics_add_cost("m", 0.1);
    prom_doc doc;
    scrape(&doc, NULL);
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "m", NULL));
    cr_assert_eq(v, 1.5 + 0.1);
    prom_doc_free(&doc);
}

/* ---- escaping ---------------------------------------------------------- */

Test(metrics, label_values_are_escaped)
{
    sy_request_event ev = req("stable", "a\"b\\c\nd", "北京-1", "bad\xff\xfeutf8", "", 200,
                              MS_NS);
    sy_metrics_observe_request(&ev);
    sy_metrics_set_endpoint_healthy("q\"uote", "back\\slash", 1);

    prom_doc doc;
    char *text;
    scrape(&doc, &text);
    cr_assert(strstr(text, "provider=\"a\\\"b\\\\c\\nd\""), "raw escaping wrong:\n%s", text);
    cr_assert(strstr(text, "endpoint=\"北京-1\""));
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider",
                       "a\"b\\c\nd", "endpoint", "北京-1", "model",
                       "bad\xef\xbf\xbd\xef\xbf\xbdutf8",
                       "code", "200", NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "q\"uote", "endpoint",
                       "back\\slash", NULL));
    cr_assert_eq(v, 1);
    prom_doc_free(&doc);
    free(text);
}

/* ---- cardinality ------------------------------------------------------- */

Test(metrics, cardinality_is_capped_and_totals_are_kept)
{
    const int extra = 500, n = SY_METRICS_MAX_SERIES + extra;
    char model[32];
    for (int i = 0; i < n; i++) {
        snprintf(model, sizeof model, "random-%d", i);
        sy_request_event ev = req("stable", "p", "e", model, model, 200, MS_NS);
        ev.input_tokens = 1;
        sy_metrics_observe_request(&ev);
    }
    /* a label value seen before the cap keeps its own series */
    sy_request_event again = req("stable", "p", "e", "random-7", "random-7", 200, MS_NS);
    sy_metrics_observe_request(&again);
    /* an over-long value becomes "other" */
    char longv[SY_METRICS_MAX_LABEL_LEN + 10];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    sy_metrics_add_cost(longv, 1);

    prom_doc doc;
    scrape(&doc, NULL);
    cr_assert_eq(prom_count(&doc, "switchyard_requests_total"), SY_METRICS_MAX_SERIES + 1);
    cr_assert_eq(prom_sum(&doc, "switchyard_requests_total", NULL), n + 1);
    double v;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "other", "provider", "other",
                       "endpoint", "other", "model", "other", "code", "other", NULL));
    cr_assert_eq(v, extra);
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider", "p",
                       "endpoint", "e", "model", "random-7", "code", "200", NULL));
    cr_assert_eq(v, 2);
    cr_assert_eq(prom_count(&doc, "switchyard_tokens_total"), SY_METRICS_MAX_SERIES + 1);
    cr_assert_eq(prom_sum(&doc, "switchyard_tokens_total", NULL), n); /* "again" had no tokens */
    cr_assert(prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "other", NULL));
    cr_assert_eq(v, 1);
    prom_doc_free(&doc);
}

static void *late_thread(void *arg)
{
    (void)arg;
    char model[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(model, sizeof model, "late-%d", i);
        sy_request_event ev = req("stable", "p", "e", model, model, 200, MS_NS);
        sy_metrics_observe_request(&ev);
    }
    /* known before the cap, first seen by this thread after it */
    sy_request_event ev = req("stable", "p", "e", "random-3", "random-3", 200, MS_NS);
    sy_metrics_observe_request(&ev);
    return NULL;
}

Test(metrics, a_full_family_folds_new_sets_from_other_threads)
{
    char model[32];
    for (int i = 0; i < SY_METRICS_MAX_SERIES + 1; i++) {
        snprintf(model, sizeof model, "random-%d", i);
        sy_request_event ev = req("stable", "p", "e", model, model, 200, MS_NS);
        sy_metrics_observe_request(&ev);
    }
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_thread, NULL), 0);
    pthread_join(th, NULL);
    prom_doc doc;
    scrape(&doc, NULL);
    double v;
    cr_assert_eq(prom_count(&doc, "switchyard_requests_total"), SY_METRICS_MAX_SERIES + 1);
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "other", "provider", "other",
                       "endpoint", "other", "model", "other", "code", "other", NULL));
    cr_assert_eq(v, 1 + 1000);
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider", "p",
                       "endpoint", "e", "model", "random-3", "code", "200", NULL));
    cr_assert_eq(v, 2);
    prom_doc_free(&doc);
}

/* ---- nothing made up: families nobody set are left out ----------------- */

Test(metrics, unset_gauge_families_are_left_out_entirely)
{
    prom_doc doc;
    char *text;
    scrape(&doc, &text);
    /* no breaker in this build has reported: no HELP, no TYPE, no fake 0 */
    cr_assert_null(prom_family_get(&doc, "switchyard_breaker_state"));
    cr_assert_null(prom_family_get(&doc, "switchyard_breaker_opens_total"));
    cr_assert_null(prom_family_get(&doc, "switchyard_endpoint_healthy"));
    cr_assert_null(prom_family_get(&doc, "switchyard_rollbacks_total"));
    cr_assert_null(strstr(text, "breaker"), "%s", text);
    prom_doc_free(&doc);
    free(text);

    sy_metrics_set_breaker_state("p", "e", 0);
    scrape(&doc, NULL);
    cr_assert_not_null(prom_family_get(&doc, "switchyard_breaker_state"));
    cr_assert_eq(prom_count(&doc, "switchyard_breaker_state"), 1);
    /* a closed breaker never opened: its opens counter is still not set */
    cr_assert_null(prom_family_get(&doc, "switchyard_breaker_opens_total"));
    prom_doc_free(&doc);
}

/* ---- declared series ---------------------------------------------------- */

Test(metrics, declared_series_read_zero_then_count_on)
{
    sy_metrics_declare_request("canary", "relay", "hs1", "gpt-4.1", 200);
    sy_metrics_declare_attempt("relay", "hs1", 200);
    sy_metrics_declare_fallback("gpt-4.1", "gpt-4o-mini");
    sy_metrics_declare_model("gpt-4.1", 1);
    sy_metrics_declare_model("free-model", 0);
    sy_metrics_declare_rollbacks("admin");

    prom_doc doc;
    scrape(&doc, NULL);
    double v = -1;
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "canary", "provider",
                       "relay", "endpoint", "hs1", "model", "gpt-4.1", "code", "200", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_request_duration_seconds_count", "arm", "canary",
                       "provider", "relay", "endpoint", "hs1", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_request_duration_seconds_bucket", "arm", "canary",
                       "provider", "relay", "endpoint", "hs1", "le", "120", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_upstream_attempts_total", "provider", "relay",
                       "endpoint", "hs1", "code", "200", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_upstream_ttfb_seconds_count", "provider", "relay",
                       "endpoint", "hs1", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_fallbacks_total", "from_model", "gpt-4.1",
                       "to_model", "gpt-4o-mini", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_tokens_total", "model", "free-model", "kind",
                       "output", NULL));
    cr_assert_eq(v, 0);
    cr_assert(prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "gpt-4.1", NULL));
    cr_assert_eq(v, 0);
    /* no price, no cost series: 0 USD would claim it was free */
    cr_assert(!prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "free-model", NULL));
    cr_assert(prom_get(&doc, &v, "switchyard_rollbacks_total", "reason", "admin", NULL));
    cr_assert_eq(v, 0);
    prom_doc_free(&doc);

    sy_request_event ev = req("canary", "relay", "hs1", "gpt-4.1", "gpt-4.1", 200, MS_NS);
    sy_metrics_observe_request(&ev);
    sy_metrics_inc_rollbacks("admin");
    /* declaring again (a reload) keeps what was counted */
    sy_metrics_declare_request("canary", "relay", "hs1", "gpt-4.1", 200);
    sy_metrics_declare_rollbacks("admin");
    scrape(&doc, NULL);
    cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "canary", "provider",
                       "relay", "endpoint", "hs1", "model", "gpt-4.1", "code", "200", NULL));
    cr_assert_eq(v, 1);
    cr_assert_eq(prom_count(&doc, "switchyard_requests_total"), 1);
    cr_assert(prom_get(&doc, &v, "switchyard_rollbacks_total", "reason", "admin", NULL));
    cr_assert_eq(v, 1);
    prom_doc_free(&doc);
}

static int keep_none_assumed(void *ctx, const char *provider, const char *endpoint, int assumed)
{
    (void)ctx;
    (void)provider;
    (void)endpoint;
    return !assumed;
}

static int keep_nothing(void *ctx, const char *provider, const char *endpoint, int assumed)
{
    (void)ctx;
    (void)provider;
    (void)endpoint;
    (void)assumed;
    return 0;
}

Test(metrics, assumed_health_yields_to_a_measurement)
{
    sy_metrics_assume_endpoint_healthy("p", "unchecked");
    sy_metrics_set_endpoint_healthy("p", "checked", 0);
    sy_metrics_assume_endpoint_healthy("p", "checked"); /* must not hide the measured 0 */
    prom_doc doc;
    scrape(&doc, NULL);
    double v = -1;
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "p", "endpoint",
                       "unchecked", NULL));
    cr_assert_eq(v, 1);
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "p", "endpoint",
                       "checked", NULL));
    cr_assert_eq(v, 0);
    prom_doc_free(&doc);

    sy_metrics_sweep_endpoint_health(keep_none_assumed, NULL);
    scrape(&doc, NULL);
    cr_assert(!prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "p", "endpoint",
                        "unchecked", NULL));
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "p", "endpoint",
                       "checked", NULL));
    prom_doc_free(&doc);

    sy_metrics_sweep_endpoint_health(keep_nothing, NULL);
    scrape(&doc, NULL);
    cr_assert_null(prom_family_get(&doc, "switchyard_endpoint_healthy"));
    prom_doc_free(&doc);
}

/* ---- seeding from a policy ---------------------------------------------- */

static const char seed_policy[] =
    "version: 1\n"
    "providers:\n"
    "  official:\n"
    "    plugin: openai\n"
    "    api_key: sk-test\n"
    "    endpoints:\n"
    "      - {name: global, base_url: https://a.example/v1}\n"
    "  relay:\n"
    "    plugin: holysheep\n"
    "    api_key: sk-test\n"
    "    endpoints:\n"
    "      - {name: cn-north, base_url: https://b.example/v1, priority: 1}\n"
    "      - {name: us-west, base_url: https://c.example/v1, priority: 2}\n"
    "%s"
    "models:\n"
    "  fallbacks:\n"
    "    gpt-4.1: [gpt-4o-mini]\n"
    "  prices:\n"
    "    gpt-4.1: {input: 2.00, output: 8.00}\n"
    "migration:\n"
    "  stable: official\n"
    "  canary: relay\n"
    "  rollout:\n"
    "    percent: 10\n"
    "    canary_endpoints: [cn-north]\n";

static sy_policy *load_seed_policy(const char *relay_extra)
{
    char text[2048];
    snprintf(text, sizeof text, seed_policy, relay_extra);
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("seed.yaml", text, strlen(text), SY_LOAD_VALIDATE,
                                         NULL, &d);
    if (!p)
        sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    cr_assert_not_null(p, "the test policy must load");
    return p;
}

Test(metrics, a_policy_seeds_every_arm_endpoint_and_model_at_zero)
{
    sy_policy *p = load_seed_policy("");
    sy_metrics_seed_policy(p);
    prom_doc doc;
    scrape(&doc, NULL);
    double v = -1;
    static const char *const models[] = {"gpt-4.1", "gpt-4o-mini", "other"};
    for (size_t k = 0; k < 3; k++) {
        cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "stable", "provider",
                           "official", "endpoint", "global", "model", models[k], "code", "200",
                           NULL), "%s", models[k]);
        cr_assert_eq(v, 0);
        cr_assert(prom_get(&doc, &v, "switchyard_requests_total", "arm", "canary", "provider",
                           "relay", "endpoint", "cn-north", "model", models[k], "code", "200",
                           NULL), "%s", models[k]);
        cr_assert(prom_get(&doc, &v, "switchyard_tokens_total", "model", models[k], "kind",
                           "input", NULL), "%s", models[k]);
    }
    /* us-west is not in canary_endpoints: no arm ever routes there */
    cr_assert_eq(prom_sum(&doc, "switchyard_requests_total", "endpoint", "us-west", NULL), 0);
    cr_assert_eq(prom_count(&doc, "switchyard_requests_total"), 6);
    cr_assert_eq(prom_count(&doc, "switchyard_request_duration_seconds_count"), 2);
    /* endpoint-level series for every endpoint of every provider */
    static const char *const eps[][2] = {
        {"official", "global"}, {"relay", "cn-north"}, {"relay", "us-west"}};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(prom_get(&doc, &v, "switchyard_upstream_attempts_total", "provider", eps[i][0],
                           "endpoint", eps[i][1], "code", "200", NULL), "%s", eps[i][1]);
        cr_assert_eq(v, 0);
        cr_assert(prom_get(&doc, &v, "switchyard_upstream_ttfb_seconds_count", "provider",
                           eps[i][0], "endpoint", eps[i][1], NULL), "%s", eps[i][1]);
        cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", eps[i][0],
                           "endpoint", eps[i][1], NULL), "%s", eps[i][1]);
        cr_assert_eq(v, 1, "no health_check: healthy by rule");
    }
    cr_assert(prom_get(&doc, &v, "switchyard_fallbacks_total", "from_model", "gpt-4.1",
                       "to_model", "gpt-4o-mini", NULL));
    cr_assert(prom_get(&doc, &v, "switchyard_cost_usd_total", "model", "gpt-4.1", NULL));
    cr_assert_eq(prom_count(&doc, "switchyard_cost_usd_total"), 1);
    for (int i = 0; i < 3; i++) /* every reason a rollback can have, at 0 */
        cr_assert(prom_get(&doc, &v, "switchyard_rollbacks_total", "reason",
                           (const char *[]){"success_rate", "p95", "admin"}[i], NULL));
    cr_assert_eq(prom_count(&doc, "switchyard_rollbacks_total"), 3);
    cr_assert_null(prom_family_get(&doc, "switchyard_breaker_state"));
    prom_doc_free(&doc);
    sy_policy_unref(p);
}

Test(metrics, a_reload_drops_health_that_is_no_longer_true)
{
    sy_policy *p = load_seed_policy("");
    sy_metrics_seed_policy(p);
    sy_policy_unref(p);
    /* the relay gains a health_check: nothing has measured it, so no gauge */
    p = load_seed_policy("    health_check: {path: /models}\n");
    sy_metrics_seed_policy(p);
    prom_doc doc;
    scrape(&doc, NULL);
    double v = -1;
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "official",
                       "endpoint", "global", NULL));
    cr_assert_eq(v, 1);
    cr_assert(!prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "relay",
                        "endpoint", "cn-north", NULL));
    cr_assert(!prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "relay",
                        "endpoint", "us-west", NULL));
    prom_doc_free(&doc);

    /* a checker's measurement survives the next reload */
    sy_metrics_set_endpoint_healthy("relay", "cn-north", 0);
    sy_metrics_seed_policy(p);
    scrape(&doc, NULL);
    cr_assert(prom_get(&doc, &v, "switchyard_endpoint_healthy", "provider", "relay",
                       "endpoint", "cn-north", NULL));
    cr_assert_eq(v, 0);
    prom_doc_free(&doc);
    sy_policy_unref(p);
}

/* ---- the checker itself must reject bad text --------------------------- */

static bool check(const char *text)
{
    prom_doc doc;
    char err[256];
    int rc = prom_parse(text, strlen(text), &doc, err, sizeof err);
    prom_doc_free(&doc);
    return rc == 0;
}

Test(metrics, checker_rejects_invalid_exposition)
{
    const char *hdr = "# HELP h x\n# TYPE h histogram\n";
    char buf[512];
    cr_assert(check("# HELP a x\n# TYPE a counter\na{l=\"v\"} 1\n"));
    cr_assert(!check("a 1\n"));                                   /* no HELP/TYPE */
    cr_assert(!check("# TYPE a counter\na 1\n"));                 /* no HELP */
    cr_assert(!check("# HELP a x\n# TYPE a counter\na 1"));       /* no final newline */
    cr_assert(!check("# HELP a x\n# TYPE a counter\na{l=\"v\\t\"} 1\n")); /* bad escape */
    cr_assert(!check("# HELP a x\n# TYPE a counter\na{l=\"v\"} one\n"));
    cr_assert(!check("# HELP a x\n# TYPE a counter\na{l=\"v\",l=\"w\"} 1\n"));
    cr_assert(!check("# HELP a x\n# TYPE a counter\na 1\na 2\n")); /* duplicate series */
    cr_assert(!check("# HELP a x\n# TYPE a counter\na -1\n"));
    cr_assert(!check("# HELP a x\n# TYPE a counter\na{1l=\"v\"} 1\n"));
    cr_assert(!check("# HELP a x\n# TYPE a counter\na{l=\"\xff\"} 1\n"));
    cr_assert(!check("# HELP a x\n# TYPE a counter\n# HELP b x\n# TYPE b counter\nb 1\na 1\n"));
    snprintf(buf, sizeof buf, "%s%s", hdr,
             "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n");
    cr_assert(check(buf));
    snprintf(buf, sizeof buf, "%s%s", hdr,
             "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n");
    cr_assert(!check(buf)); /* +Inf != _count */
    snprintf(buf, sizeof buf, "%s%s", hdr,
             "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n");
    cr_assert(!check(buf)); /* not cumulative */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n", hdr);
    cr_assert(!check(buf)); /* no +Inf */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
             "h_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n", hdr);
    cr_assert(!check(buf)); /* le not increasing */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"+Inf\"} 1\nh_count 1\n", hdr);
    cr_assert(!check(buf)); /* no _sum */
}
