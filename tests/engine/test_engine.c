/*
 * test_engine.c - the engine (router/engine) driven with no socket: the
 * simulated loop, a scripted upstream (router/sim/transport_script.h) and a
 * recording sink, seeded and deterministic. Policies are real YAML loaded
 * with the real `openai` plugin (its build_request / parse_response /
 * stream_event do no I/O).
 *
 * Every test goes through one harness that checks, at the end, what must
 * hold for any request: exactly one request event each, exactly one answer
 * (whole, or a stream that ended), no exchange left in flight, and neither
 * the sink's nor the transport's contract broken.
 *
 * Times: the simulated clock starts at T0; MS(n) is n milliseconds. Jitter
 * is `none` unless a test says otherwise, so backoffs are exact.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breaker.h"
#include "engine.h"
#include "loader.h"
#include "loop.h"
#include "policy.h"
#include "record_sink.h"
#include "rng.h"
#include "router.h"
#include "transport_script.h"

#define MS(n) ((uint64_t)(n) * 1000000ull)
#define T0 MS(1000000)            /* the simulated clock's start */
#define WALL0 ((int64_t)1700000000) /* Unix seconds at T0 */
#define MAX_CALLS 1024
#define MAX_EVENTS 4096

/* ------------------------------------------------------------ policies */

#define HEAD(server) "version: 1\nserver: {access_log: off, " server "}\nproviders:\n"
#define PROV(name, extra, eps)                                                                 \
    "  " name ":\n    plugin: openai\n    api_key: ${SY_ENGINE_TEST_KEY}\n" extra             \
    "    endpoints:\n" eps
#define EP(prov, name, prio, extra)                                                            \
    "      - {name: " name ", base_url: 'https://" name "." prov ".test/v1', priority: " #prio \
    extra "}\n"
/* Provider a with endpoints e1 (first) and e2. */
#define A_TWO(extra) PROV("a", extra, EP("a", "e1", 1, "") EP("a", "e2", 2, ""))
/* Provider s with one endpoint. */
#define S_ONE(extra) PROV("s", extra, EP("s", "e1", 1, ""))
/* Stable a (one endpoint), canary b (one endpoint): every keyed user on b. */
#define MIGRATION(fts)                                                                         \
    PROV("a", "", EP("a", "e1", 1, "")) PROV("b", "", EP("b", "e1", 1, ""))                    \
    "migration:\n  stable: a\n  canary: b\n  rollout: {percent: 100}\n"                        \
    "  fallback_to_stable: " fts "\n"

/* ------------------------------------------------------------- answers */

