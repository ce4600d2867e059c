/*
 * test_prober.c - active health checks (engine/prober.h) with no socket: the
 * simulated loop, the scripted upstream (router/sim/transport_script.h)
 * behind a thin recorder of what each probe asked for, the real router
 * context and real policies with the real `openai` and `mock` plugins.
 *
 * Times: the simulated clock starts at T0; S(n) is n seconds, MS(n) n
 * milliseconds. The policies probe every 10 s with a 2 s timeout; scripted
 * answers take 50 ms.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "prober.h"
#include "router.h"
#include "transport_script.h"

#define MS(n) ((uint64_t)(n) * 1000000ull)
#define S(n) MS((uint64_t)(n) * 1000u)
#define T0 S(1000)
#define KEY "sk-prober-test-key-0123"

/* ------------------------------------------------------------ policies */

#define HEAD "version: 1\nserver: {access_log: off}\nproviders:\n"
#define HC(unhealthy, healthy)                                                                  \
    "    health_check: {path: /models, interval: 10s, timeout: 2s, unhealthy_after: " #unhealthy \
    ", healthy_after: " #healthy "}\n"
#define OPENAI(name, hc, eps)                                                                  \
    "  " name ":\n    plugin: openai\n    api_key: ${SY_PROBER_TEST_KEY}\n" hc "    endpoints:\n" eps
#define EP(prov, name) "      - {name: " name ", base_url: 'https://" name "." prov ".test/v1'}\n"

/* Provider a, probed, with endpoints e1 and e2. */
#define A_BOTH(u, h) OPENAI("a", HC(u, h), EP("a", "e1") EP("a", "e2"))
/* The same provider after a reload that removed e1. */
#define A_E2_ONLY(u, h) OPENAI("a", HC(u, h), EP("a", "e2"))

/* ------------------------------------------------------------ harness */

/* What one probe asked the transport for. */
typedef struct seen_probe {
    char provider[32], endpoint[32], url[256], auth[128];
    unsigned n_headers;
    int has_request; /* a canonical request was passed: it would have been a POST */
    int has_body;
    int64_t connect_timeout_ms;
} seen_probe;

/* The scripted transport behind a recorder of every start. */
typedef struct rec_tp {
    sy_transport base;
    sy_transport *script;
    seen_probe seen[512];
    size_t n;
} rec_tp;

/* An endpoint's published health as an observer saw it change. */
typedef struct seen_change {
    char provider[32], endpoint[32];
    int healthy;
    uint64_t at_ns;
} seen_change;

typedef struct harness {
    sy_plugin_registry reg;
    sy_policy *pols[4];
    size_t n_pols;
    sy_router *router;
    sy_loop *loop;
    sy_transport *script;
    rec_tp rec;
    sy_prober *prober;
    seen_change changes[256];
    size_t n_changes;
    int counting; /* observer events are recorded once the set-up is done */
} harness;

static harness *H;
static const sy_transport_ops *script_ops;

static sy_exchange_io *rec_start(sy_transport *t, const sy_io_request *r, const sy_io_cbs *cbs,
                                 void *ctx, char *msg, size_t msglen)
{
    rec_tp *rt = (rec_tp *)t;
    cr_assert_lt(rt->n, sizeof rt->seen / sizeof rt->seen[0]);
    seen_probe *s = &rt->seen[rt->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->provider, sizeof s->provider, "%s", r->endpoint->provider);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", r->endpoint->name);
    snprintf(s->url, sizeof s->url, "%.200s", r->http ? r->http->url : "");
    s->n_headers = r->http ? r->http->n_headers : 0;
    for (unsigned i = 0; i < s->n_headers; i++)
        if (!strncmp(r->http->headers[i], "Authorization:", 14))
            snprintf(s->auth, sizeof s->auth, "%s", r->http->headers[i]);
    s->has_request = r->req != NULL;
    s->has_body = r->http && (r->http->body_len || r->http->body_owned);
    s->connect_timeout_ms = r->connect_timeout_ms;
    return script_ops->start(rt->script, r, cbs, ctx, msg, msglen);
}
static void rec_resume(sy_exchange_io *x) { script_ops->resume(x); }
static void rec_cancel(sy_exchange_io *x) { script_ops->cancel(x); }
static const char *rec_header(sy_exchange_io *x, const char *n) { return script_ops->header(x, n); }
static const sy_transport_ops rec_ops = {rec_start, rec_resume, rec_cancel, rec_header, NULL, NULL};

