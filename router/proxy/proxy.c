/* proxy.c - the request executor (see proxy.h). */
#include "proxy.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_log.h"
#include "backoff.h"
#include "clock.h"
#include "events.h"
#include "json_scan.h"
#include "metrics.h"
#include "planner.h"
#include "rng.h"
#include "runtime.h"
#include "server.h"
#include "sse.h"
#include "upstream.h"

#define MAX_UPSTREAM_BODY (64u << 20) /* a bigger non-stream answer is refused */
#define MAX_SSE_EVENT (4u << 20)

struct sy_access_log *sy_proxy_access_log; /* set by serve; NULL = none */

typedef struct sy_exchange {
    sy_conn *c;
    sy_worker *w;
    sy_policy *pol;
    sy_op op;
    int stream;
    char *body;
    size_t body_len;
    char *model;
    char request_id[48];
    const char *method, *path;
    sy_plan plan;
    size_t step;
    int attempts, route_attempts;
    uint64_t t_start, deadline_ns, upstream_ns, attempt_start, attempt_ttfb, client_ttfb;
    sy_request preq;
    sy_http_request hr;
    sy_transfer *xfer;
    char *resp;
    size_t resp_len, resp_cap;
    int resp_status;
    int committed, saw_done, stream_error, paused, deadline_hit;
    sy_sse_splitter sse;
    sy_usage usage;
    char last_error[384];
    const sy_plan_step *answered; /* the step whose answer the client got */
    const sy_plan_step *last;     /* the last step tried */
    struct event *timer;
    /* mock-style local replies */
    sy_local_reply local;
    size_t local_off;
    int local_active;
    int64_t local_tick_ms;
} sy_exchange;

static void ex_attempt(sy_exchange *ex);
static void ex_retry_or_next(sy_exchange *ex, sy_verdict v, const char *reason, int status,
                             int64_t retry_after_ms);

/* ---------------------------------------------------------- helpers */

static int64_t ms_left(const sy_exchange *ex)
{
    uint64_t now = sy_now_ns();
    return now >= ex->deadline_ns ? 0 : (int64_t)((ex->deadline_ns - now) / 1000000u);
}

static const char *step_provider(const sy_plan_step *s) { return s ? s->provider->name : ""; }
static const char *step_endpoint(const sy_plan_step *s) { return s ? s->endpoint->name : ""; }

/* x-request-id and x-switchyard-* for the client. */
static void answer_headers(const sy_exchange *ex, char *buf, size_t cap)
{
    const sy_plan_step *s = ex->answered ? ex->answered : ex->last;
    snprintf(buf, cap,
             "x-request-id: %s\r\nx-switchyard-arm: %s\r\nx-switchyard-provider: %s\r\n"
             "x-switchyard-endpoint: %s\r\nx-switchyard-model: %s\r\nx-switchyard-attempts: %d\r\n",
             ex->request_id, sy_arm_name(s ? s->arm : ex->plan.arm), step_provider(s),
             step_endpoint(s), ex->answered ? ex->answered->model : "", ex->attempts);
}