static const char OK_BODY[] =
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"hello\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}";
static const char ERR_BODY[] = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
static const char EV1[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"he\"}}]}\n\n";
static const char EV2[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ll\"}}]}\n\n";
static const char EV3[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"o\"}}]}\n\n";
static const char DONE[] = "data: [DONE]\n\n";

static sy_script_outcome answer(int status, const char *headers, const char *body, int64_t latency)
{
    sy_script_outcome o;
    memset(&o, 0, sizeof o);
    o.kind = SY_SCRIPT_ANSWER;
    o.status = status;
    o.headers = headers;
    o.body = body;
    o.latency_ms = latency;
    return o;
}

static sy_script_outcome ok(int64_t latency) { return answer(200, NULL, OK_BODY, latency); }
static sy_script_outcome fail(int status, int64_t latency)
{
    return answer(status, NULL, ERR_BODY, latency);
}
static sy_script_outcome of_kind(sy_script_kind k, int64_t latency)
{
    sy_script_outcome o = answer(0, NULL, NULL, latency);
    o.kind = k;
    return o;
}
static sy_script_outcome times(sy_script_outcome o, int n)
{
    o.times = n;
    return o;
}

/* ------------------------------------------------------------- harness */

typedef struct seen_attempt {
    char provider[32], endpoint[32], model[64], failure[48];
    int status, retried, budget_exhausted;
    uint64_t start_ns, end_ns;
} seen_attempt;

typedef struct seen_request {
    char id[32], provider[32], endpoint[32], model_served[64], cut_reason[16], error[512];
    int status, attempts, stream, client_aborted, stream_cut;
    int64_t input_tokens, output_tokens;
    uint64_t end_ns;
} seen_request;

typedef struct call {
    rec_sink sink;
    sy_exec *x;       /* valid while events == 0 */
    char id[32];
    int events;       /* request events seen for it */
    seen_request ev;  /* the (first) one */
    uint64_t start_ns;
} call;

typedef struct harness {
    sy_plugin_registry reg;
    sy_policy *pol;
    sy_router *router;
    sy_loop *loop;
    sy_transport *net, *local;
    sy_engine_env env;
    seen_attempt att[MAX_EVENTS];
    size_t n_att;
    size_t n_req_events, n_endpoint_events;
    call *calls[MAX_CALLS];
    size_t n_calls;
} harness;

static harness *H;

static void copy(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

static void on_attempt(void *ctx, const sy_attempt_event *e)
{
    harness *h = ctx;
    cr_assert_lt(h->n_att, MAX_EVENTS);
    seen_attempt *a = &h->att[h->n_att++];
    copy(a->provider, sizeof a->provider, e->provider);
    copy(a->endpoint, sizeof a->endpoint, e->endpoint);
    copy(a->model, sizeof a->model, e->model);
    copy(a->failure, sizeof a->failure, e->failure);
    a->status = e->status;
    a->retried = e->retried;
    a->budget_exhausted = e->budget_exhausted;
    a->start_ns = e->start_ns;
    a->end_ns = e->end_ns;
    if (e->retried) cr_expect_str_eq(e->reason, e->failure, "a retry's reason is its failure");
    else cr_expect_null(e->reason, "reason is set only when a retry follows");
}

static void on_request(void *ctx, const sy_request_event *e)
{
    harness *h = ctx;
    h->n_req_events++;
    for (size_t i = 0; i < h->n_calls; i++) {
        call *c = h->calls[i];
        if (strcmp(c->id, e->request_id) != 0) continue;
        if (c->events++ == 0) {
            seen_request *r = &c->ev;
            copy(r->id, sizeof r->id, e->request_id);
            copy(r->provider, sizeof r->provider, e->provider);
            copy(r->endpoint, sizeof r->endpoint, e->endpoint);
            copy(r->model_served, sizeof r->model_served, e->model_served);
            copy(r->cut_reason, sizeof r->cut_reason, e->cut_reason);
            copy(r->error, sizeof r->error, e->error);
            r->status = e->status;
            r->attempts = e->attempts;
            r->stream = e->stream;
            r->client_aborted = e->client_aborted;
            r->stream_cut = e->stream_cut;
            r->input_tokens = e->input_tokens;
            r->output_tokens = e->output_tokens;
            r->end_ns = e->end_ns;
        }
        c->x = NULL;
        return;
    }
    cr_assert_fail("a request event for an unknown request %s", e->request_id);
}

static void on_endpoint(void *ctx, const sy_endpoint_state *s)
{
    (void)s;
    ((harness *)ctx)->n_endpoint_events++;
}

static harness *h_init(const char *yaml)
{
    harness *h = calloc(1, sizeof *h);
    cr_assert(h);
    H = h;
    sy_rng_seed(42);
    setenv("SY_ENGINE_TEST_KEY", "sk-engine-test-key", 1);
    sy_plugin_registry_init(&h->reg, NULL, 0);
    sy_diags d;
    sy_diags_init(&d);
    h->pol = sy_policy_load_buffer("test.yaml", yaml, strlen(yaml), SY_LOAD_SERVE, &h->reg, &d);
    if (!h->pol) sy_diags_print(&d, stderr);
    sy_diags_free(&d);
    cr_assert(h->pol, "the test policy must load:\n%s", yaml);
    h->router = sy_router_new();
    h->loop = sy_loop_sim_new(T0, WALL0);
    h->net = sy_script_new(h->loop);
    h->local = sy_script_new(h->loop); /* no plugin here answers locally */
    cr_assert(h->router && h->loop && h->net && h->local);
    cr_assert_eq(sy_router_add_observer(h->router,
                                        (sy_observer){on_attempt, on_request, on_endpoint, h}),
                 0);
    cr_assert_eq(sy_router_bind(h->router, h->pol), 0);
    h->env = (sy_engine_env){h->router, h->loop, h->net, h->local, NULL};
    return h;
}

static uint64_t now(void) { return sy_loop_now(H->loop); }

/* Start one client request for model now (user: a sticky key, or NULL),
 * with raw_body as its body (NULL: a small chat request). */
static call *h_start_body(const char *model, int stream, const char *user, const char *raw_body)
{
    harness *h = H;
    cr_assert_lt(h->n_calls, MAX_CALLS);
    call *c = calloc(1, sizeof *c);
    cr_assert(c);
    h->calls[h->n_calls++] = c;
    rec_sink_init(&c->sink, h->loop);
    snprintf(c->id, sizeof c->id, "req-%zu", h->n_calls);
    c->start_ns = now();
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]%s}", model,
             stream ? ",\"stream\":true" : "");
    if (raw_body) snprintf(body, sizeof body, "%s", raw_body);
    sy_engine_request r = {
        .policy = sy_policy_ref(h->pol), .op = SY_OP_CHAT, .method = "POST",
        .path = "/v1/chat/completions", .body = body, .body_len = strlen(body), .model = model,
        .stream = stream, .sticky_key = user, .sticky_key_len = user ? strlen(user) : 0,
        .sticky_source = user ? "header:x-user-id" : NULL,
        .percent = h->pol->migration.percent, .request_id = c->id, .start_ns = c->start_ns,
    };
    c->x = sy_engine_new(&h->env, &r, &c->sink.base);
    if (c->x) sy_engine_run(c->x);
    return c;
}

static call *h_start(const char *model, int stream, const char *user)
{
    return h_start_body(model, stream, user, NULL);
}

static void h_run(void) { sy_loop_sim_run(H->loop, 10000000); }
static void h_run_until(uint64_t t) { sy_loop_sim_run_until(H->loop, t); }

static void h_abort(call *c, sy_abort_reason why)
{
    cr_assert_eq(c->events, 0, "the request must still be running");
    cr_assert(c->x);
    sy_engine_abort(c->x, why);
    c->x = NULL;
}

static void h_fini(void)
{
    harness *h = H;
    h_run();
    for (size_t i = 0; i < h->n_calls; i++) {
        call *c = h->calls[i];
        cr_expect_eq(c->events, 1, "%s: exactly one request event (got %d)", c->id, c->events);
        if (!c->ev.client_aborted) {
            cr_expect(rec_sink_done(&c->sink), "%s: the client got an answer", c->id);
            cr_expect_eq(c->sink.responds + c->sink.stream_begins, 1, "%s: one answer", c->id);
        }
        cr_expect_eq(c->sink.misuse, 0, "%s: the sink's contract was kept", c->id);
        rec_sink_fini(&c->sink);
        free(c);
    }
    cr_expect_eq(h->n_req_events, h->n_calls, "one request event per request");
    cr_expect_eq(sy_script_live(h->net), 0, "no upstream exchange left in flight");
    cr_expect_eq(sy_script_misuse(h->net), 0, "the transport's rules were kept");
    cr_expect_eq(sy_script_count(h->local), 0);
    for (size_t i = 0; i < sy_script_count(h->net); i++)
        cr_expect_not(sy_script_record_at(h->net, i)->unscripted, "exchange %zu was not scripted",
                      i);
    sy_script_free(h->net);
    sy_script_free(h->local);
    sy_loop_sim_free(h->loop);
    sy_router_free(h->router);
    sy_policy_unref(h->pol);
    sy_plugin_registry_free(&h->reg);
    free(h);
    H = NULL;
}

static void push(const char *prov, const char *ep, sy_script_outcome o)
{
    cr_assert_eq(sy_script_push(H->net, prov, ep, &o), 0);
}

static const sy_script_record *rec(size_t i)
{
    const sy_script_record *r = sy_script_record_at(H->net, i);
    cr_assert(r, "no exchange %zu (there were %zu)", i, sy_script_count(H->net));
    return r;
}

#define EXPECT_EXCHANGE(i, prov, ep, start)                                                    \
    do {                                                                                     \
        const sy_script_record *r_ = rec(i);                                                 \
        cr_expect_str_eq(r_->provider, prov, "exchange %d", (int)(i));                       \
        cr_expect_str_eq(r_->endpoint, ep, "exchange %d", (int)(i));                         \
        cr_expect_eq(r_->start_ns, (uint64_t)(start), "exchange %d started at +%.3f ms", (int)(i), \
                     (double)((int64_t)r_->start_ns - (int64_t)T0) / 1e6);                   \
    } while (0)

static const char *hdr(const call *c, const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    const char *v = rec_sink_header(&c->sink, name, buf[k], sizeof buf[k]);
    return v ? v : "(absent)";
}

static sy_endpoint_state *ep_state(const char *prov, const char *ep)
{
    const sy_policy_provider *p = sy_policy_provider_by_name(H->pol, prov);
    cr_assert(p);
    for (size_t i = 0; i < p->n_endpoints; i++)
        if (!strcmp(p->endpoints[i].name, ep)) {
            sy_endpoint_state *s = sy_router_endpoint(H->router, p, &p->endpoints[i]);
            cr_assert(s);
            return s;
        }
    cr_assert_fail("no endpoint %s/%s", prov, ep);
    return NULL;
}

static size_t count_attempts(const char *failure)
{
    size_t n = 0;
    for (size_t i = 0; i < H->n_att; i++)
        if (!H->att[i].budget_exhausted && !strcmp(H->att[i].failure, failure ? failure : "")) n++;
    return n;
}

/* ------------------------------------------------------------ answers */

Test(engine, success_first_try)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    push("a", "e1", ok(40));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_assert_eq(c->sink.responds, 1);
    cr_expect_eq(c->sink.status, 200);
    cr_expect_str_eq(c->sink.content_type, "application/json");
    cr_expect_str_eq(c->sink.body, OK_BODY);
    cr_expect_eq(c->sink.first_byte_ns, T0 + MS(40));
    cr_expect_str_eq(hdr(c, "x-request-id"), "req-1");
    cr_expect_str_eq(hdr(c, "x-switchyard-provider"), "a");
    cr_expect_str_eq(hdr(c, "x-switchyard-endpoint"), "e1");
    cr_expect_str_eq(hdr(c, "x-switchyard-model"), "m");
    cr_expect_str_eq(hdr(c, "x-switchyard-attempts"), "1");
    cr_expect_eq(sy_script_count(H->net), 1);
    EXPECT_EXCHANGE(0, "a", "e1", T0);
    cr_expect_str_eq(rec(0)->model, "m");
    cr_assert_eq(H->n_att, 1);
    cr_expect_str_eq(H->att[0].failure, "");
    cr_expect_eq(H->att[0].status, 200);
    cr_expect_eq(H->att[0].retried, 0);
    cr_expect_eq(c->ev.status, 200);
    cr_expect_eq(c->ev.attempts, 1);
    cr_expect_str_eq(c->ev.model_served, "m");
    cr_expect_eq(c->ev.input_tokens, 3);
    cr_expect_eq(c->ev.output_tokens, 1);
    cr_expect_eq(c->ev.end_ns, T0 + MS(40));
    cr_expect_eq(ep_state("a", "e1")->breaker.state, SY_BREAKER_CLOSED);
    cr_expect_eq(ep_state("a", "e1")->ewma_samples, 1, "the latency EWMA saw the attempt");
    cr_expect_eq(ep_state("a", "e1")->in_flight, 0);
    h_fini();
}

