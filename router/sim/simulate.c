/* simulate.c - one simulation on the simulated clock (see simulate.h). */
#include "simulate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "loop.h"
#include "outcomes.h"
#include "planner.h"
#include "prober.h"
#include "rng.h"
#include "rollout_sim.h"
#include "router.h"
#include "traffic.h"
#include "transport_script.h"

#define NS_PER_MS 1000000ull
#define T0 (1000ull * 1000000000ull) /* the simulated monotonic clock at the start */
#define WALL0 ((int64_t)1767225600)   /* its wall clock: 2026-01-01T00:00:00Z */
#define MAX_BODIES 64

typedef struct sim sim;

/* One client request: the counting sink the engine answers into. */
typedef struct sim_call {
    sy_sink base;
    sim *s;
    int status;
    uint64_t first_byte;
    int planned_canary;
    uint32_t slot;
} sim_call;

typedef struct body_text {
    const char *model;  /* the traffic's pointer: the key */
    int stream;
    sy_op op;
    char *text;
    size_t len;
} body_text;

struct sim {
    const sy_sim_input *in;
    sy_policy *pol;
    sy_loop *loop;
    sy_router *router;
    sy_transport *net;
    sy_prober *prober;
    sy_outcomes *outcomes;
    sy_traffic traffic;
    sy_report *report;
    sy_sim_rollout ro;
    sy_engine_env env;
    sy_timer *arrival_timer, *tick_timer, *row_timer, *action_timer;
    size_t next_action;
    sy_arrival next;
    uint64_t end_ns, row_ns;
    const char *sticky_source;
    /* calls in flight, by slot */
    sim_call **slots;
    size_t n_slots, cap_slots;
    uint32_t *free_slots;
    size_t n_free;
    uint64_t seq, arrivals;
    body_text bodies[MAX_BODIES];
    size_t n_bodies;
    int oom;
};

/* ---------------------------------------------------------------- sink */

static uint64_t now(const sim *s) { return sy_loop_now(s->loop); }

static void answered(sim_call *c, int status)
{
    c->status = status;
    if (!c->first_byte) c->first_byte = now(c->s);
}

static void sk_respond(sy_sink *b, int status, const char *ct, const char *extra, const char *body,
                       size_t len)
{
    (void)ct, (void)extra, (void)body, (void)len;
    answered((sim_call *)b, status);
}

static void sk_stream_begin(sy_sink *b, int status, const char *ct, const char *extra)
{
    (void)ct, (void)extra;
    answered((sim_call *)b, status);
}

static void sk_stream_write(sy_sink *b, const char *data, size_t len) { (void)b, (void)data, (void)len; }
static void sk_stream_end(sy_sink *b) { (void)b; }
static size_t sk_queued(sy_sink *b) { (void)b; return 0; } /* a client that reads at once */
static uint64_t sk_first_byte(sy_sink *b) { return ((sim_call *)b)->first_byte; }
static int sk_status(sy_sink *b) { return ((sim_call *)b)->status; }

static const sy_sink_ops sink_ops = {sk_respond, sk_stream_begin, sk_stream_write, sk_stream_end,
                                     sk_queued, sk_first_byte, sk_status};

static sim_call *call_new(sim *s)
{
    uint32_t slot;
    if (s->n_free) {
        slot = s->free_slots[--s->n_free];
    } else {
        if (s->n_slots == s->cap_slots) {
            size_t cap = s->cap_slots ? s->cap_slots * 2 : 256;
            sim_call **ns = realloc(s->slots, cap * sizeof *ns);
            uint32_t *nf = realloc(s->free_slots, cap * sizeof *nf);
            if (ns) s->slots = ns;
            if (nf) s->free_slots = nf;
            if (!ns || !nf) return NULL;
            s->cap_slots = cap;
        }
        slot = (uint32_t)s->n_slots;
        s->slots[s->n_slots] = calloc(1, sizeof(sim_call));
        if (!s->slots[s->n_slots]) return NULL;
        s->n_slots++;
    }
    sim_call *c = s->slots[slot];
    memset(c, 0, sizeof *c);
    c->base.ops = &sink_ops;
    c->s = s;
    c->slot = slot;
    return c;
}

/* ----------------------------------------------------------- observers */

static void on_attempt(void *ctx, const sy_attempt_event *e)
{
    sy_report_attempt(((sim *)ctx)->report, e);
}