static void emit_attempt(sy_exchange *ex, int status, const char *reason, sy_verdict v)
{
    const sy_plan_step *s = &ex->plan.steps[ex->step];
    sy_attempt_event a = {
        .provider = s->provider->name, .endpoint = s->endpoint->name, .model = s->model,
        .status = status, .reason = reason, .verdict = (int)v,
        .start_ns = ex->attempt_start, .ttfb_ns = ex->attempt_ttfb, .end_ns = sy_now_ns(),
    };
    sy_metrics_observe_attempt(&a);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *metric_model(const sy_policy *p, const char *model)
{
    if (!p->n_models) return "other";
    char *const *hit = bsearch(&model, p->models, p->n_models, sizeof *p->models, cmp_str);
    return hit ? *hit : "other";
}

/* The request is over (answered, failed, or abandoned): observers, cleanup. */
static void ex_free(sy_exchange *ex, int client_aborted, int stream_cut)
{
    uint64_t end = sy_now_ns();
    const sy_plan_step *s = ex->answered ? ex->answered : ex->last;
    int status = client_aborted ? 499 : sy_conn_status(ex->c);
    if (stream_cut) status = 502; /* the client got 200 and an error event: a failure */
    sy_request_event e = {
        .request_id = ex->request_id, .method = ex->method, .path = ex->path,
        .arm = sy_arm_name(s ? s->arm : ex->plan.arm), .provider = step_provider(s),
        .endpoint = step_endpoint(s), .model_asked = ex->model,
        .model_served = ex->answered ? ex->answered->model : "", .status = status,
        .attempts = ex->attempts, .stream = ex->stream, .client_aborted = client_aborted,
        .stream_cut = stream_cut, .start_ns = ex->t_start, .ttfb_ns = ex->client_ttfb,
        .end_ns = end, .upstream_ns = ex->upstream_ns, .input_tokens = ex->usage.input_tokens,
        .output_tokens = ex->usage.output_tokens,
        .error = ex->last_error[0] ? ex->last_error : NULL,
    };
    /* Metrics label only the models the policy names: a client sending random
     * model names must not grow the registry (the access log keeps them). */
    sy_request_event em = e;
    em.model_asked = metric_model(ex->pol, e.model_asked);
    em.model_served = e.model_served[0] ? metric_model(ex->pol, e.model_served) : "";
    sy_metrics_observe_request(&em);
    if (ex->answered && ex->usage.input_tokens >= 0) {
        const sy_price *p = sy_policy_price(ex->pol, ex->answered->model);
        if (p) {
            double usd = (double)ex->usage.input_tokens * p->input_per_m / 1e6 +
                         (double)(ex->usage.output_tokens > 0 ? ex->usage.output_tokens : 0) *
                             p->output_per_m / 1e6;
            sy_metrics_add_cost(ex->answered->model, usd);
        }
    }
    if (sy_proxy_access_log) sy_access_log_write(sy_proxy_access_log, &e);
    if (ex->xfer) sy_transfer_cancel(ex->xfer);
    if (ex->timer) event_free(ex->timer);
    if (ex->hr.body_owned) free(ex->hr.body_owned);
    free(ex->local.body);
    sy_sse_free(&ex->sse);
    sy_policy_unref(ex->pol);
    free(ex->resp);
    free(ex->body);
    free(ex->model);
    free(ex);
}

/* The client went away (or the server is stopping) before the answer ended. */
static void ex_abort(void *ctx)
{
    sy_exchange *ex = ctx;
    ex_free(ex, 1, 0);
}

static void ex_fail(sy_exchange *ex, int status, const char *code, const char *why)
{
    char hdrs[768];
    answer_headers(ex, hdrs, sizeof hdrs);
    sy_conn_respond_error(ex->c, status, status == 503 ? "service_unavailable" : "upstream_error",
                          code, hdrs, "%s", why);
    ex_free(ex, 0, 0);
}

static void ex_fail_final(sy_exchange *ex)
{
    char why[640];
    int status = ex->deadline_hit ? 504 : ex->attempts ? 502 : 503;
    if (ex->attempts)
        snprintf(why, sizeof why, "%s after %d attempt%s; last error from %s/%s (%s): %s",
                 ex->deadline_hit ? "request_timeout ran out" : "every route failed",
                 ex->attempts, ex->attempts == 1 ? "" : "s", step_provider(ex->last),
                 step_endpoint(ex->last), ex->last ? ex->last->model : "",
                 ex->last_error[0] ? ex->last_error : "unknown error");
    else
        snprintf(why, sizeof why, "no route could be tried for model '%.128s'%s", ex->model,
                 ex->deadline_hit ? " before request_timeout ran out" : "");
    ex_fail(ex, status, ex->deadline_hit ? "timeout" : "upstream_failed", why);
}

/* -------------------------------------------------------- streaming */

static void stream_commit(sy_exchange *ex, int status)
{
    char hdrs[768];
    ex->answered = &ex->plan.steps[ex->step];
    ex->committed = 1;
    answer_headers(ex, hdrs, sizeof hdrs);
    sy_conn_stream_begin(ex->c, status, "text/event-stream", hdrs);
    ex->client_ttfb = sy_conn_first_byte(ex->c);
}

static int on_sse_event(void *ctx, const char *raw, size_t raw_len, const char *data, size_t dlen)
{
    sy_exchange *ex = ctx;
    const sy_plugin *pl = ex->answered->provider->plugin;
    if (data && pl->stream_event) {
        sy_stream_result r;
        memset(&r, 0, sizeof r);
        r.usage.input_tokens = r.usage.output_tokens = -1;
        pl->stream_event(ex->answered->provider->instance, &ex->preq, data, dlen, &r);
        if (r.done) ex->saw_done = 1;
        if (r.error) ex->stream_error = 1;
        if (r.usage.input_tokens >= 0) ex->usage.input_tokens = r.usage.input_tokens;
        if (r.usage.output_tokens >= 0) ex->usage.output_tokens = r.usage.output_tokens;
        if (r.data) {
            sy_conn_stream_write(ex->c, "data: ", 6);
            sy_conn_stream_write(ex->c, r.data, r.data_len);
            sy_conn_stream_write(ex->c, "\n\n", 2);
            free(r.data);
            return 0;
        }
    } else if (data && dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
        ex->saw_done = 1;
    }
    sy_conn_stream_write(ex->c, raw, raw_len);
    return 0;
}

/* End a committed stream: clean when [DONE] came, else an error event. */
static void stream_finish(sy_exchange *ex, const char *why)
{
    int cut = !ex->saw_done;
    if (cut) {
        char ev[768], esc[512];
        size_t j = 0;
        for (const char *p = why; *p && j + 2 < sizeof esc; p++) {
            if (*p == '"' || *p == '\\') esc[j++] = '\\';
            esc[j++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
        }
        esc[j] = '\0';
        int n = snprintf(ev, sizeof ev,
                         "data: {\"error\":{\"message\":\"the upstream stream ended before it was "
                         "complete: %s\",\"type\":\"upstream_error\",\"param\":null,\"code\":"
                         "\"stream_interrupted\"}}\n\n",
                         esc);
        sy_conn_stream_write(ex->c, ev, (size_t)n);
        snprintf(ex->last_error, sizeof ex->last_error, "stream cut: %s", why);
    }
    sy_conn_stream_end(ex->c);
    ex_free(ex, 0, cut);
}

static void ex_drained(void *ctx)
{
    sy_exchange *ex = ctx;
    if (!ex->paused) return;
    ex->paused = 0;
    if (ex->xfer) sy_transfer_resume(ex->xfer);
    else if (ex->local_active) {
        struct timeval tv = {0, 0};
        evtimer_add(ex->timer, &tv);
    }
}

/* ------------------------------------------------- upstream answers */

static void up_headers(void *ctx, sy_transfer *t, int status)
{
    sy_exchange *ex = ctx;
    ex->attempt_ttfb = sy_now_ns();
    ex->resp_status = status;
    if (ex->stream && status >= 200 && status < 300) {
        const char *ct = sy_transfer_header(t, "content-type");
        if (ct && strncasecmp(ct, "text/event-stream", 17) == 0) stream_commit(ex, status);
    }
}

static size_t up_data(void *ctx, sy_transfer *t, const char *p, size_t n)
{
    (void)t;
    sy_exchange *ex = ctx;
    if (ex->committed) {
        /* Pausing hands the same bytes back on resume, so decide before
         * consuming anything: a slow client pauses the upstream. */
        if (sy_conn_out_pending(ex->c) > SY_CONN_OUT_HIGH) {
            ex->paused = 1;
            return SY_XFER_PAUSE;
        }
        if (sy_sse_feed(&ex->sse, p, n, on_sse_event, ex) < 0) return 0; /* abort: event too large */
        return n;
    }
    if (ex->resp_len + n > MAX_UPSTREAM_BODY) return 0;
    if (ex->resp_len + n > ex->resp_cap) {
        size_t cap = ex->resp_cap ? ex->resp_cap : 4096;
        while (cap < ex->resp_len + n) cap *= 2;
        char *nb = realloc(ex->resp, cap);
        if (!nb) return 0;
        ex->resp = nb;
        ex->resp_cap = cap;
    }
    memcpy(ex->resp + ex->resp_len, p, n);
    ex->resp_len += n;
    return n;
}

static const char *resp_header(const sy_http_response *r, const char *name)
{
    return r->host_ctx ? sy_transfer_header((const sy_transfer *)r->host_ctx, name) : NULL;
}

/* Send a whole answer to the client and finish. */
static void answer_whole(sy_exchange *ex, int status, const char *body, size_t len)
{
    char hdrs[768];
    ex->answered = &ex->plan.steps[ex->step];
    answer_headers(ex, hdrs, sizeof hdrs);
    sy_conn_respond(ex->c, status, "application/json", hdrs, body, len);
    ex->client_ttfb = sy_conn_first_byte(ex->c);
    ex_free(ex, 0, 0);
}

/* Classify a whole answer (from upstream or a local reply) and act on it. */
static void handle_answer(sy_exchange *ex, int status, const char *body, size_t len,
                          sy_transfer *t, sy_usage local_usage)
{
    const sy_plan_step *s = &ex->plan.steps[ex->step];
    const sy_plugin *pl = s->provider->plugin;
    sy_result r;
    memset(&r, 0, sizeof r);
    r.usage = local_usage;
    if (pl->parse_response) {
        sy_http_response resp = {status, body, len, resp_header, t};
        pl->parse_response(s->provider->instance, &ex->preq, &resp, &r);
    } else {
        r.verdict = status >= 200 && status < 300 ? SY_VERDICT_OK
                    : (status == 408 || status == 429 || status >= 500) ? SY_VERDICT_RETRY
                    : status == 404 ? SY_VERDICT_NEXT : SY_VERDICT_FATAL;
        if (r.verdict != SY_VERDICT_OK) snprintf(r.error, sizeof r.error, "HTTP %d", status);
    }
    if (r.usage.input_tokens >= 0) ex->usage = r.usage;
    if (r.verdict == SY_VERDICT_OK || r.verdict == SY_VERDICT_FATAL) {
        emit_attempt(ex, status, NULL, r.verdict);
        if (r.verdict == SY_VERDICT_FATAL && r.error[0])
            snprintf(ex->last_error, sizeof ex->last_error, "%s", r.error);
        if (r.body) {
            answer_whole(ex, status, r.body, r.body_len);
            free(r.body);
        } else {
            answer_whole(ex, status, body, len);
        }
        return;
    }
    free(r.body);
    snprintf(ex->last_error, sizeof ex->last_error, "%s",
             r.error[0] ? r.error : "upstream error");
    char reason[16];
    snprintf(reason, sizeof reason, "%d", status);
    int64_t ra = -1;
    if (t) {
        ra = sy_retry_after_ms(sy_transfer_header(t, "retry-after"),
                               sy_transfer_header(t, "retry-after-ms"), sy_wall_s());
    }
    sy_verdict v = r.verdict;
    if (v == SY_VERDICT_RETRY && !sy_policy_retry_on_status(ex->pol, status)) v = SY_VERDICT_NEXT;
    ex_retry_or_next(ex, v, reason, status, ra);
}

static void up_done(void *ctx, sy_transfer *t, sy_xfer_error err, int status, const char *msg)
{
    sy_exchange *ex = ctx;
    ex->xfer = NULL; /* freed when this returns */
    ex->upstream_ns += sy_now_ns() - ex->attempt_start;
    if (ex->committed) {
        if (err == SY_XFER_OK && !ex->saw_done)
            stream_finish(ex, "the upstream closed the stream without [DONE]");
        else
            stream_finish(ex, err == SY_XFER_OK ? "" : msg);
        return;
    }
    if (err != SY_XFER_OK) {
        const char *reason = err == SY_XFER_CONNECT ? "connect_error"
                             : err == SY_XFER_TIMEOUT ? "timeout" : "io_error";
        snprintf(ex->last_error, sizeof ex->last_error, "%s: %s", reason, msg);
        /* A connection that broke mid-answer counts as a connect_error for
         * retry.on: either way no usable answer arrived. */
        unsigned flag = err == SY_XFER_TIMEOUT ? SY_RETRY_ON_TIMEOUT : SY_RETRY_ON_CONNECT_ERROR;
        if (err == SY_XFER_TIMEOUT && ms_left(ex) == 0) ex->deadline_hit = 1;
        sy_verdict v = (ex->pol->retry.on_flags & flag) ? SY_VERDICT_RETRY : SY_VERDICT_NEXT;
        ex_retry_or_next(ex, v, reason, status, -1);
        return;
    }
    sy_usage none = {-1, -1};
    handle_answer(ex, status, ex->resp ? ex->resp : "", ex->resp_len, t, none);
}

static const sy_transfer_cbs upstream_cbs = {up_headers, up_data, up_done};

/* ---------------------------------------------------- local replies */

static void local_tick(evutil_socket_t fd, short what, void *arg);

static void local_stream_step(sy_exchange *ex)
{
    /* Send the next event of the local SSE body. */
    const char *b = ex->local.body ? ex->local.body : "";
    size_t len = ex->local.body_len;
    if (ex->local_off < len) {
        const char *end = strstr(b + ex->local_off, "\n\n");
        size_t n = end ? (size_t)(end + 2 - (b + ex->local_off)) : len - ex->local_off;
        sy_sse_feed(&ex->sse, b + ex->local_off, n, on_sse_event, ex);
        ex->local_off += n;
    }
    if (ex->local_off >= len) {
        ex->local_active = 0;
        ex->upstream_ns += sy_now_ns() - ex->attempt_start;
        if (ex->local.usage.input_tokens >= 0) ex->usage = ex->local.usage;
        emit_attempt(ex, ex->local.status, ex->saw_done ? NULL : "stream_cut", SY_VERDICT_OK);
        stream_finish(ex, ex->local.truncate_stream ? "the mock provider cut the stream"
                                                     : "the stream ended without [DONE]");
        return;
    }
    if (sy_conn_out_pending(ex->c) > SY_CONN_OUT_HIGH) {
        ex->paused = 1;
        return;
    }
    struct timeval tv = {ex->local_tick_ms / 1000, (ex->local_tick_ms % 1000) * 1000};
    evtimer_add(ex->timer, &tv);
}

static void local_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_exchange *ex = arg;
    if (ex->committed) {
        local_stream_step(ex);
        return;
    }
    ex->attempt_ttfb = sy_now_ns();
    int st = ex->local.status;
    if (ex->stream && st >= 200 && st < 300) {
        stream_commit(ex, st);
        local_stream_step(ex);
        return;
    }
    ex->local_active = 0;
    ex->upstream_ns += sy_now_ns() - ex->attempt_start;
    char *body = ex->local.body;
    size_t len = ex->local.body_len;
    ex->local.body = NULL;
    handle_answer(ex, st, body ? body : "", len, NULL, ex->local.usage);
    free(body);
}

static void start_local(sy_exchange *ex, const sy_plan_step *s)
{
    const sy_plugin *pl = s->provider->plugin;
    free(ex->local.body);
    memset(&ex->local, 0, sizeof ex->local);
    ex->local.usage.input_tokens = ex->local.usage.output_tokens = -1;
    if (pl->local_reply(s->provider->instance, &s->endpoint->view, &ex->preq, &ex->local) != 0) {
        snprintf(ex->last_error, sizeof ex->last_error, "plugin %s could not answer", pl->name);
        ex_retry_or_next(ex, SY_VERDICT_NEXT, "plugin_error", 0, -1);
        return;
    }
    ex->local_off = 0;
    ex->local_active = 1;
    int64_t first = ex->stream ? ex->local.ttfb_ms : ex->local.delay_ms;
    if (first < 0) first = 0;
    int64_t left = ms_left(ex);
    if (first >= left) {
        /* It would answer after the deadline: behave like a timed-out upstream. */
        ex->local_active = 0;
        ex->deadline_hit = 1;
        snprintf(ex->last_error, sizeof ex->last_error, "timeout: no answer within request_timeout");
        ex_retry_or_next(ex, SY_VERDICT_NEXT, "timeout", 0, -1);
        return;
    }
    size_t events = 0;
    for (const char *p = ex->local.body; p && (p = strstr(p, "\n\n")); p += 2) events++;
    int64_t rest = ex->local.delay_ms - ex->local.ttfb_ms;
    ex->local_tick_ms = events > 1 && rest > 0 ? rest / (int64_t)(events - 1) : 0;
    struct timeval tv = {first / 1000, (first % 1000) * 1000};
    evtimer_assign(ex->timer, sy_worker_base(ex->w), local_tick, ex);
    evtimer_add(ex->timer, &tv);
}

/* ------------------------------------------------------ the attempts */

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ex_attempt(arg);
}