Test(engine, status_503_then_next_endpoint_after_backoff)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  backoff: {base: 500ms, max: 8s, jitter: none}\n");
    push("a", "e1", fail(503, 10));
    push("a", "e2", ok(20));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(0, "a", "e1", T0);
    /* the 503 came at +10 ms; the first backoff is base (500 ms), no jitter */
    EXPECT_EXCHANGE(1, "a", "e2", T0 + MS(10 + 500));
    cr_expect_eq(c->sink.end_ns, T0 + MS(10 + 500 + 20));
    cr_expect_str_eq(hdr(c, "x-switchyard-endpoint"), "e2");
    cr_expect_str_eq(hdr(c, "x-switchyard-attempts"), "2");
    cr_assert_eq(H->n_att, 2);
    cr_expect_str_eq(H->att[0].failure, "503");
    cr_expect_eq(H->att[0].retried, 1);
    cr_expect_eq(H->att[0].status, 503);
    cr_expect_str_eq(H->att[1].failure, "");
    cr_expect_eq(c->ev.attempts, 2);
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 1, "a 5xx is a breaker failure");
    h_fini();
}

Test(engine, backoff_doubles_per_retry_of_the_route)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  max_attempts: 3\n  backoff: {base: 500ms, max: 8s, jitter: none}\n");
    push("a", "e1", fail(503, 10));
    push("a", "e2", fail(502, 10));
    push("a", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 3);
    EXPECT_EXCHANGE(0, "a", "e1", T0);
    EXPECT_EXCHANGE(1, "a", "e2", T0 + MS(10 + 500));
    EXPECT_EXCHANGE(2, "a", "e1", T0 + MS(10 + 500 + 10 + 1000));
    h_fini();
}

Test(engine, full_jitter_stays_within_the_backoff)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  max_attempts: 3\n  backoff: {base: 400ms, max: 8s, jitter: full}\n");
    for (int i = 0; i < 20; i++) {
        push("a", "e1", fail(503, 10));
        push("a", "e2", ok(10));
        size_t before = sy_script_count(H->net);
        call *c = h_start("m", 0, NULL);
        h_run();
        cr_expect_eq(c->sink.status, 200);
        cr_assert_eq(sy_script_count(H->net), before + 2);
        uint64_t gap = rec(before + 1)->start_ns - rec(before)->start_ns - MS(10);
        cr_expect_leq(gap, MS(400), "full jitter: uniform 0..base, got %" PRIu64 " ns", gap);
        /* keep e1's breaker from opening: a success resets its failures */
        push("a", "e1", ok(10));
        h_start("m", 0, NULL);
        h_run();
    }
    h_fini();
}

/* ----------------------------------------------------------- Retry-After */

Test(engine, retry_after_seconds_waits_that_long)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    push("s", "e1", answer(429, "Retry-After: 2", ERR_BODY, 10));
    push("s", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    /* one wait of the 2 s asked, not the 100 ms backoff */
    EXPECT_EXCHANGE(1, "s", "e1", T0 + MS(10 + 2000));
    cr_expect_str_eq(H->att[0].failure, "429");
    cr_expect_eq(H->att[0].retried, 1);
    cr_expect_eq(ep_state("s", "e1")->breaker.failures, 0, "a 429 is not a breaker failure");
    h_fini();
}

Test(engine, retry_after_ms_waits_that_long)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    push("s", "e1", answer(429, "retry-after-ms: 1500\nRetry-After: 9", ERR_BODY, 10));
    push("s", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(1, "s", "e1", T0 + MS(10 + 1500));
    h_fini();
}

Test(engine, retry_after_http_date_waits_until_then)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    time_t when = (time_t)(WALL0 + 3);
    struct tm tm;
    gmtime_r(&when, &tm);
    char headers[128];
    strftime(headers, sizeof headers, "Retry-After: %a, %d %b %Y %H:%M:%S GMT", &tm);
    push("s", "e1", answer(429, headers, ERR_BODY, 10));
    push("s", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    /* the 429 came at wall second WALL0; the date is 3 s later */
    EXPECT_EXCHANGE(1, "s", "e1", T0 + MS(10 + 3000));
    h_fini();
}

Test(engine, retry_after_ignored_when_not_honored)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n  retry_after: {honor: false}\n");
    push("s", "e1", answer(429, "Retry-After: 2", ERR_BODY, 10));
    push("s", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(1, "s", "e1", T0 + MS(10 + 100)); /* the backoff, not the 2 s */
    cr_expect_eq(sy_cooldown_until(&ep_state("s", "e1")->cool, "m", T0), 0);
    h_fini();
}

Test(engine, retry_after_beyond_max_moves_to_the_next_route_at_once)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("true")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n  retry_after: {max: 10s}\n");
    push("b", "e1", answer(429, "Retry-After: 30", ERR_BODY, 10));
    push("a", "e1", times(ok(10), 2));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(0, "b", "e1", T0);
    EXPECT_EXCHANGE(1, "a", "e1", T0 + MS(10)); /* at once: no wait, no backoff */
    cr_expect_str_eq(hdr(c, "x-switchyard-provider"), "a");
    /* b/e1 cools for the whole Retry-After: a canary request 1 s later skips it */
    cr_expect_eq(sy_cooldown_until(&ep_state("b", "e1")->cool, "m", T0), T0 + MS(10 + 30000));
    h_run_until(T0 + MS(1000));
    call *c2 = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c2->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 3);
    EXPECT_EXCHANGE(2, "a", "e1", T0 + MS(1000));
    h_fini();
}