static void on_endpoint(void *ctx, const sy_endpoint_state *s)
{
    harness *h = ctx;
    if (!h->counting) return;
    /* The first result of an endpoint is announced too (its health becomes
     * known, checks == 1) without a change: record changes of health only. */
    if (s->checks == 1 && s->healthy) return;
    cr_assert_lt(h->n_changes, sizeof h->changes / sizeof h->changes[0]);
    seen_change *c = &h->changes[h->n_changes++];
    snprintf(c->provider, sizeof c->provider, "%s", s->provider);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", s->endpoint);
    c->healthy = s->healthy;
    c->at_ns = sy_loop_now(h->loop);
}

static sy_policy *load(const char *yaml)
{
    harness *h = H;
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("test.yaml", yaml, strlen(yaml), SY_LOAD_SERVE, &h->reg,
                                         &d);
    char why[4096] = "";
    for (size_t i = 0; !p && i < d.n; i++)
        snprintf(why + strlen(why), sizeof why - strlen(why), "%s\n", d.items[i].msg);
    sy_diags_free(&d);
    cr_assert(p, "the test policy must load:\n%s\n%s", yaml, why);
    cr_assert_lt(h->n_pols, 4);
    h->pols[h->n_pols++] = p;
    cr_assert_eq(sy_router_bind(h->router, p), 0);
    return p;
}

static void h_init(const char *yaml)
{
    harness *h = calloc(1, sizeof *h);
    cr_assert(h);
    H = h;
    setenv("SY_PROBER_TEST_KEY", KEY, 1);
    sy_log_set_level(SY_LOG_LVL_INFO);
    sy_plugin_registry_init(&h->reg, NULL, 0);
    h->router = sy_router_new();
    h->loop = sy_loop_sim_new(T0, 1700000000);
    h->script = sy_script_new(h->loop);
    cr_assert(h->router && h->loop && h->script);
    script_ops = h->script->ops;
    h->rec.base.ops = &rec_ops;
    h->rec.script = h->script;
    cr_assert_eq(sy_router_add_observer(h->router, (sy_observer){NULL, NULL, on_endpoint, h}), 0);
    sy_policy *p = load(yaml);
    h->prober = sy_prober_new(h->loop, &h->rec.base, h->router);
    cr_assert(h->prober);
    h->counting = 1;
    cr_assert_eq(sy_prober_set_policy(h->prober, p), 0);
}

static void h_fini(void)
{
    harness *h = H;
    if (!h) return;
    sy_prober_free(h->prober);
    cr_expect_eq(sy_script_live(h->script), 0, "a probe left in flight after free");
    cr_expect_eq(sy_script_misuse(h->script), 0, "transport.h's rules broken");
    for (size_t i = 0; i < h->n_pols; i++) sy_policy_unref(h->pols[i]);
    sy_script_free(h->script);
    sy_loop_sim_free(h->loop);
    sy_router_free(h->router);
    sy_plugin_registry_free(&h->reg);
    free(h);
    H = NULL;
}

TestSuite(prober, .init = cr_redirect_stderr, .fini = h_fini);

static void run_until(uint64_t t) { sy_loop_sim_run_until(H->loop, t); }

static void push(const char *prov, const char *ep, sy_script_outcome o)
{
    cr_assert_eq(sy_script_push(H->script, prov, ep, &o), 0);
}

static sy_script_outcome answer(int status, int times)
{
    sy_script_outcome o;
    memset(&o, 0, sizeof o);
    o.kind = SY_SCRIPT_ANSWER;
    o.status = status;
    o.body = status < 300 ? "{\"object\":\"list\",\"data\":[]}" : "{\"error\":{\"message\":\"x\"}}";
    o.latency_ms = 50;
    o.times = times;
    return o;
}

static sy_script_outcome hang(void)
{
    sy_script_outcome o;
    memset(&o, 0, sizeof o);
    o.kind = SY_SCRIPT_HANG;
    o.times = SY_SCRIPT_ALWAYS;
    return o;
}

/* The published health of an endpoint of any policy loaded (the newest that has it). */
static int healthy(const char *prov, const char *ep)
{
    for (size_t k = H->n_pols; k-- > 0;) {
        const sy_policy_provider *pv = sy_policy_provider_by_name(H->pols[k], prov);
        for (size_t i = 0; pv && i < pv->n_endpoints; i++) {
            if (strcmp(pv->endpoints[i].name, ep) != 0) continue;
            sy_endpoint_state *s = sy_router_endpoint(H->router, pv, &pv->endpoints[i]);
            cr_assert(s);
            pthread_mutex_lock(&s->mu);
            int v = s->healthy;
            pthread_mutex_unlock(&s->mu);
            return v;
        }
    }
    cr_assert_fail("no endpoint %s/%s", prov, ep);
    return -1;
}