/* The request is over: count it and free its slot. The id is "SEQ.SLOT". */
static void on_request(void *ctx, const sy_request_event *e)
{
    sim *s = ctx;
    const char *dot = e->request_id ? strrchr(e->request_id, '.') : NULL;
    unsigned long slot = dot ? strtoul(dot + 1, NULL, 10) : (unsigned long)-1;
    if (slot >= s->n_slots) return; /* not ours (cannot happen) */
    sim_call *c = s->slots[slot];
    sy_report_request(s->report, e, c->planned_canary);
    s->free_slots[s->n_free++] = c->slot;
}

static void on_endpoint(void *ctx, const sy_endpoint_state *st)
{
    sim *s = ctx;
    sy_report_endpoint(s->report, st, now(s));
}

/* -------------------------------------------------------------- traffic */

static const body_text *body_for(sim *s, const sy_arrival *a)
{
    for (size_t i = 0; i < s->n_bodies; i++)
        if (s->bodies[i].model == a->model && s->bodies[i].stream == a->stream && s->bodies[i].op == a->op)
            return &s->bodies[i];
    if (s->n_bodies == MAX_BODIES) { /* many models: the oldest gives way */
        free(s->bodies[0].text);
        memmove(&s->bodies[0], &s->bodies[1], (MAX_BODIES - 1) * sizeof *s->bodies);
        s->n_bodies--;
    }
    /* Model names were checked by the scenario / the access log's writer;
     * quote anything that would break the JSON anyway. */
    char model[600];
    size_t j = 0;
    for (const char *p = a->model; *p && j + 3 < sizeof model; p++) {
        if (*p == '"' || *p == '\\') model[j++] = '\\';
        model[j++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    model[j] = '\0';
    char text[1024];
    const char *stream = a->stream ? ",\"stream\":true" : "";
    if (a->op == SY_OP_EMBEDDINGS)
        snprintf(text, sizeof text, "{\"model\":\"%s\",\"input\":\"hello\"}", model);
    else if (a->op == SY_OP_COMPLETIONS)
        snprintf(text, sizeof text, "{\"model\":\"%s\",\"prompt\":\"hello\"%s}", model, stream);
    else
        snprintf(text, sizeof text,
                 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]%s}",
                 model, stream);
    body_text *b = &s->bodies[s->n_bodies];
    b->text = strdup(text);
    if (!b->text) return NULL;
    b->model = a->model;
    b->stream = a->stream;
    b->op = a->op;
    b->len = strlen(text);
    s->n_bodies++;
    return b;
}

static const char *op_path(sy_op op)
{
    return op == SY_OP_CHAT ? "/v1/chat/completions"
           : op == SY_OP_COMPLETIONS ? "/v1/completions" : "/v1/embeddings";
}

static double share(const sim *s) { return sy_sim_rollout_share(&s->ro); }

/* One client request arrives now. */
static void submit(sim *s, const sy_arrival *a)
{
    const sy_migration_conf *m = &s->pol->migration;
    double pct = share(s);
    size_t klen = strlen(a->user);
    int has_key = s->sticky_source != NULL && klen > 0;
    int planned_canary = m->enabled && has_key &&
                         sy_sticky_bucket(sy_rollout_id(s->pol), a->user, klen) <
                             sy_canary_threshold(pct);
    s->arrivals++;
    if (s->pol->rate_limit.enabled &&
        sy_router_rate_limit(s->router, &s->pol->rate_limit, now(s)) != 0) {
        sy_report_rate_limited(s->report, planned_canary);
        return;
    }
    const body_text *b = body_for(s, a);
    sim_call *c = b ? call_new(s) : NULL;
    if (!c) {
        s->oom = 1;
        return;
    }
    c->planned_canary = planned_canary;
    char id[48];
    snprintf(id, sizeof id, "%" PRIu64 ".%u", ++s->seq, c->slot);
    sy_engine_request r = {
        .policy = sy_policy_ref(s->pol), .op = a->op, .method = "POST", .path = op_path(a->op),
        .body = b->text, .body_len = b->len, .model = a->model, .stream = a->stream,
        .sticky_key = has_key ? a->user : NULL, .sticky_key_len = has_key ? klen : 0,
        .sticky_source = has_key ? s->sticky_source : NULL, .percent = pct, .request_id = id,
        .start_ns = now(s),
    };
    sy_exec *x = sy_engine_new(&s->env, &r, &c->base);
    if (x) sy_engine_run(x);
}

static void arm_arrival(sim *s)
{
    uint64_t at = T0 + (uint64_t)s->next.at_us * 1000u;
    sy_timer_arm_ns(s->arrival_timer, at > now(s) ? at - now(s) : 0);
}