Test(engine, every_route_429_gives_the_client_429_with_retry_after)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("true")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n  retry_after: {max: 10s}\n");
    push("b", "e1", answer(429, "Retry-After: 30", ERR_BODY, 10));
    push("a", "e1", answer(429, "Retry-After: 20", ERR_BODY, 10));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 429);
    cr_expect_eq(sy_script_count(H->net), 2);
    /* the soonest either route may be tried again: a/e1, 20 s after its answer */
    cr_expect_str_eq(hdr(c, "Retry-After"), "20");
    cr_expect(strstr(c->sink.body, "rate-limited"), "%s", c->sink.body);
    cr_expect_eq(c->sink.end_ns, T0 + MS(20));
    cr_expect_eq(c->ev.status, 429);
    h_fini();
}

/* --------------------------------------------------------------- time */

Test(engine, request_timeout_gives_504)
{
    h_init(HEAD("request_timeout: 3s") A_TWO("") "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", NULL, times(of_kind(SY_SCRIPT_HANG, 0), SY_SCRIPT_ALWAYS));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 504);
    cr_expect_eq(c->sink.end_ns, T0 + MS(3000));
    cr_expect(strstr(c->sink.body, "request_timeout"), "%s", c->sink.body);
    cr_assert_eq(sy_script_count(H->net), 1);
    cr_expect(rec(0)->cancelled, "the hung exchange was cancelled");
    cr_expect_str_eq(H->att[0].failure, "timeout");
    cr_expect_eq(c->ev.status, 504);
    h_fini();
}

Test(engine, hung_endpoint_fails_over_after_first_byte_timeout)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("    first_byte_timeout: 1s\n")
           "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", "e1", of_kind(SY_SCRIPT_HANG, 0));
    push("a", "e2", ok(50));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    cr_expect(rec(0)->cancelled);
    cr_expect_eq(rec(0)->end_ns, T0 + MS(1000));
    EXPECT_EXCHANGE(1, "a", "e2", T0 + MS(1000 + 500));
    cr_expect_eq(c->sink.end_ns, T0 + MS(1000 + 500 + 50), "well inside request_timeout");
    cr_expect_str_eq(H->att[0].failure, "timeout");
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 1, "an attempt timeout is a failure");
    h_fini();
}

Test(engine, endpoint_first_byte_timeout_overrides_the_providers)
{
    h_init(HEAD("request_timeout: 30s")
           PROV("a", "    first_byte_timeout: 5s\n",
                EP("a", "e1", 1, ", first_byte_timeout: 200ms") EP("a", "e2", 2, ""))
           "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", "e1", of_kind(SY_SCRIPT_HANG, 0));
    push("a", "e2", ok(50));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(1, "a", "e2", T0 + MS(200 + 500));
    h_fini();
}

Test(engine, connect_timeout_is_handed_to_the_transport)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("    connect_timeout: 2s\n")
           "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", "e1", of_kind(SY_SCRIPT_BLACKHOLE, 0));
    push("a", "e2", ok(50));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    cr_expect_eq(rec(0)->err, SY_IO_TIMEOUT);
    EXPECT_EXCHANGE(1, "a", "e2", T0 + MS(2000 + 500));
    cr_expect_str_eq(H->att[0].failure, "timeout");
    h_fini();
}

Test(engine, whole_answer_body_bounded_by_request_timeout)
{
    h_init(HEAD("request_timeout: 3s") S_ONE("") "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    sy_script_outcome o = answer(200, NULL, NULL, 100);
    o.chunks[0] = (sy_script_chunk){10, "{\"id\":"};
    o.end = SY_SCRIPT_END_SILENT; /* the rest of the body never comes */
    push("s", "e1", o);
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 504);
    cr_expect_eq(c->sink.end_ns, T0 + MS(3000));
    h_fini();
}

/* ---------------------------------------------------- routes and fallbacks */

Test(engine, fallback_model_chain)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  max_attempts: 2\n  backoff: {base: 100ms, jitter: none}\n"
           "models:\n  fallbacks:\n    m: [m2]\n");
    push("s", "e1", times(fail(503, 10), 2));
    push("s", "e1", ok(10));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 3);
    cr_expect_str_eq(rec(0)->model, "m");
    cr_expect_str_eq(rec(1)->model, "m");
    cr_expect_str_eq(rec(2)->model, "m2");
    EXPECT_EXCHANGE(1, "s", "e1", T0 + MS(10 + 100));
    /* a new route starts at once */
    EXPECT_EXCHANGE(2, "s", "e1", T0 + MS(10 + 100 + 10));
    cr_expect_str_eq(hdr(c, "x-switchyard-model"), "m2");
    cr_expect_str_eq(c->ev.model_served, "m2");
    cr_expect_eq(c->ev.attempts, 3);
    /* the last attempt of a route is not a retry */
    cr_expect_eq(H->att[0].retried, 1);
    cr_expect_eq(H->att[1].retried, 0);
    h_fini();
}

Test(engine, fallback_to_stable_after_the_canary_failed)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("true")
           "retry:\n  max_attempts: 2\n  backoff: {base: 100ms, jitter: none}\n");
    push("b", "e1", times(of_kind(SY_SCRIPT_CONNECT_ERROR, 5), SY_SCRIPT_ALWAYS));
    push("a", "e1", ok(10));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 3);
    EXPECT_EXCHANGE(0, "b", "e1", T0);
    EXPECT_EXCHANGE(1, "b", "e1", T0 + MS(5 + 100));
    EXPECT_EXCHANGE(2, "a", "e1", T0 + MS(5 + 100 + 5));
    cr_expect_str_eq(hdr(c, "x-switchyard-provider"), "a");
    cr_expect_str_eq(hdr(c, "x-switchyard-arm"), "stable");
    cr_expect_str_eq(H->att[0].failure, "connect_error");
    h_fini();
}

Test(engine, no_fallback_to_stable_when_off)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("false")
           "retry:\n  max_attempts: 2\n  backoff: {base: 100ms, jitter: none}\n");
    push("b", "e1", times(fail(503, 5), SY_SCRIPT_ALWAYS));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 502);
    cr_expect_eq(sy_script_count(H->net), 2);
    cr_expect_eq(sy_script_count_for(H->net, "a", NULL), 0);
    cr_expect(strstr(c->sink.body, "b/m"), "the 502 names the route tried: %s", c->sink.body);
    h_fini();
}

Test(engine, key_refused_moves_to_the_next_provider_never_back)
{
    h_init(HEAD("request_timeout: 30s")
           PROV("a", "", EP("a", "e1", 1, ""))
           PROV("b", "", EP("b", "e1", 1, "") EP("b", "e2", 2, ""))
           "migration:\n  stable: a\n  canary: b\n  rollout: {percent: 100}\n"
           "retry:\n  max_attempts: 3\n  backoff: {base: 100ms, jitter: none}\n"
           "breaker: {failure_threshold: 50}\n"
           "models:\n  fallbacks:\n    m: [m2]\n");
    push("b", NULL, times(answer(401, NULL, "{\"error\":{\"message\":\"bad key\"}}", 5),
                          SY_SCRIPT_ALWAYS));
    push("a", "e1", times(fail(503, 5), 3));
    push("a", "e1", ok(5));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 200);
    /* b once (its key is refused: never again, not its other endpoint, not
     * its route of the fallback model), a three times for m, once for m2 */
    cr_expect_eq(sy_script_count_for(H->net, "b", NULL), 1);
    cr_expect_eq(sy_script_count_for(H->net, "a", NULL), 4);
    EXPECT_EXCHANGE(1, "a", "e1", T0 + MS(5)); /* at once */
    cr_expect_str_eq(rec(4)->model, "m2");
    cr_expect_str_eq(hdr(c, "x-switchyard-model"), "m2");
    cr_expect_eq(ep_state("b", "e1")->breaker.failures, 0);
    h_fini();
}

