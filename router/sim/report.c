/* report.c - the timeline, the events and the summary of a simulation (see
 * report.h). */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "counting.h"
#include "json_escape.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
enum { STABLE = 0, CANARY = 1 };

/* One arm's attempts in the row being filled. */
typedef struct arm_acc {
    uint64_t attempts, failures;
    uint64_t *lat;              /* latency samples (ns) of successful attempts */
    size_t n_lat, cap_lat;
} arm_acc;

typedef struct arm_row {
    uint64_t attempts, failures, samples;
    double success_rate;        /* percent; < 0: no attempt */
    double p95_ms;              /* < 0: no sample */
} arm_row;

typedef struct row {
    uint64_t t_ns;              /* the row's end, since the start */
    double share;
    uint64_t requests, failures, retries, fallbacks;
    arm_row arm[2];
} row;

/* An endpoint's last known breaker and health state. */
typedef struct ep_track {
    const sy_endpoint_state *s;
    int breaker, healthy;
} ep_track;

typedef struct totals {
    uint64_t requests, client_failures, attempts, retries, fallbacks, to_stable, model_fallbacks;
    uint64_t budget_exhausted, no_route, rate_limited, cut_streams;
    uint64_t arm_requests[2], arm_failures[2];         /* by the arm the hash chose */
    uint64_t arm_attempts[2], arm_attempt_failures[2]; /* as the rollout windows count */
} totals;

struct sy_report {
    uint64_t start_ns, row_ns;
    int latency_total;
    char *stable, *canary;
    totals tot;
    /* the row being filled */
    uint64_t r_requests, r_failures, r_retries, r_fallbacks;
    arm_acc acc[2];
    row *rows;
    size_t n_rows, cap_rows;
    sy_sim_event *events;
    size_t n_events, cap_events;
    ep_track *eps;
    size_t n_eps, cap_eps;
};

static const char *const event_names[] = {
    [SY_SIM_ROLLBACK] = "rollback",           [SY_SIM_PROMOTE] = "promote",
    [SY_SIM_PAUSE] = "pause",                 [SY_SIM_BREAKER_OPEN] = "breaker_open",
    [SY_SIM_BREAKER_CLOSE] = "breaker_close", [SY_SIM_ENDPOINT_DOWN] = "endpoint_down",
    [SY_SIM_ENDPOINT_UP] = "endpoint_up",     [SY_SIM_RESUME] = "resume",
    [SY_SIM_SET] = "set",
};

const char *sy_sim_event_name(sy_sim_event_type t) { return event_names[t]; }

/* Growing an array; the simulation cannot go on without it. */
static void *grow(void *p, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(p, n * size);
    if (!q) {
        fprintf(stderr, "switchyard simulate: out of memory\n");
        exit(1);
    }
    *cap = n;
    return q;
}

sy_report *sy_report_new(uint64_t start_ns, uint64_t row_ns, int latency_total,
                         const char *stable, const char *canary)
{
    sy_report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->start_ns = start_ns;
    r->row_ns = row_ns;
    r->latency_total = latency_total;
    r->stable = strdup(stable ? stable : "");
    r->canary = canary ? strdup(canary) : NULL;
    if (!r->stable || (canary && !r->canary)) {
        sy_report_free(r);
        return NULL;
    }
    return r;
}

void sy_report_free(sy_report *r)
{
    if (!r) return;
    for (int a = 0; a < 2; a++) free(r->acc[a].lat);
    free(r->rows);
    free(r->events);
    free(r->eps);
    free(r->stable);
    free(r->canary);
    free(r);
}

/* ------------------------------------------------------------- feeding */

void sy_report_attempt(sy_report *r, const sy_attempt_event *e)
{
    if (e->budget_exhausted) {
        r->tot.budget_exhausted++;
        return;
    }
    if (e->no_route) { /* not an attempt, but a canary failure for the windows */
        r->tot.no_route++;
    } else {
        r->tot.attempts++;
        if (e->retried) {
            r->tot.retries++;
            r->r_retries++;
        }
    }
    /* The arms' figures as the rollout counts them (counting.h). */
    int arm, failed;
    uint64_t latency;
    if (!sy_ro_count_attempt(e, r->latency_total, &arm, &failed, &latency)) return;
    arm_acc *a = &r->acc[arm];
    r->tot.arm_attempts[arm]++;
    a->attempts++;
    if (failed) {
        r->tot.arm_attempt_failures[arm]++;
        a->failures++;
        return;
    }
    if (a->n_lat == a->cap_lat) a->lat = grow(a->lat, &a->cap_lat, sizeof *a->lat);
    a->lat[a->n_lat++] = latency;
}