static void ex_retry_or_next(sy_exchange *ex, sy_verdict v, const char *reason, int status,
                             int64_t retry_after_ms)
{
    emit_attempt(ex, status, reason, v);
    const sy_plan_step *cur = &ex->plan.steps[ex->step];
    unsigned route = cur->route;
    if (v == SY_VERDICT_RETRY && ex->route_attempts < ex->pol->retry.max_attempts) {
        /* Retry the route on its next endpoint (regions fail over by priority). */
        size_t next = ex->step + 1;
        if (next >= ex->plan.n_steps || ex->plan.steps[next].route != route) {
            next = ex->step;
            while (next > 0 && ex->plan.steps[next - 1].route == route) next--;
        }
        int64_t delay = sy_retry_delay_ms(&ex->pol->retry, ex->route_attempts, retry_after_ms);
        if (delay >= ms_left(ex)) {
            ex->deadline_hit = 1;
            ex_fail_final(ex);
            return;
        }
        ex->step = next;
        struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
        evtimer_assign(ex->timer, sy_worker_base(ex->w), on_backoff, ex);
        evtimer_add(ex->timer, &tv);
        return;
    }
    /* Next route: the next fallback (another provider or model), no backoff. */
    size_t next = ex->step + 1;
    while (next < ex->plan.n_steps && ex->plan.steps[next].route == route) next++;
    if (next >= ex->plan.n_steps || ms_left(ex) == 0) {
        if (ms_left(ex) == 0) ex->deadline_hit = 1;
        ex_fail_final(ex);
        return;
    }
    ex->step = next;
    ex->route_attempts = 0;
    ex_attempt(ex);
}