Test(engine, status_404_moves_to_the_next_route)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("true")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    push("b", "e1", answer(404, NULL, "{\"error\":{\"message\":\"no such model\"}}", 5));
    push("a", "e1", ok(5));
    call *c = h_start("m", 0, "user-1");
    h_run();
    cr_expect_eq(c->sink.status, 200);
    cr_assert_eq(sy_script_count(H->net), 2);
    EXPECT_EXCHANGE(1, "a", "e1", T0 + MS(5));
    h_fini();
}

Test(engine, client_error_400_is_returned_at_once_breaker_untouched)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    /* first one 5xx on e1, so its failure count is 1 */
    push("a", "e1", fail(503, 5));
    push("a", "e2", ok(5));
    call *c1 = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c1->sink.status, 200);
    cr_assert_eq(ep_state("a", "e1")->breaker.failures, 1);

    static const char bad[] = "{\"error\":{\"message\":\"messages is required\",\"type\":"
                              "\"invalid_request_error\"}}";
    push("a", "e1", answer(400, NULL, bad, 5));
    uint64_t t = now();
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 400);
    cr_expect_str_eq(c->sink.body, bad, "the upstream's answer, as it came");
    cr_expect_eq(c->sink.end_ns, t + MS(5));
    cr_expect_eq(sy_script_count(H->net), 3, "not retried");
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 1, "neither a failure nor a success");
    cr_expect_eq(ep_state("a", "e1")->breaker.state, SY_BREAKER_CLOSED);
    cr_expect_str_eq(H->att[H->n_att - 1].failure, "client_error");
    cr_expect_eq(c->ev.status, 400);
    h_fini();
}

Test(engine, answer_over_max_response_is_502_not_retried)
{
    h_init(HEAD("request_timeout: 30s, max_response: 64B") A_TWO(""));
    push("a", "e1", ok(5));
    call *c = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c->sink.status, 502);
    cr_expect(strstr(c->sink.body, "max_response"), "%s", c->sink.body);
    cr_expect_eq(sy_script_count(H->net), 1);
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 0);
    h_fini();
}

/* The plugin could not build the upstream request (here: a fallback model
 * must be written into a body that is not a JSON object): the route fails,
 * but that is no fault of the endpoint's, so its breaker does not count it. */
Test(engine, plugin_error_is_not_a_breaker_failure)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  max_attempts: 1\n"
           "models:\n  fallbacks:\n    m: [m2]\n");
    push("s", "e1", fail(503, 5));
    call *c = h_start_body("m", 0, NULL, "[{\"model\":\"m\"}]");
    h_run();
    cr_expect_eq(c->sink.status, 502);
    cr_expect(strstr(c->sink.body, "plugin openai"), "%s", c->sink.body);
    cr_expect_eq(sy_script_count(H->net), 1, "nothing was sent for m2");
    cr_expect_str_eq(H->att[H->n_att - 1].failure, "plugin_error");
    cr_expect_eq(ep_state("s", "e1")->breaker.failures, 1, "only the 503 counts");
    cr_expect_eq(ep_state("s", "e1")->in_flight, 0);
    h_fini();
}

Test(engine, balance_latency_prefers_the_faster_endpoint)
{
    h_init(HEAD("request_timeout: 30s")
           PROV("a", "    balance: latency\n", EP("a", "e1", 1, "") EP("a", "e2", 1, "")));
    push("a", "e1", times(ok(300), SY_SCRIPT_ALWAYS));
    push("a", "e2", times(ok(50), SY_SCRIPT_ALWAYS));
    for (int i = 0; i < 10; i++) {
        call *c = h_start("m", 0, NULL);
        h_run();
        cr_expect_eq(c->sink.status, 200);
    }
    /* each is tried once while it has no sample; then the faster one wins */
    cr_expect_eq(sy_script_count_for(H->net, "a", "e1"), 1);
    cr_expect_eq(sy_script_count_for(H->net, "a", "e2"), 9);
    h_fini();
}

/* ------------------------------------------------------------- breakers */

Test(engine, breaker_opens_skips_the_endpoint_then_one_probe)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n"
           "breaker: {failure_threshold: 3, success_threshold: 1, open_for: 10s,"
           " half_open_max_calls: 1}\n");
    for (int i = 0; i < 3; i++) {
        push("a", "e1", fail(503, 5));
        push("a", "e2", ok(5));
        call *c = h_start("m", 0, NULL);
        h_run();
        cr_expect_eq(c->sink.status, 200);
    }
    sy_endpoint_state *e1 = ep_state("a", "e1");
    cr_assert_eq(e1->breaker.state, SY_BREAKER_OPEN);
    cr_expect_eq(e1->breaker.opens, 1);
    uint64_t opened = now();
    cr_expect_eq(sy_script_count_for(H->net, "a", "e1"), 3);

    /* open: the next requests go to e2 at once, without an exchange to e1 */
    push("a", "e2", times(ok(5), 2));
    for (int i = 0; i < 2; i++) {
        uint64_t t = now();
        call *c = h_start("m", 0, NULL);
        h_run();
        cr_expect_eq(c->sink.status, 200);
        cr_expect_str_eq(hdr(c, "x-switchyard-endpoint"), "e2");
        cr_expect_eq(c->sink.end_ns, t + MS(5));
    }
    cr_expect_eq(sy_script_count_for(H->net, "a", "e1"), 3);

    /* after open_for: one probe (half_open_max_calls 1); a request at the
     * same time goes to e2 */
    h_run_until(opened + MS(10000));
    push("a", "e1", ok(1000));
    push("a", "e2", ok(5));
    call *probe = h_start("m", 0, NULL);
    call *other = h_start("m", 0, NULL);
    cr_expect_eq(e1->breaker.state, SY_BREAKER_HALF_OPEN);
    h_run();
    cr_expect_eq(sy_script_count_for(H->net, "a", "e1"), 4, "exactly one probe");
    cr_expect_str_eq(hdr(probe, "x-switchyard-endpoint"), "e1");
    cr_expect_str_eq(hdr(other, "x-switchyard-endpoint"), "e2");
    cr_expect_eq(e1->breaker.state, SY_BREAKER_CLOSED, "the probe succeeded");
    cr_expect_gt(H->n_endpoint_events, 2, "observers saw the breaker change");
    h_fini();
}