static void on_arrival(void *arg)
{
    sim *s = arg;
    submit(s, &s->next);
    if (!s->oom && sy_traffic_next(&s->traffic, &s->next)) arm_arrival(s);
}

/* ------------------------------------------------------------- rollout */

/* What the controller did, as a report event. action: the scenario's
 * action that did it, or -1 (the tick). */
static void report_change(sim *s, const sy_ro_change *ch, int action)
{
    if (!ch->changed) return;
    const sy_rollout_ctl *c = &s->ro.ctl;
    sy_sim_event e;
    memset(&e, 0, sizeof e);
    e.t_ns = now(s);
    e.from = ch->from;
    e.to = ch->to;
    snprintf(e.text, sizeof e.text, "%s", c->reason.text[0] ? c->reason.text : ch->log);
    if (ch->rollback) {
        e.type = SY_SIM_ROLLBACK;
        snprintf(e.reason, sizeof e.reason, "%s", c->reason.kind);
        e.figures = c->reason.figures;
        e.value = c->reason.value;
        e.threshold = c->reason.threshold;
        e.requests = c->reason.requests;
        e.failures = c->reason.failures;
        e.samples = c->reason.samples;
    } else if (action == SY_SCN_PAUSE) {
        e.type = SY_SIM_PAUSE;
    } else if (action == SY_SCN_RESUME) {
        e.type = SY_SIM_RESUME;
    } else if (action == SY_SCN_SET) {
        e.type = SY_SIM_SET;
    } else if (ch->to > ch->from) {
        e.type = SY_SIM_PROMOTE;
    } else {
        return; /* nothing else moves on its own */
    }
    sy_report_event(s->report, &e);
}

static int64_t wall(const sim *s) { return sy_loop_wall(s->loop); }

static void on_tick(void *arg)
{
    sim *s = arg;
    sy_ro_change ch;
    sy_sim_rollout_tick(&s->ro, now(s), wall(s), &ch);
    report_change(s, &ch, -1);
    sy_timer_arm_ms(s->tick_timer, SY_ROLLOUT_TICK_MS);
}

static void arm_action(sim *s)
{
    const sy_scenario *sc = s->in->scenario;
    if (s->next_action >= sc->n_actions) return;
    uint64_t at = T0 + (uint64_t)sc->actions[s->next_action].at_ms * NS_PER_MS;
    sy_timer_arm_ns(s->action_timer, at > now(s) ? at - now(s) : 0);
}

/* The scenario's next operator action (POST /admin/rollout). One the
 * controller refuses (a pause while rolled back) changes nothing. */
static void on_action(void *arg)
{
    sim *s = arg;
    const sy_scn_action *a = &s->in->scenario->actions[s->next_action++];
    sy_ro_change ch;
    char err[256];
    if (sy_sim_rollout_action(&s->ro, sy_scn_action_name(a->kind), a->percent, now(s), wall(s),
                              &ch, err, sizeof err) == 0)
        report_change(s, &ch, (int)a->kind);
    arm_action(s);
}

static void on_row(void *arg)
{
    sim *s = arg;
    sy_report_row(s->report, now(s), share(s));
    /* The last row closes after the drain, with the requests still in flight. */
    if (now(s) + s->row_ns < s->end_ns) sy_timer_arm_ns(s->row_timer, s->row_ns);
}

/* ----------------------------------------------------------------- run */

int64_t sy_simulate_row_ms(int64_t duration_ms)
{
    static const int64_t rows[] = {60000, 300000, 600000, 900000, 1800000, 3600000, 7200000,
                                   21600000, 86400000};
    size_t i = 0;
    while (i + 1 < sizeof rows / sizeof *rows && duration_ms / rows[i] > 120) i++;
    return rows[i];
}

static void sim_free(sim *s)
{
    sy_timer_free(s->arrival_timer);
    sy_timer_free(s->tick_timer);
    sy_timer_free(s->row_timer);
    sy_timer_free(s->action_timer);
    sy_prober_free(s->prober);
    if (s->net) sy_script_free(s->net);
    sy_outcomes_free(s->outcomes);
    sy_traffic_fini(&s->traffic);
    sy_sim_rollout_fini(&s->ro);
    sy_router_free(s->router);
    sy_loop_sim_free(s->loop);
    for (size_t i = 0; i < s->n_slots; i++) free(s->slots[i]);
    free(s->slots);
    free(s->free_slots);
    for (size_t i = 0; i < s->n_bodies; i++) free(s->bodies[i].text);
}