static size_t probes_of(const char *prov, const char *ep)
{
    return sy_script_count_for(H->script, prov, ep);
}

/* The stderr captured so far. */
static void read_log(char *buf, size_t cap)
{
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
}

/* ------------------------------------------------------------ tests */

Test(prober, down_after_unhealthy_after_failed_probes)
{
    h_init(HEAD A_BOTH(3, 2));
    push("a", "e1", answer(503, SY_SCRIPT_ALWAYS));
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    cr_assert_eq(sy_prober_count(H->prober), 2);

    /* Probes at T0 (the first at once) and T0+10s: two failures of three. */
    run_until(T0 + S(19));
    cr_assert_eq(probes_of("a", "e1"), 2);
    cr_assert_eq(healthy("a", "e1"), 1);
    cr_assert_eq(H->n_changes, 0);

    /* The third, at T0+20s, answers 503 50 ms later: down. */
    run_until(T0 + S(21));
    cr_assert_eq(probes_of("a", "e1"), 3);
    cr_assert_eq(healthy("a", "e1"), 0);
    cr_assert_eq(H->n_changes, 1);
    cr_assert_str_eq(H->changes[0].endpoint, "e1");
    cr_assert_eq(H->changes[0].healthy, 0, "the observer sees the new value");
    cr_assert_eq(H->changes[0].at_ns, T0 + S(20) + MS(50));
    cr_assert_eq(healthy("a", "e2"), 1, "the good endpoint is untouched");

    /* Still probed while down, one probe per interval; no more changes. */
    run_until(T0 + S(41));
    cr_assert_eq(probes_of("a", "e1"), 5);
    cr_assert_eq(probes_of("a", "e2"), 5);
    cr_assert_eq(healthy("a", "e1"), 0);
    cr_assert_eq(H->n_changes, 1);

    char log[8192];
    read_log(log, sizeof log);
    cr_assert(strstr(log, "warning: health check: a/e1 is down after 3 failed checks in a row "
                          "(last: HTTP 503)"),
              "%s", log);
    cr_assert_null(strstr(log, KEY), "the key never reaches the log");
}

Test(prober, up_after_healthy_after_good_probes)
{
    h_init(HEAD A_BOTH(3, 2));
    push("a", "e1", answer(503, 3));
    push("a", "e1", answer(200, SY_SCRIPT_ALWAYS));
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));

    run_until(T0 + S(21));
    cr_assert_eq(healthy("a", "e1"), 0);
    /* T0+30s: one good probe of two: still down. */
    run_until(T0 + S(31));
    cr_assert_eq(healthy("a", "e1"), 0);
    cr_assert_eq(H->n_changes, 1);
    /* T0+40s: the second: up again. */
    run_until(T0 + S(41));
    cr_assert_eq(healthy("a", "e1"), 1);
    cr_assert_eq(H->n_changes, 2);
    cr_assert_eq(H->changes[1].healthy, 1);
    cr_assert_eq(H->changes[1].at_ns, T0 + S(40) + MS(50));

    char log[8192];
    read_log(log, sizeof log);
    cr_assert(strstr(log, "info: health check: a/e1 is up again after 2 good checks in a row"),
              "%s", log);
}

Test(prober, a_hung_probe_fails_at_the_timeout_and_is_cancelled)
{
    h_init(HEAD A_BOTH(1, 1));
    push("a", "e1", hang());
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));

    run_until(T0 + S(2) - 1);
    cr_assert_eq(healthy("a", "e1"), 1, "not failed before the timeout");
    cr_assert_eq(sy_script_live(H->script), 1, "e1's probe is in flight");

    run_until(T0 + S(2));
    cr_assert_eq(healthy("a", "e1"), 0, "failed at the timeout");
    cr_assert_eq(H->n_changes, 1);
    cr_assert_eq(H->changes[0].at_ns, T0 + S(2));
    cr_assert_eq(sy_script_live(H->script), 0, "the hung probe was cancelled");
    const sy_script_record *r = sy_script_record_at(H->script, 0);
    cr_assert_str_eq(r->endpoint, "e1");
    cr_assert_eq(r->cancelled, 1);
    cr_assert_eq(r->end_ns, T0 + S(2));

    /* The next probe still goes at its interval (from the last start). */
    run_until(T0 + S(10) + MS(100));
    cr_assert_eq(probes_of("a", "e1"), 2);
    cr_assert_eq(sy_script_live(H->script), 1, "e1's second probe hangs; e2's answered");

    char log[8192];
    read_log(log, sizeof log);
    cr_assert(strstr(log, "a/e1 is down after 1 failed check in a row (last: no answer within "
                          "2000 ms)"),
              "%s", log);
}