Test(engine, client_gone_mid_attempt_releases_the_half_open_permit)
{
    h_init(HEAD("request_timeout: 30s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n  retry_after: {max: 5s}\n"
           "breaker: {failure_threshold: 1, success_threshold: 1, open_for: 10s,"
           " half_open_max_calls: 1}\n");
    push("s", "e1", fail(503, 5));
    call *c1 = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c1->sink.status, 502);
    sy_endpoint_state *e1 = ep_state("s", "e1");
    cr_assert_eq(e1->breaker.state, SY_BREAKER_OPEN);

    h_run_until(now() + MS(10000));
    push("s", "e1", of_kind(SY_SCRIPT_HANG, 0));
    call *probe = h_start("m", 0, NULL);
    cr_assert_eq(e1->breaker.state, SY_BREAKER_HALF_OPEN);
    cr_assert_eq(e1->breaker.probes_in_flight, 1);
    /* the only probe slot is taken: no attempt */
    call *refused = h_start("m", 0, NULL);
    cr_expect_eq(refused->sink.status, 503);
    cr_expect_eq(sy_script_count(H->net), 2);

    h_run_until(now() + MS(100));
    h_abort(probe, SY_ABORT_CLIENT_GONE);
    cr_expect_eq(probe->events, 1);
    cr_expect(probe->ev.client_aborted);
    cr_expect_eq(probe->ev.status, 499);
    cr_expect_eq(sy_script_live(H->net), 0, "the upstream exchange was cancelled");
    cr_expect_eq(e1->breaker.probes_in_flight, 0, "the probe slot was handed back");
    cr_expect_eq(e1->breaker.state, SY_BREAKER_HALF_OPEN);
    cr_expect_str_eq(H->att[H->n_att - 1].failure, "client_gone");

    push("s", "e1", ok(5));
    call *c3 = h_start("m", 0, NULL);
    h_run();
    cr_expect_eq(c3->sink.status, 200);
    cr_expect_eq(sy_script_count(H->net), 3);
    cr_expect_eq(e1->breaker.state, SY_BREAKER_CLOSED);
    h_fini();
}

Test(engine, deadline_mid_probe_releases_the_half_open_permit)
{
    h_init(HEAD("request_timeout: 2s") S_ONE("")
           "retry:\n  backoff: {base: 100ms, jitter: none}\n  retry_after: {max: 1s}\n"
           "breaker: {failure_threshold: 1, success_threshold: 1, open_for: 10s,"
           " half_open_max_calls: 1}\n");
    push("s", "e1", fail(503, 5));
    h_start("m", 0, NULL);
    h_run();
    sy_endpoint_state *e1 = ep_state("s", "e1");
    cr_assert_eq(e1->breaker.state, SY_BREAKER_OPEN);
    h_run_until(now() + MS(10000));
    push("s", "e1", of_kind(SY_SCRIPT_HANG, 0));
    call *probe = h_start("m", 0, NULL);
    cr_assert_eq(e1->breaker.probes_in_flight, 1);
    h_run();
    cr_expect_eq(probe->sink.status, 504);
    /* a timeout is a failure: the half-open breaker opens again, no slot kept */
    cr_expect_eq(e1->breaker.state, SY_BREAKER_OPEN);
    cr_expect_eq(e1->breaker.probes_in_flight, 0);
    h_fini();
}

/* ------------------------------------------------------- retry budget */

typedef struct storm {
    sy_timer *timer;
    int left;
    int64_t every_ms;
    const char *user;
} storm;

static void storm_tick(void *arg)
{
    storm *s = arg;
    h_start("m", 0, s->user);
    if (--s->left > 0) sy_timer_arm_ms(s->timer, s->every_ms);
}

Test(engine, retry_budget_caps_the_extra_load_of_a_storm)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  max_attempts: 3\n  backoff: {base: 10ms, jitter: none}\n"
           "  budget: {ratio: 0.2, min_per_second: 0}\n"
           "breaker: {failure_threshold: 10000}\n");
    push("a", NULL, times(fail(503, 5), SY_SCRIPT_ALWAYS));
    enum { N = 200 };
    storm s = {sy_timer_new(H->loop, storm_tick, &s), N, 10, NULL}; /* 100 requests/s for 2 s */
    sy_timer_arm_ms(s.timer, 0);
    h_run();
    sy_timer_free(s.timer);
    cr_assert_eq(H->n_calls, N);
    size_t attempts = sy_script_count(H->net);
    cr_log_info("%zu attempts for %d requests", attempts, N);
    /* without a budget: 3 per request (600); with it: about 1.2 per request */
    cr_expect_geq(attempts, (size_t)(N * 1.15), "attempts %zu", attempts);
    cr_expect_leq(attempts, (size_t)(N * 1.2) + 1, "attempts %zu", attempts);
    size_t exhausted = 0, said_so = 0;
    for (size_t i = 0; i < H->n_att; i++) exhausted += H->att[i].budget_exhausted;
    for (size_t i = 0; i < H->n_calls; i++) {
        cr_expect_eq(H->calls[i]->sink.status, 502);
        said_so += strstr(H->calls[i]->sink.body, "retry budget exhausted") != NULL;
    }
    cr_expect_gt(exhausted, 0);
    cr_expect_gt(said_so, N / 2, "the 502 says the budget refused the retry");
    cr_expect_eq(count_attempts("503"), attempts);
    h_fini();
}

/* Half of all answers fail, drawn from the seeded generator. */
static int coin_flip(void *ctx, const sy_io_request *r, uint64_t now_ns, sy_script_outcome *out)
{
    (void)ctx;
    (void)r;
    (void)now_ns;
    *out = sy_rng_below(2) ? fail(503, 5) : ok(5);
    return 0;
}

/* The storm: 50% errors at 200 requests/s. With 3 tries per route
 * and no budget the upstream would see about 1.75 attempts per request; the
 * budget holds it near 1 + ratio (plus the small floor). */
Test(engine, retry_budget_holds_a_half_failing_storm_near_the_ratio)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  max_attempts: 3\n  backoff: {base: 20ms, jitter: full}\n"
           "  budget: {ratio: 0.2, min_per_second: 1}\n"
           "breaker: {failure_threshold: 10000}\n");
    sy_script_set_picker(H->net, coin_flip, NULL);
    enum { N = 1000 };
    storm s = {sy_timer_new(H->loop, storm_tick, &s), N, 5, NULL}; /* 200/s for 5 s */
    sy_timer_arm_ms(s.timer, 0);
    h_run();
    sy_timer_free(s.timer);
    size_t attempts = sy_script_count(H->net);
    cr_log_info("%zu attempts for %d requests", attempts, N);
    /* retries <= 0.2 x requests + 1/s x the 10 s window */
    cr_expect_leq(attempts, (size_t)(N * 1.2) + 10, "attempts %zu", attempts);
    cr_expect_geq(attempts, (size_t)(N * 1.15), "attempts %zu (the budget was used)", attempts);
    size_t ok200 = 0;
    for (size_t i = 0; i < H->n_calls; i++) ok200 += H->calls[i]->sink.status == 200;
    cr_expect_gt(ok200, N * 0.6, "%zu answered", ok200);
    h_fini();
}

/* A plan that goes canary, stable, canary, stable (fallback models) counts
 * the request once in each provider's budget, not once per route. */