int sy_simulate(const sy_sim_input *in, sy_sim_output *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const sy_scenario *sc = in->scenario;
    sim S, *s = &S;
    memset(s, 0, sizeof *s);
    s->in = in;
    s->pol = in->policy;
    sy_rng_seed(in->seed);

    int64_t duration_ms = sc->duration_ms > 0 ? sc->duration_ms
                          : in->replay   ? in->replay->span_ms + 1
                                         : 0;
    int64_t row_ms = sc->timeline_ms > 0 ? sc->timeline_ms : sy_simulate_row_ms(duration_ms);
    s->end_ns = T0 + (uint64_t)duration_ms * NS_PER_MS;
    s->row_ns = (uint64_t)row_ms * NS_PER_MS;
    const sy_migration_conf *m = &s->pol->migration;
    if (m->n_sticky)
        s->sticky_source = m->sticky[0].label ? m->sticky[0].label : m->sticky[0].name;

    s->loop = sy_loop_sim_new(T0, WALL0);
    s->router = sy_router_new();
    s->net = s->loop ? sy_script_new(s->loop) : NULL;
    s->outcomes = sy_outcomes_new(sc, T0);
    s->report = sy_report_new(T0, s->row_ns, m->rollback.latency == SY_LATENCY_TOTAL,
                              s->pol->providers[m->enabled ? m->stable : 0].name,
                              m->enabled ? s->pol->providers[m->canary].name : NULL);
    if (!s->loop || !s->router || !s->net || !s->outcomes || !s->report ||
        sy_traffic_init(&s->traffic, sc, in->replay, duration_ms, in->seed) != 0 ||
        sy_sim_rollout_init(&s->ro, s->pol, T0, WALL0) != 0)
        goto oom;
    sy_script_set_recording(s->net, 0);
    sy_script_set_picker(s->net, sy_outcomes_pick, s->outcomes);
    /* Observers first, so the report sees every endpoint as bind creates it. */
    if (sy_router_add_observer(s->router, (sy_observer){on_attempt, on_request, on_endpoint, s}) ||
        sy_router_add_observer(s->router,
                               (sy_observer){sy_sim_rollout_on_attempt, NULL, NULL, &s->ro}) ||
        sy_router_bind(s->router, s->pol) != 0)
        goto oom;
    /* One scripted upstream for every plugin, those that answer locally too:
     * the scenario decides what every provider answers. */
    s->env = (sy_engine_env){s->router, s->loop, s->net, s->net, NULL};
    s->prober = sy_prober_new(s->loop, s->net, s->router);
    s->arrival_timer = sy_timer_new(s->loop, on_arrival, s);
    s->tick_timer = sy_timer_new(s->loop, on_tick, s);
    s->row_timer = sy_timer_new(s->loop, on_row, s);
    s->action_timer = sy_timer_new(s->loop, on_action, s);
    if (!s->prober || !s->arrival_timer || !s->tick_timer || !s->row_timer || !s->action_timer ||
        sy_prober_set_policy(s->prober, s->pol) != 0)
        goto oom;
    out->start_share = share(s);

    if (sy_traffic_next(&s->traffic, &s->next)) arm_arrival(s);
    sy_timer_arm_ms(s->tick_timer, SY_ROLLOUT_TICK_MS);
    arm_action(s);
    if (s->row_ns < (uint64_t)duration_ms * NS_PER_MS) sy_timer_arm_ns(s->row_timer, s->row_ns);
    sy_loop_sim_run_until(s->loop, s->end_ns);

    /* The traffic is over: stop the clockwork, let the requests still in
     * flight finish, and close the last row (at the end of the traffic,
     * with them in it). */
    sy_timer_cancel(s->arrival_timer);
    sy_timer_cancel(s->tick_timer);
    sy_timer_cancel(s->row_timer);
    sy_timer_cancel(s->action_timer);
    sy_prober_free(s->prober);
    s->prober = NULL;
    sy_loop_sim_run(s->loop, UINT64_MAX);
    sy_report_row(s->report, s->end_ns, share(s));
    if (s->oom) goto oom;

    out->report = s->report;
    out->final_share = share(s);
    out->duration_ms = duration_ms;
    out->arrivals = s->arrivals;
    s->report = NULL;
    sim_free(s);
    return 0;

oom:
    snprintf(err, errlen, "out of memory");
    sy_report_free(s->report);
    sim_free(s);
    return -1;
}