Test(prober, a_reload_that_removes_an_endpoint_stops_its_probes)
{
    h_init(HEAD A_BOTH(1, 1));
    push("a", "e1", answer(503, SY_SCRIPT_ALWAYS));
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(5));
    cr_assert_eq(healthy("a", "e1"), 0);
    cr_assert_eq(probes_of("a", "e1"), 1);
    cr_assert_eq(probes_of("a", "e2"), 1);

    sy_policy *next = load(HEAD A_E2_ONLY(1, 1));
    cr_assert_eq(sy_prober_set_policy(H->prober, next), 0);
    cr_assert_eq(sy_prober_count(H->prober), 1);
    /* e1 can no longer be brought back up by a probe: it counts healthy again. */
    cr_assert_eq(H->n_changes, 2);
    cr_assert_str_eq(H->changes[1].endpoint, "e1");
    cr_assert_eq(H->changes[1].healthy, 1);

    run_until(T0 + S(5) + 1);
    cr_assert_eq(probes_of("a", "e2"), 1, "e2 keeps its schedule: no extra probe at reload");
    run_until(T0 + S(55));
    cr_assert_eq(probes_of("a", "e1"), 1, "no probe of e1 after the reload");
    cr_assert_eq(probes_of("a", "e2"), 6, "e2 still probed every 10 s (T0 ... T0+50s)");
}

Test(prober, a_reload_cancels_the_probe_in_flight_of_a_removed_endpoint)
{
    h_init(HEAD A_BOTH(1, 1));
    push("a", "e1", hang());
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(1));
    cr_assert_eq(sy_script_live(H->script), 1);

    cr_assert_eq(sy_prober_set_policy(H->prober, load(HEAD A_E2_ONLY(1, 1))), 0);
    cr_assert_eq(sy_script_live(H->script), 0, "e1's probe was cancelled by the reload");
    const sy_script_record *r = sy_script_record_at(H->script, 0);
    cr_assert_str_eq(r->endpoint, "e1");
    cr_assert_eq(r->cancelled, 1);
    run_until(T0 + S(30));
    cr_assert_eq(healthy("a", "e1"), 1, "never counted as failed");
    cr_assert_eq(H->n_changes, 0);
    cr_assert_eq(probes_of("a", "e1"), 1);
}

Test(prober, a_reload_that_keeps_an_endpoint_keeps_its_run_of_results)
{
    h_init(HEAD A_BOTH(3, 2));
    push("a", "e1", answer(503, SY_SCRIPT_ALWAYS));
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(15));
    cr_assert_eq(probes_of("a", "e1"), 2);

    /* A new snapshot of the same policy (as a SIGHUP makes), probing e1 and e2. */
    cr_assert_eq(sy_prober_set_policy(H->prober, load(HEAD A_BOTH(3, 2))), 0);
    cr_assert_eq(sy_prober_count(H->prober), 2);
    cr_assert_eq(probes_of("a", "e1"), 2, "no extra probe at reload");
    run_until(T0 + S(21));
    cr_assert_eq(probes_of("a", "e1"), 3);
    cr_assert_eq(healthy("a", "e1"), 0, "two failures before the reload and one after: down");
}

Test(prober, a_probe_in_flight_across_a_reload_counts_under_the_new_policy)
{
    h_init(HEAD A_BOTH(3, 2));
    push("a", "e1", hang());
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(1));
    /* The reload lowers unhealthy_after to 1 while e1's probe is in flight. */
    cr_assert_eq(sy_prober_set_policy(H->prober, load(HEAD A_BOTH(1, 1))), 0);
    cr_assert_eq(sy_script_live(H->script), 1, "the probe in flight goes on");
    run_until(T0 + S(2));
    cr_assert_eq(healthy("a", "e1"), 0, "it timed out, and one failure is now enough");
}

Test(prober, removing_health_check_brings_a_down_endpoint_back)
{
    h_init(HEAD A_BOTH(1, 1));
    push("a", "e1", answer(503, SY_SCRIPT_ALWAYS));
    push("a", "e2", answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(1));
    cr_assert_eq(healthy("a", "e1"), 0);
    cr_assert_eq(sy_prober_set_policy(H->prober, load(HEAD OPENAI("a", "", EP("a", "e1")
                                                                            EP("a", "e2")))),
                 0);
    cr_assert_eq(sy_prober_count(H->prober), 0);
    cr_assert_eq(healthy("a", "e1"), 1);
    run_until(T0 + S(60));
    cr_assert_eq(sy_script_count(H->script), 2, "nothing probed after the reload");
}