Test(engine, retry_budget_counts_a_request_once_per_provider)
{
    h_init(HEAD("request_timeout: 30s") MIGRATION("true")
           "retry:\n  max_attempts: 3\n  backoff: {base: 10ms, jitter: none}\n"
           "  budget: {ratio: 0.2, min_per_second: 0}\n"
           "breaker: {failure_threshold: 10000}\n"
           "models:\n  fallbacks:\n    m: [m2]\n");
    push(NULL, NULL, times(fail(503, 5), SY_SCRIPT_ALWAYS));
    enum { N = 200 };
    storm s = {sy_timer_new(H->loop, storm_tick, &s), N, 10, "user-1"};
    sy_timer_arm_ms(s.timer, 0);
    h_run();
    sy_timer_free(s.timer);
    cr_log_info("attempts: a %zu, b %zu, for %d requests", sy_script_count_for(H->net, "a", NULL),
                sy_script_count_for(H->net, "b", NULL), N);
    /* per request and provider: two routes' first attempts, and retries of
     * at most 20% of the requests */
    size_t a = sy_script_count_for(H->net, "a", NULL), b = sy_script_count_for(H->net, "b", NULL);
    cr_expect_geq(b, (size_t)(N * 2.15), "b: %zu attempts", b);
    cr_expect_leq(b, (size_t)(N * 2.2) + 1, "b: %zu attempts", b);
    cr_expect_geq(a, (size_t)(N * 2.15), "a: %zu attempts", a);
    cr_expect_leq(a, (size_t)(N * 2.2) + 1, "a: %zu attempts", a);
    h_fini();
}

/* ------------------------------------------------------------ streams */

static sy_script_outcome stream(int64_t latency)
{
    sy_script_outcome o = answer(200, "Content-Type: text/event-stream", NULL, latency);
    return o;
}

Test(engine, stream_clean_one_write_per_upstream_read)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    char three[512], half1[64], half2[512];
    snprintf(three, sizeof three, "%s%s%s", EV1, EV2, EV1);
    size_t cut = 20;
    snprintf(half1, sizeof half1, "%.*s", (int)cut, EV3);
    snprintf(half2, sizeof half2, "%s%s", EV3 + cut, DONE);
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, three};  /* three events in one read */
    o.chunks[1] = (sy_script_chunk){5, half1};  /* half an event: nothing to write yet */
    o.chunks[2] = (sy_script_chunk){5, half2};  /* its rest and [DONE] */
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect_eq(c->sink.stream_begins, 1);
    cr_expect_eq(c->sink.stream_ends, 1);
    cr_expect_eq(c->sink.status, 200);
    cr_expect_str_eq(c->sink.content_type, "text/event-stream");
    cr_expect_eq(c->sink.first_byte_ns, T0 + MS(10));
    cr_expect_eq(c->sink.writes, 2, "one write per upstream read that completed events");
    cr_expect_eq(c->sink.write_len[0], strlen(three));
    char all[1024];
    snprintf(all, sizeof all, "%s%s%s", three, EV3, DONE);
    cr_expect_str_eq(c->sink.body, all, "the events pass through unchanged");
    cr_expect_eq(c->ev.stream_cut, 0);
    cr_expect_eq(c->ev.status, 200);
    cr_expect_eq(c->ev.stream, 1);
    cr_expect_str_eq(H->att[0].failure, "");
    cr_expect_eq(sy_script_count(H->net), 1);
    h_fini();
}

Test(engine, stream_commit_point_no_retry_after_the_first_byte)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("") "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    o.chunks[1] = (sy_script_chunk){5, EV2};
    o.end = SY_SCRIPT_END_CUT;
    push("a", "e1", o);
    push("a", "e2", ok(5)); /* must not be used */
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect_eq(sy_script_count(H->net), 1, "no retry after the commit point");
    cr_expect_eq(c->sink.stream_begins, 1);
    cr_expect_eq(c->sink.stream_ends, 1);
    cr_expect_eq(c->sink.status, 200);
    cr_expect_eq(strncmp(c->sink.body, EV1, strlen(EV1)), 0);
    const char *err = strstr(c->sink.body, "data: {\"error\":");
    cr_assert(err, "an SSE error event ends the stream: %s", c->sink.body);
    cr_expect(strstr(err, "stream_interrupted"), "%s", err);
    cr_expect_eq(c->sink.writes, 3, "two reads, then the error event");
    cr_expect_eq(c->ev.stream_cut, 1);
    cr_expect_str_eq(c->ev.cut_reason, "upstream");
    cr_expect_eq(c->ev.status, 502, "a cut stream is a failure, not a 200");
    cr_expect_str_eq(H->att[0].failure, "stream_cut");
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 1, "a cut stream is a breaker failure");
    h_fini();
}

Test(engine, stream_ended_without_done_is_cut)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    push("a", "e1", o); /* ends cleanly at the TCP level, but no [DONE] */
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect(strstr(c->sink.body, "without [DONE]"), "%s", c->sink.body);
    cr_expect_eq(c->ev.stream_cut, 1);
    h_fini();
}

Test(engine, stream_error_status_before_commit_is_retried)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("") "retry:\n  backoff: {base: 100ms, jitter: none}\n");
    push("a", "e1", fail(503, 10));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    o.chunks[1] = (sy_script_chunk){5, DONE};
    push("a", "e2", o);
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect_eq(sy_script_count(H->net), 2);
    cr_expect_eq(c->sink.stream_begins, 1);
    cr_expect_eq(c->sink.responds, 0);
    cr_expect_str_eq(hdr(c, "x-switchyard-endpoint"), "e2");
    cr_expect_eq(c->sink.first_byte_ns, T0 + MS(10 + 100 + 10));
    cr_expect_eq(c->ev.stream_cut, 0);
    h_fini();
}

Test(engine, stream_bounded_by_idle_timeout_not_request_timeout)
{
    h_init(HEAD("request_timeout: 3s, stream_idle_timeout: 2s") A_TWO(""));
    /* a long stream: an event every 1.5 s for 9 s, longer than request_timeout */
    sy_script_outcome o = stream(10);
    for (int i = 0; i < 6; i++) o.chunks[i] = (sy_script_chunk){1500, EV1};
    o.chunks[6] = (sy_script_chunk){1500, DONE};
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect_eq(c->ev.stream_cut, 0, "%s", c->sink.body);
    cr_expect_null(strstr(c->sink.body, "error"), "%s", c->sink.body);
    cr_expect_eq(c->sink.end_ns, T0 + MS(10 + 7 * 1500));
    cr_expect_eq(c->sink.writes, 7);
    h_fini();
}