static void count_request(sy_report *r, int status, int planned_canary)
{
    int arm = planned_canary ? CANARY : STABLE;
    int failed = status < 200 || status > 299;
    r->tot.requests++;
    r->tot.arm_requests[arm]++;
    r->r_requests++;
    if (failed) {
        r->tot.client_failures++;
        r->tot.arm_failures[arm]++;
        r->r_failures++;
    }
}

void sy_report_request(sy_report *r, const sy_request_event *e, int planned_canary)
{
    count_request(r, e->status, planned_canary);
    if (e->stream_cut) r->tot.cut_streams++;
    if (!e->model_served || !*e->model_served) return;
    /* Answered by a route after the first: another model, or the stable
     * provider for a request the hash put on the canary. */
    int other_model = e->model_asked && strcmp(e->model_served, e->model_asked) != 0;
    int to_stable = planned_canary && r->canary && e->provider && strcmp(e->provider, r->canary) != 0;
    if (other_model) r->tot.model_fallbacks++;
    if (to_stable) r->tot.to_stable++;
    if (other_model || to_stable) {
        r->tot.fallbacks++;
        r->r_fallbacks++;
    }
}

void sy_report_rate_limited(sy_report *r, int planned_canary)
{
    r->tot.rate_limited++;
    count_request(r, 429, planned_canary);
}

static void add_event(sy_report *r, const sy_sim_event *e)
{
    if (r->n_events == r->cap_events) r->events = grow(r->events, &r->cap_events, sizeof *r->events);
    r->events[r->n_events++] = *e;
}

void sy_report_endpoint(sy_report *r, const sy_endpoint_state *s, uint64_t now_ns)
{
    ep_track *t = NULL;
    for (size_t i = 0; i < r->n_eps && !t; i++)
        if (r->eps[i].s == s) t = &r->eps[i];
    if (!t) { /* just created (bind): remember how it starts */
        if (r->n_eps == r->cap_eps) r->eps = grow(r->eps, &r->cap_eps, sizeof *r->eps);
        r->eps[r->n_eps++] = (ep_track){s, (int)s->breaker.state, s->healthy};
        return;
    }
    sy_sim_event e;
    memset(&e, 0, sizeof e);
    e.t_ns = now_ns > r->start_ns ? now_ns - r->start_ns : 0;
    snprintf(e.provider, sizeof e.provider, "%s", s->provider);
    snprintf(e.endpoint, sizeof e.endpoint, "%s", s->endpoint);
    int b = (int)s->breaker.state;
    if (b != t->breaker && (b == SY_BREAKER_OPEN || b == SY_BREAKER_CLOSED)) {
        /* half-open is a step on the way, not an event of its own */
        e.type = b == SY_BREAKER_OPEN ? SY_SIM_BREAKER_OPEN : SY_SIM_BREAKER_CLOSE;
        snprintf(e.text, sizeof e.text, "breaker of %s/%s %s", s->provider, s->endpoint,
                 b == SY_BREAKER_OPEN ? "opened" : "closed");
        add_event(r, &e);
    }
    if (s->healthy != t->healthy) {
        e.type = s->healthy ? SY_SIM_ENDPOINT_UP : SY_SIM_ENDPOINT_DOWN;
        snprintf(e.text, sizeof e.text, "%s/%s %s (health check)", s->provider, s->endpoint,
                 s->healthy ? "is up again" : "is down");
        add_event(r, &e);
    }
    t->breaker = b;
    t->healthy = s->healthy;
}