Test(prober, the_probe_is_a_get_of_base_url_plus_path_with_the_providers_key)
{
    h_init(HEAD A_BOTH(3, 2));
    push(NULL, NULL, answer(200, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(1));
    cr_assert_eq(H->rec.n, 2);
    for (size_t i = 0; i < 2; i++) {
        const seen_probe *s = &H->rec.seen[i];
        char want[128];
        snprintf(want, sizeof want, "https://%s.a.test/v1/models", s->endpoint);
        cr_assert_str_eq(s->url, want);
        cr_assert_str_eq(s->auth, "Authorization: Bearer " KEY);
        cr_assert_eq(s->has_request, 0, "no canonical request: a GET");
        cr_assert_eq(s->has_body, 0, "a probe has no body: it never costs tokens");
        cr_assert_gt(s->connect_timeout_ms, 0);
        cr_assert_leq(s->connect_timeout_ms, 2000, "the connect is bounded by the timeout");
    }
    cr_assert_eq(healthy("a", "e1"), 1);
    cr_assert_eq(H->n_changes, 0, "good probes change nothing");
}

Test(prober, only_providers_with_health_check_and_an_upstream_are_probed)
{
    h_init(HEAD A_BOTH(1, 1) OPENAI("n", "", EP("n", "e1"))
           "  m:\n    plugin: mock\n" HC(1, 1) "    endpoints:\n      - {name: m1}\n"
           "migration:\n  stable: a\n");
    push(NULL, NULL, answer(503, SY_SCRIPT_ALWAYS));
    cr_assert_eq(sy_prober_count(H->prober), 2, "a/e1 and a/e2 only");
    run_until(T0 + S(30));
    cr_assert_eq(probes_of("n", NULL), 0, "no health_check: not probed");
    cr_assert_eq(probes_of("m", NULL), 0, "the mock answers locally: not probed");
    cr_assert_eq(healthy("n", "e1"), 1);
    cr_assert_eq(healthy("m", "m1"), 1);
    cr_assert_eq(healthy("a", "e1"), 0);
}

Test(prober, transport_errors_are_failed_probes)
{
    h_init(HEAD A_BOTH(2, 1));
    sy_script_outcome refused = answer(0, SY_SCRIPT_ALWAYS);
    refused.kind = SY_SCRIPT_CONNECT_ERROR;
    push("a", "e1", refused);
    push("a", "e2", answer(404, SY_SCRIPT_ALWAYS));
    run_until(T0 + S(11));
    cr_assert_eq(healthy("a", "e1"), 0, "a connect error is a failure");
    cr_assert_eq(healthy("a", "e2"), 0, "any status but 2xx is a failure");
}

Test(prober, stopping_and_freeing_with_probes_in_flight)
{
    h_init(HEAD A_BOTH(1, 1));
    push(NULL, NULL, hang());
    run_until(T0 + S(1));
    cr_assert_eq(sy_script_live(H->script), 2);
    cr_assert_eq(sy_prober_set_policy(H->prober, NULL), 0);
    cr_assert_eq(sy_prober_count(H->prober), 0);
    cr_assert_eq(sy_script_live(H->script), 0);
    cr_assert_eq(sy_prober_set_policy(H->prober, H->pols[0]), 0);
    run_until(T0 + S(1) + 1);
    cr_assert_eq(sy_script_live(H->script), 2, "probing again at once");
    /* h_fini frees the prober with both probes in flight. */
}

/* A plugin without health_request (or built for ABI 1.0/1.1): the host sends
 * a bare GET of base_url + path. */
Test(prober, without_health_request_the_host_builds_a_bare_get)
{
    h_init(HEAD A_BOTH(3, 2));
    const sy_policy_provider *prov = &H->pols[0]->providers[0];
    sy_plugin old = *prov->plugin;
    old.abi_minor = 1;
    old.size = (uint32_t)offsetof(sy_plugin, health_request);
    sy_policy_provider p = *prov;
    p.plugin = &old;
    sy_http_request out;
    char err[256];
    cr_assert_eq(sy_prober_build_request(&p, &p.endpoints[0], &out, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(out.url, "https://e1.a.test/v1/models");
    cr_assert_eq(out.n_headers, 0);
    cr_assert_null(out.body);

    /* The same provider through its 1.2 plugin carries the key. */
    cr_assert_eq(sy_prober_build_request(prov, &prov->endpoints[0], &out, err, sizeof err), 0);
    cr_assert_str_eq(out.url, "https://e1.a.test/v1/models");
    cr_assert_str_eq(out.headers[0], "Authorization: Bearer " KEY);
}