static void ex_attempt(sy_exchange *ex)
{
    if (ms_left(ex) == 0) {
        ex->deadline_hit = 1;
        ex_fail_final(ex);
        return;
    }
    const sy_plan_step *s = &ex->plan.steps[ex->step];
    const sy_plugin *pl = s->provider->plugin;
    ex->last = s;
    ex->attempts++;
    ex->route_attempts++;
    ex->attempt_start = sy_now_ns();
    ex->attempt_ttfb = 0;
    ex->resp_len = 0;
    ex->resp_status = 0;
    ex->preq = (sy_request){ex->op, s->model, ex->model, ex->body, ex->body_len, ex->stream,
                            ex->request_id};
    if (pl->local_reply) {
        start_local(ex, s);
        return;
    }
    if (ex->hr.body_owned) free(ex->hr.body_owned);
    memset(&ex->hr, 0, sizeof ex->hr);
    char err[256] = "";
    if (pl->build_request(s->provider->instance, &s->endpoint->view, &ex->preq, &ex->hr, err,
                          sizeof err) != 0) {
        snprintf(ex->last_error, sizeof ex->last_error, "plugin %s: %s", pl->name,
                 err[0] ? err : "could not build the request");
        ex_retry_or_next(ex, SY_VERDICT_NEXT, "plugin_error", 0, -1);
        return;
    }
    int64_t left = ms_left(ex);
    char msg[256];
    ex->xfer = sy_upstream_post(sy_worker_upstream(ex->w), &ex->hr, left, left < 10000 ? left : 10000,
                                &upstream_cbs, ex, msg, sizeof msg);
    if (!ex->xfer) {
        snprintf(ex->last_error, sizeof ex->last_error, "connect_error: %s", msg);
        ex_retry_or_next(ex, SY_VERDICT_RETRY, "connect_error", 0, -1);
    }
}