Test(engine, stream_idle_timeout_cuts_a_silent_stream)
{
    h_init(HEAD("request_timeout: 30s, stream_idle_timeout: 2s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){10, EV1};
    o.end = SY_SCRIPT_END_SILENT;
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run();
    const char *err = strstr(c->sink.body, "data: {\"error\":");
    cr_assert(err, "%s", c->sink.body);
    cr_expect(strstr(err, "stream_idle_timeout"), "%s", err);
    cr_expect_eq(c->sink.stream_ends, 1);
    /* the last byte came at +20 ms; cut 2 s later (within a tick) */
    cr_expect_geq(c->sink.end_ns, T0 + MS(20 + 2000));
    cr_expect_leq(c->sink.end_ns, T0 + MS(20 + 2000 + 2));
    cr_expect(rec(0)->cancelled);
    cr_expect_eq(c->ev.stream_cut, 1);
    cr_expect_str_eq(c->ev.cut_reason, "idle");
    cr_expect_str_eq(H->att[0].failure, "stream_idle");
    h_fini();
}

Test(engine, slow_client_pauses_the_upstream_and_is_not_idle)
{
    h_init(HEAD("request_timeout: 30s, stream_idle_timeout: 2s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){10, EV1};
    o.chunks[1] = (sy_script_chunk){10, EV2};
    o.chunks[2] = (sy_script_chunk){10, DONE};
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run_until(T0 + MS(25)); /* committed, first event written */
    cr_assert_eq(c->sink.writes, 1);
    c->sink.queued = SY_SINK_HIGH_WATER + 1; /* the client stops reading */
    h_run_until(T0 + MS(10000));
    cr_expect_eq(c->sink.writes, 1, "paused: nothing more written");
    cr_expect_eq(c->events, 0, "a pause is not the upstream's silence");
    c->sink.queued = 0;
    sy_engine_drained(c->x);
    h_run();
    cr_expect_eq(c->sink.writes, 3);
    cr_expect_eq(c->ev.stream_cut, 0);
    char all[512];
    snprintf(all, sizeof all, "%s%s%s", EV1, EV2, DONE);
    cr_expect_str_eq(c->sink.body, all);
    h_fini();
}

Test(engine, upstream_error_event_in_a_stream_is_a_failed_attempt)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    o.chunks[1] = (sy_script_chunk){5, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n"};
    o.chunks[2] = (sy_script_chunk){5, DONE};
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run();
    cr_expect_str_eq(H->att[0].failure, "stream_cut");
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 1);
    cr_expect_eq(c->ev.stream_cut, 0, "[DONE] came: not cut");
    cr_expect_eq(c->ev.status, 502, "the upstream's error event makes the request a failure");
    h_fini();
}

/* -------------------------------------------------------------- aborts */

Test(engine, client_gone_during_a_backoff_reports_no_phantom_attempt)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("") "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", "e1", fail(503, 10));
    call *c = h_start("m", 0, NULL);
    h_run_until(T0 + MS(100)); /* the 503 came; waiting out the backoff */
    cr_assert_eq(H->n_att, 1);
    h_abort(c, SY_ABORT_CLIENT_GONE);
    cr_expect_eq(H->n_att, 1, "no attempt was in flight: no attempt event");
    cr_expect(c->ev.client_aborted);
    cr_expect_eq(sy_script_count(H->net), 1);
    h_fini();
}

Test(engine, shutdown_during_a_backoff_answers_503)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("") "retry:\n  backoff: {base: 500ms, jitter: none}\n");
    push("a", "e1", fail(503, 10));
    call *c = h_start("m", 0, NULL);
    h_run_until(T0 + MS(100));
    h_abort(c, SY_ABORT_SHUTDOWN);
    cr_expect_eq(c->sink.status, 503);
    cr_expect(strstr(c->sink.body, "shutting down"), "%s", c->sink.body);
    cr_expect_eq(H->n_att, 1, "no attempt was in flight: no attempt event");
    cr_expect_eq(sy_script_count(H->net), 1);
    h_fini();
}

Test(engine, shutdown_mid_attempt_cancels_and_answers_503)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    push("a", "e1", of_kind(SY_SCRIPT_HANG, 0));
    call *c = h_start("m", 0, NULL);
    h_run_until(T0 + MS(100));
    h_abort(c, SY_ABORT_SHUTDOWN);
    cr_expect_eq(c->sink.status, 503);
    cr_expect(rec(0)->cancelled);
    cr_expect_str_eq(H->att[0].failure, "shutdown");
    cr_expect_eq(ep_state("a", "e1")->in_flight, 0);
    h_fini();
}

Test(engine, shutdown_mid_stream_ends_it_with_an_error_event)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    o.end = SY_SCRIPT_END_SILENT;
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run_until(T0 + MS(100));
    h_abort(c, SY_ABORT_SHUTDOWN);
    cr_expect_eq(c->sink.stream_ends, 1);
    const char *err = strstr(c->sink.body, "data: {\"error\":");
    cr_assert(err, "%s", c->sink.body);
    cr_expect(strstr(err, "server_shutdown"), "%s", err);
    cr_expect_str_eq(c->ev.cut_reason, "shutdown");
    cr_expect(rec(0)->cancelled);
    h_fini();
}

Test(engine, client_gone_mid_stream)
{
    h_init(HEAD("request_timeout: 30s") A_TWO(""));
    sy_script_outcome o = stream(10);
    o.chunks[0] = (sy_script_chunk){5, EV1};
    o.end = SY_SCRIPT_END_SILENT;
    push("a", "e1", o);
    call *c = h_start("m", 1, NULL);
    h_run_until(T0 + MS(100));
    h_abort(c, SY_ABORT_CLIENT_GONE);
    cr_expect(c->ev.client_aborted);
    cr_expect_eq(c->sink.stream_ends, 0, "nothing is sent to a client that left");
    cr_expect(rec(0)->cancelled);
    cr_expect_eq(ep_state("a", "e1")->breaker.failures, 0, "the client leaving is not a failure");
    h_fini();
}

/* ----------------------------------------------------------- determinism */

/* The same scenario twice gives the same exchanges at the same times. */
static void storm_run(uint64_t *trace, size_t cap, size_t *n)
{
    h_init(HEAD("request_timeout: 30s") A_TWO("")
           "retry:\n  max_attempts: 3\n  backoff: {base: 50ms, jitter: full}\n"
           "breaker: {failure_threshold: 4, open_for: 1s}\n");
    for (int i = 0; i < 200; i++) {
        push("a", "e1", i % 3 ? fail(503, 5 + i % 7) : ok(5 + i % 7));
        push("a", "e2", i % 2 ? fail(502, 3 + i % 5) : ok(3 + i % 5));
    }
    storm s = {sy_timer_new(H->loop, storm_tick, &s), 40, 7, NULL};
    sy_timer_arm_ms(s.timer, 0);
    h_run();
    sy_timer_free(s.timer);
    *n = sy_script_count(H->net);
    for (size_t i = 0; i < *n && i < cap; i++)
        trace[i] = rec(i)->start_ns ^ ((uint64_t)rec(i)->endpoint[1] << 60);
    for (size_t i = 0; i < H->n_calls; i++) trace[cap - 1] += (uint64_t)H->calls[i]->sink.status;
    /* leave the leftover script: h_fini runs the loop and frees */
    h_fini();
}

Test(engine, seeded_runs_are_repeatable)
{
    enum { CAP = 512 };
    static uint64_t a[CAP], b[CAP];
    size_t na = 0, nb = 0;
    storm_run(a, CAP, &na);
    storm_run(b, CAP, &nb);
    cr_assert_eq(na, nb);
    cr_expect_gt(na, 40);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "two seeded runs differ");
}