void sy_report_event(sy_report *r, const sy_sim_event *e)
{
    sy_sim_event c = *e;
    c.t_ns = e->t_ns > r->start_ns ? e->t_ns - r->start_ns : 0;
    add_event(r, &c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void close_arm(arm_acc *a, arm_row *out)
{
    out->attempts = a->attempts;
    out->failures = a->failures;
    out->samples = a->n_lat;
    out->success_rate = a->attempts ? 100.0 * (double)(a->attempts - a->failures) / (double)a->attempts
                                    : -1;
    out->p95_ms = -1;
    if (a->n_lat) {
        qsort(a->lat, a->n_lat, sizeof *a->lat, cmp_u64);
        size_t k = (a->n_lat * 95 + 99) / 100; /* nearest rank */
        out->p95_ms = (double)a->lat[k - 1] / (double)NS_PER_MS;
    }
    a->attempts = a->failures = 0;
    a->n_lat = 0;
}

void sy_report_row(sy_report *r, uint64_t now_ns, double share)
{
    if (r->n_rows == r->cap_rows) r->rows = grow(r->rows, &r->cap_rows, sizeof *r->rows);
    row *w = &r->rows[r->n_rows++];
    w->t_ns = now_ns > r->start_ns ? now_ns - r->start_ns : 0;
    w->share = share;
    w->requests = r->r_requests;
    w->failures = r->r_failures;
    w->retries = r->r_retries;
    w->fallbacks = r->r_fallbacks;
    for (int a = 0; a < 2; a++) close_arm(&r->acc[a], &w->arm[a]);
    r->r_requests = r->r_failures = r->r_retries = r->r_fallbacks = 0;
}

uint64_t sy_report_requests(const sy_report *r) { return r->tot.requests; }
size_t sy_report_n_events(const sy_report *r) { return r->n_events; }
const sy_sim_event *sy_report_event_at(const sy_report *r, size_t i)
{
    return i < r->n_events ? &r->events[i] : NULL;
}

/* ---------------------------------------------------------------- text */

/* "1h02m03s", "12m03s", "45s"; with_ms adds ".123". */
static const char *fmt_time(uint64_t ns, int with_ms, char *buf, size_t cap)
{
    uint64_t s = ns / NS_PER_S, ms = ns % NS_PER_S / NS_PER_MS;
    char frac[8] = "";
    if (with_ms) snprintf(frac, sizeof frac, ".%03u", (unsigned)ms);
    if (s >= 3600)
        snprintf(buf, cap, "%uh%02um%02u%ss", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
                 (unsigned)(s % 60), frac);
    else if (s >= 60)
        snprintf(buf, cap, "%um%02u%ss", (unsigned)(s / 60), (unsigned)(s % 60), frac);
    else
        snprintf(buf, cap, "%u%ss", (unsigned)s, frac);
    return buf;
}

static const char *fmt_rate(double pct, char *buf, size_t cap)
{
    if (pct < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.2f%%", pct);
    return buf;
}

static const char *fmt_ms(double ms, char *buf, size_t cap)
{
    if (ms < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.0fms", ms);
    return buf;
}

static double share_of(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void print_event_line(const sy_sim_event *e, FILE *out)
{
    char t[32];
    fprintf(out, "  %10s  %-13s %s\n", fmt_time(e->t_ns, 1, t, sizeof t),
            sy_sim_event_name(e->type), e->text);
}

void sy_report_print_text(const sy_report *r, const sy_report_meta *m, double final_share,
                          FILE *out)
{
    char a[32], b[32], c[32], d[32], t[32];
    fprintf(out, "switchyard simulate\n");
    fprintf(out, "  policy    %s\n", m->policy);
    fprintf(out, "  scenario  %s\n", m->scenario);
    if (m->replay) fprintf(out, "  replay    %s\n", m->replay);
    fprintf(out, "  seed      %" PRIu64 "\n", m->seed);
    fprintf(out, "  traffic   %s simulated\n", fmt_time((uint64_t)m->duration_ms * NS_PER_MS, 0, t, sizeof t));
    if (m->canary)
        fprintf(out, "  rollout   canary %s at %g%% of users, stable %s; arms' P95 is %s\n",
                m->canary, m->start_share, m->stable, m->latency_kind);
    else
        fprintf(out, "  rollout   none (no migration in the policy); every request on %s\n",
                m->stable);
    fprintf(out, "\n  %10s  %7s %9s %7s %8s %9s   %-9s %8s   %-9s %8s\n", "time", "share",
            "requests", "failed", "retries", "fallbacks", "stable ok", "p95", "canary ok", "p95");
    size_t ei = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const row *w = &r->rows[i];
        for (; ei < r->n_events && r->events[ei].t_ns < w->t_ns; ei++)
            print_event_line(&r->events[ei], out);
        fprintf(out, "  %10s  %6.2f%% %9" PRIu64 " %7" PRIu64 " %8" PRIu64 " %9" PRIu64
                     "   %-9s %8s   %-9s %8s\n",
                fmt_time(w->t_ns, 0, t, sizeof t), w->share, w->requests, w->failures, w->retries,
                w->fallbacks, fmt_rate(w->arm[STABLE].success_rate, a, sizeof a),
                fmt_ms(w->arm[STABLE].p95_ms, b, sizeof b),
                fmt_rate(w->arm[CANARY].success_rate, c, sizeof c),
                fmt_ms(w->arm[CANARY].p95_ms, d, sizeof d));
    }
    for (; ei < r->n_events; ei++) print_event_line(&r->events[ei], out);

    const totals *s = &r->tot;
    fprintf(out, "\nsummary\n");
    fprintf(out, "  requests              %" PRIu64 " (canary arm %" PRIu64 ", stable arm %" PRIu64 ")\n",
            s->requests, s->arm_requests[CANARY], s->arm_requests[STABLE]);
    fprintf(out, "  client failures       %" PRIu64 " (%.3f%%; canary arm %" PRIu64 ", stable arm %" PRIu64
                 ")\n",
            s->client_failures, share_of(s->client_failures, s->requests), s->arm_failures[CANARY],
            s->arm_failures[STABLE]);
    fprintf(out, "  upstream attempts     %" PRIu64 " (%+.2f%% load over one per request)\n",
            s->attempts, s->requests ? share_of(s->attempts, s->requests) - 100.0 : 0.0);
    fprintf(out, "  retries               %" PRIu64 " (retry budget refused %" PRIu64 ")\n",
            s->retries, s->budget_exhausted);
    fprintf(out, "  fallbacks             %" PRIu64 " (to stable %" PRIu64 ", to another model %" PRIu64
                 ")\n",
            s->fallbacks, s->to_stable, s->model_fallbacks);
    if (s->rate_limited)
        fprintf(out, "  rate limited          %" PRIu64 " (rate_limit refused them)\n", s->rate_limited);
    if (r->canary)
        fprintf(out, "  canary attempts       %" PRIu64 ", %" PRIu64 " failed (%" PRIu64
                     " with no usable canary route)\n",
                s->arm_attempts[CANARY], s->arm_attempt_failures[CANARY], s->no_route);
    size_t rollbacks = 0, promotions = 0, opens = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        rollbacks += r->events[i].type == SY_SIM_ROLLBACK;
        promotions += r->events[i].type == SY_SIM_PROMOTE;
        opens += r->events[i].type == SY_SIM_BREAKER_OPEN;
    }
    fprintf(out, "  rollbacks             %zu", rollbacks);
    for (size_t i = 0, k = 0; i < r->n_events; i++) {
        if (r->events[i].type != SY_SIM_ROLLBACK) continue;
        fprintf(out, "%s%s at %s", k++ ? ", " : " (", r->events[i].reason,
                fmt_time(r->events[i].t_ns, 1, t, sizeof t));
    }
    fprintf(out, "%s\n", rollbacks ? ")" : "");
    fprintf(out, "  promotions            %zu\n", promotions);
    fprintf(out, "  breaker openings      %zu\n", opens);
    fprintf(out, "  final share           %g%%\n", final_share);
}

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *out, const char *s)
{
    char buf[1024];
    sy_json_escape(s ? s : "", strlen(s ? s : ""), buf, sizeof buf);
    fprintf(out, "\"%s\"", buf);
}

static void json_num_or_null(FILE *out, double v, int decimals)
{
    if (v < 0) fputs("null", out);
    else fprintf(out, "%.*f", decimals, v);
}

static void json_arm(FILE *out, const arm_row *a)
{
    fprintf(out, "{\"attempts\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"success_rate\":", a->attempts,
            a->failures);
    json_num_or_null(out, a->success_rate, 3);
    fputs(",\"p95_ms\":", out);
    json_num_or_null(out, a->p95_ms, 1);
    fputc('}', out);
}

static void json_event(FILE *out, const sy_sim_event *e)
{
    fprintf(out, "{\"t\":%.3f,\"type\":\"%s\"", (double)e->t_ns / (double)NS_PER_S,
            sy_sim_event_name(e->type));
    switch (e->type) {
    case SY_SIM_ROLLBACK:
        fputs(",\"reason\":", out);
        json_str(out, e->reason);
        if (e->figures)
            fprintf(out, ",\"value\":%.3f,\"threshold\":%.3f,\"requests\":%" PRIu64
                         ",\"failures\":%" PRIu64 ",\"samples\":%" PRIu64,
                    e->value, e->threshold, e->requests, e->failures, e->samples);
        else
            fputs(",\"value\":null,\"threshold\":null", out);
        fprintf(out, ",\"from\":%.2f,\"to\":%.2f", e->from, e->to);
        break;
    case SY_SIM_PROMOTE:
    case SY_SIM_PAUSE:
    case SY_SIM_RESUME:
    case SY_SIM_SET:
        fprintf(out, ",\"from\":%.2f,\"to\":%.2f", e->from, e->to);
        break;
    default:
        fputs(",\"provider\":", out);
        json_str(out, e->provider);
        fputs(",\"endpoint\":", out);
        json_str(out, e->endpoint);
        break;
    }
    fputs(",\"text\":", out);
    json_str(out, e->text);
    fputc('}', out);
}

void sy_report_print_json(const sy_report *r, const sy_report_meta *m, double final_share,
                          FILE *out)
{
    const totals *s = &r->tot;
    fputs("{\"policy\":", out);
    json_str(out, m->policy);
    fputs(",\"scenario\":", out);
    json_str(out, m->scenario);
    fputs(",\"replay\":", out);
    if (m->replay) json_str(out, m->replay);
    else fputs("null", out);
    fprintf(out, ",\"seed\":%" PRIu64 ",\"duration_s\":%.3f,\"latency\":\"%s\",\"stable\":", m->seed,
            (double)m->duration_ms / 1000.0, m->latency_kind);
    json_str(out, m->stable);
    fputs(",\"canary\":", out);
    if (m->canary) json_str(out, m->canary);
    else fputs("null", out);
    size_t rollbacks = 0, promotions = 0, opens = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        rollbacks += r->events[i].type == SY_SIM_ROLLBACK;
        promotions += r->events[i].type == SY_SIM_PROMOTE;
        opens += r->events[i].type == SY_SIM_BREAKER_OPEN;
    }
    fprintf(out,
            ",\n\"summary\":{\"requests\":%" PRIu64 ",\"client_failures\":%" PRIu64
            ",\"upstream_attempts\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"fallbacks\":%" PRIu64
            ",\"final_share\":%.2f,\"start_share\":%.2f,\"fallbacks_to_stable\":%" PRIu64
            ",\"model_fallbacks\":%" PRIu64 ",\"retry_budget_exhausted\":%" PRIu64
            ",\"rate_limited\":%" PRIu64 ",\"cut_streams\":%" PRIu64
            ",\"no_usable_canary_route\":%" PRIu64 ",\"load_added\":%.4f"
            ",\"rollbacks\":%zu,\"promotions\":%zu,\"breaker_opens\":%zu",
            s->requests, s->client_failures, s->attempts, s->retries, s->fallbacks, final_share,
            m->start_share, s->to_stable, s->model_fallbacks, s->budget_exhausted, s->rate_limited,
            s->cut_streams, s->no_route,
            s->requests ? (double)s->attempts / (double)s->requests - 1.0 : 0.0, rollbacks,
            promotions, opens);
    static const char *const arm_names[2] = {"stable", "canary"};
    fputs(",\"arms\":{", out);
    for (int a = 0; a < 2; a++)
        fprintf(out,
                "%s\"%s\":{\"requests\":%" PRIu64 ",\"client_failures\":%" PRIu64
                ",\"attempts\":%" PRIu64 ",\"attempt_failures\":%" PRIu64 "}",
                a ? "," : "", arm_names[a], s->arm_requests[a], s->arm_failures[a],
                s->arm_attempts[a], s->arm_attempt_failures[a]);
    fputs("}},\n\"events\":[", out);
    for (size_t i = 0; i < r->n_events; i++) {
        fputs(i ? ",\n" : "\n", out);
        json_event(out, &r->events[i]);
    }
    fputs("],\n\"timeline\":[", out);
    for (size_t i = 0; i < r->n_rows; i++) {
        const row *w = &r->rows[i];
        fprintf(out,
                "%s{\"t\":%.3f,\"share\":%.2f,\"requests\":%" PRIu64 ",\"client_failures\":%" PRIu64
                ",\"retries\":%" PRIu64 ",\"fallbacks\":%" PRIu64 ",\"stable\":",
                i ? ",\n" : "\n", (double)w->t_ns / (double)NS_PER_S, w->share, w->requests,
                w->failures, w->retries, w->fallbacks);
        json_arm(out, &w->arm[STABLE]);
        fputs(",\"canary\":", out);
        json_arm(out, &w->arm[CANARY]);
        fputc('}', out);
    }
    fputs("]}\n", out);
}