/* ---------------------------------------------------------- starting */

#define MAX_BODY_STICKY 8

typedef struct sticky_ctx {
    const sy_http_req *req;
    sy_json_field *fields; /* model, stream, then the body sticky sources */
    size_t n_fields;
    char buf[256];
} sticky_ctx;

static const char *sticky_header(void *ctx, const char *name)
{
    sticky_ctx *sc = ctx;
    const sy_http_header *h = sy_http_find_header(sc->req, name);
    if (!h || h->value_len == 0) return NULL;
    size_t n = h->value_len < sizeof sc->buf - 1 ? h->value_len : sizeof sc->buf - 1;
    memcpy(sc->buf, h->value, n);
    sc->buf[n] = '\0';
    return sc->buf;
}

/* A top-level string of the body, decoded; NULL when absent or empty. */
static const char *field_string(const sy_json_field *f, char *buf, size_t cap)
{
    if (f->type != SY_JSON_STRING || f->len == 0) return NULL;
    if (f->escaped) return sy_json_unescape(f->val, f->len, buf, cap) > 0 ? buf : NULL;
    if (f->len >= cap) return NULL;
    memcpy(buf, f->val, f->len);
    buf[f->len] = '\0';
    return buf;
}

static const char *sticky_body(void *ctx, const char *key)
{
    sticky_ctx *sc = ctx;
    for (size_t i = 2; i < sc->n_fields; i++)
        if (!strcmp(sc->fields[i].name, key)) return field_string(&sc->fields[i], sc->buf, sizeof sc->buf);
    return NULL;
}

void sy_request_id_make(const sy_http_req *req, char *out, size_t cap)
{
    const sy_http_header *h = sy_http_find_header(req, "x-request-id");
    if (h && h->value_len > 0 && h->value_len < cap && h->value_len <= 64) {
        size_t i;
        for (i = 0; i < h->value_len; i++) {
            char ch = h->value[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.'))
                break;
        }
        if (i == h->value_len) {
            memcpy(out, h->value, h->value_len);
            out[h->value_len] = '\0';
            return;
        }
    }
    snprintf(out, cap, "%016llx%016llx", (unsigned long long)sy_rng_u64(),
             (unsigned long long)sy_rng_u64());
}

int sy_proxy_start(sy_conn *c, sy_policy *pol, const sy_http_req *req, const char *body,
                    size_t body_len, sy_op op, const char *request_id)
{
    char rid[48];
    snprintf(rid, sizeof rid, "%s", request_id);
    char hdr[96];
    snprintf(hdr, sizeof hdr, "x-request-id: %s\r\n", rid);

    /* Validate the body and pick out what routing needs, without a tree. */
    sy_json_field fields[2 + MAX_BODY_STICKY] = {{.name = "model"}, {.name = "stream"}};
    size_t nf = 2;
    for (size_t i = 0; i < pol->migration.n_sticky && nf < 2 + MAX_BODY_STICKY; i++)
        if (pol->migration.sticky[i].kind == SY_STICKY_BODY)
            fields[nf++].name = pol->migration.sticky[i].name;
    const char *why = NULL;
    if (sy_json_scan_object(body, body_len, fields, nf, &why) != 0) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_json", hdr,
                              "the request body is not valid JSON: %s", why);
        return 0;
    }
    char model[257];
    const char *m = field_string(&fields[0], model, sizeof model);
    for (const unsigned char *q = (const unsigned char *)m; q && *q; q++)
        if (*q < 0x20 || *q == 0x7f) m = NULL; /* it ends up in a response header */
    if (!m) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_model", hdr,
                              "the request needs a \"model\" string (at most 256 characters)");
        return 0;
    }

    sy_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) {
        sy_policy_unref(pol);
        sy_conn_respond_error(c, 503, "service_unavailable", "out_of_memory", hdr, "out of memory");
        return 0;
    }
    ex->c = c;
    ex->w = sy_conn_worker(c);
    ex->pol = pol;
    ex->op = op;
    ex->stream = fields[1].type == SY_JSON_TRUE && op != SY_OP_EMBEDDINGS;
    ex->model = strdup(model);
    ex->body = malloc(body_len + 1);
    memcpy(ex->request_id, rid, sizeof rid);
    ex->method = "POST";
    ex->path = op == SY_OP_CHAT ? "/v1/chat/completions"
               : op == SY_OP_COMPLETIONS ? "/v1/completions" : "/v1/embeddings";
    ex->usage.input_tokens = ex->usage.output_tokens = -1;
    ex->t_start = sy_conn_request_start(c);
    ex->deadline_ns = ex->t_start + (uint64_t)pol->server.request_timeout_ms * 1000000u;
    ex->timer = evtimer_new(sy_worker_base(ex->w), on_backoff, ex);
    sy_sse_init(&ex->sse, MAX_SSE_EVENT);
    if (!ex->model || !ex->body || !ex->timer) {
        sy_conn_respond_error(c, 503, "service_unavailable", "out_of_memory", hdr, "out of memory");
        ex_free(ex, 0, 0);
        return 1;
    }
    memcpy(ex->body, body, body_len);
    ex->body[body_len] = '\0';
    ex->body_len = body_len;

    sticky_ctx sc = {req, fields, nf, {0}};
    const char *source = NULL;
    const char *key = sy_sticky_pick(pol, sticky_header, sticky_body, &sc, &source);
    sy_route_input in = {ex->model, key, key ? strlen(key) : 0, source, sy_runtime_percent()};
    sy_plan_build(pol, &in, &ex->plan);

    if (ex->plan.n_steps == 0) {
        char hdrs[768];
        answer_headers(ex, hdrs, sizeof hdrs);
        sy_conn_respond_error(c, 503, "service_unavailable", "no_route", hdrs,
                              "no provider in the policy can serve model '%.128s'", ex->model);
        ex_free(ex, 0, 0);
        return 1;
    }
    sy_conn_set_pending(c, ex_abort, ex_drained, ex);
    ex_attempt(ex);
    return 1;
}

void sy_proxy_report_local(sy_conn *c, const sy_http_req *req, const char *request_id,
                           const char *model)
{
    char method[16], path[256];
    size_t ml = req->method_len < sizeof method - 1 ? req->method_len : sizeof method - 1;
    size_t pl = req->path_len < sizeof path - 1 ? req->path_len : sizeof path - 1;
    memcpy(method, req->method_str, ml);
    method[ml] = '\0';
    memcpy(path, req->path, pl);
    path[pl] = '\0';
    uint64_t start = sy_conn_request_start(c);
    sy_request_event e = {
        .request_id = request_id, .method = method, .path = path, .arm = "", .provider = "",
        .endpoint = "", .model_asked = model ? model : "", .model_served = "",
        .status = sy_conn_status(c), .start_ns = start, .ttfb_ns = sy_conn_first_byte(c),
        .end_ns = sy_now_ns(), .input_tokens = -1, .output_tokens = -1,
    };
    sy_request_event em = e;
    em.model_asked = model ? "other" : "";
    sy_metrics_observe_request(&em);
    if (sy_proxy_access_log) sy_access_log_write(sy_proxy_access_log, &e);
}
