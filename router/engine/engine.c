/* engine.c - the attempt state machine (see engine.h; its parts: engine_impl.h). */
#include "engine_impl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "backoff.h"
#include "events.h"
#include "log.h"
#include "strbuf.h"
#include "utf8.h"

static void pick_and_attempt(sy_exec *x, size_t from);
static void after_failure(sy_exec *x, sy_verdict v, const char *failure, int status,
                          int64_t retry_after_ms);

/* ------------------------------------------------------------ helpers */

/* Append "provider/model: why" to the list the final 502 shows. */
static void note_route(sy_exec *x, const sy_plan_step *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_route(sy_exec *x, const sy_plan_step *s, const char *fmt, ...)
{
    if (x->why_len + 8 >= sizeof x->why) return;
    int n = snprintf(x->why + x->why_len, sizeof x->why - x->why_len, "%s%s/%s: ",
                     x->why_len ? "; " : "", s->provider->name, s->model);
    if (n < 0) return;
    x->why_len = x->why_len + (size_t)n < sizeof x->why ? x->why_len + (size_t)n : sizeof x->why - 1;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(x->why + x->why_len, sizeof x->why - x->why_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        x->why_len = x->why_len + (size_t)n < sizeof x->why ? x->why_len + (size_t)n
                                                             : sizeof x->why - 1;
}

static void note_soonest(sy_exec *x, uint64_t at)
{
    if (at && (!x->soonest_usable || at < x->soonest_usable)) x->soonest_usable = at;
}

void ex_timer_set(sy_exec *x, timer_use use, int64_t ms)
{
    x->timer_use = use;
    sy_timer_arm_ms(x->timer, ms);
}

void ex_timer_clear(sy_exec *x)
{
    if (x->timer_use != T_NONE) sy_timer_cancel(x->timer);
    x->timer_use = T_NONE;
}

/* ------------------------------------------------- one attempt's end */

/* Hand the breaker permit back and feed the endpoint's latency. */
void ex_attempt_release(sy_exec *x, sy_breaker_outcome outcome)
{
    sy_endpoint_state *s = x->eps;
    if (!s) return;
    uint64_t t = now(x);
    sy_endpoint_attempt_ends(s);
    if (x->attempt_ttfb) sy_endpoint_observe_latency(s, x->attempt_ttfb - x->attempt_start, t);
    if (x->permit_held && sy_endpoint_release(s, &x->pol->breaker, t, x->permit, outcome,
                                              sy_router_endpoint_changed, x->env.router))
        sy_log_warn("breaker of %s/%s opened: %d consecutive failures; no attempts for %" PRId64
                    " ms", s->provider, s->endpoint, x->pol->breaker.failure_threshold,
                    x->pol->breaker.open_for_ms);
    x->permit_held = 0;
    x->eps = NULL;
}

static void cool_endpoint(sy_exec *x, const sy_plan_step *s, int64_t ms)
{
    sy_endpoint_state *st = sy_router_endpoint(x->env.router, s->provider, s->endpoint);
    if (!st) return;
    if (ms > MAX_COOL_MS) ms = MAX_COOL_MS;
    uint64_t until = now(x) + (uint64_t)ms * NS_PER_MS;
    sy_endpoint_cool(st, s->model, until, now(x));
}

void ex_emit_attempt(sy_exec *x, int status, const char *failure, int retried)
{
    const sy_plan_step *s = &x->plan.steps[x->step];
    sy_attempt_event a = {
        .provider = s->provider->name, .endpoint = s->endpoint->name, .model = s->model,
        .arm = sy_arm_name(s->arm), .status = status, .failure = failure,
        .reason = retried ? failure : NULL, .retried = retried,
        .start_ns = x->attempt_start, .ttfb_ns = x->attempt_ttfb, .end_ns = now(x), .op = x->op,
    };
    sy_router_emit_attempt(x->env.router, &a);
}

/* ------------------------------------------------- upstream answers */

static const sy_io_cbs io_cbs;

static void io_headers(void *ctx, int status)
{
    sy_exec *x = ctx;
    x->attempt_ttfb = now(x);
    x->resp_status = status;
    ex_timer_clear(x);
    if (x->stream && status >= 200 && status < 300) {
        const char *ct = x->tp->ops->header(x->io, "content-type");
        if (ct && strncasecmp(ct, "text/event-stream", 17) == 0) {
            ex_stream_commit(x, status);
            return;
        }
    }
    /* A whole answer: an announced size above server.max_response is refused
     * before its first byte; a smaller one is reserved in one piece. */
    const char *cl = x->tp->ops->header(x->io, "content-length");
    if (cl && *cl >= '0' && *cl <= '9') {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (!*end) {
            sy_answer_buf_rc rc = sy_answer_buf_expect(&x->resp, v, x->pol->server.max_response,
                                                       x->pol->server.max_response_memory);
            if (rc != SY_ABUF_OK) x->refused = (int)rc;
        }
    }
    /* The rest of a whole answer is bounded by the request's deadline. */
    ex_timer_set(x, T_BODY, ms_left(x));
}

static size_t io_data(void *ctx, const char *p, size_t n)
{
    sy_exec *x = ctx;
    if (x->committed) {
        /* Pausing hands the same bytes back on resume, so decide before
         * consuming anything: a slow client pauses the upstream. */
        if (x->sink->ops->queued(x->sink) > SY_SINK_HIGH_WATER) {
            x->paused = 1;
            return SY_IO_PAUSE;
        }
        x->last_data = now(x);
        if (ex_stream_feed(x, p, n) < 0) return 0; /* an event too large */
        return n;
    }
    if (x->refused) return 0; /* abort the exchange; io_done answers */
    sy_answer_buf_rc rc = sy_answer_buf_append(&x->resp, p, n, x->pol->server.max_response,
                                               x->pol->server.max_response_memory);
    if (rc != SY_ABUF_OK) {
        x->refused = (int)rc;
        return 0;
    }
    return n;
}

static const char *resp_header(const sy_http_response *r, const char *name)
{
    const sy_exec *x = r->host_ctx;
    return x->io ? x->tp->ops->header(x->io, name) : NULL;
}

void ex_remember_response(sy_exec *x, const char *id, size_t len)
{
    sy_response_map *m = sy_router_responses(x->env.router);
    const sy_plan_step *s = &x->plan.steps[x->step];
    if (!m || !id || x->op != SY_OP_RESPONSES) return;
    sy_response_home home;
    snprintf(home.provider, sizeof home.provider, "%s", s->provider->name);
    snprintf(home.endpoint, sizeof home.endpoint, "%s", s->endpoint->name);
    snprintf(home.model, sizeof home.model, "%s", s->model);
    sy_response_map_put(m, id, len, &home, sy_loop_wall(x->env.loop) * 1000);
}

/* Classify a whole answer and act on it. */
static void handle_answer(sy_exec *x, int status, const char *body, size_t len)
{
    const sy_plan_step *s = &x->plan.steps[x->step];
    const sy_plugin *pl = s->provider->plugin;
    sy_result r;
    memset(&r, 0, sizeof r);
    r.usage.input_tokens = r.usage.output_tokens = -1;
    r.reasoning_tokens = -1;
    if (pl->parse_response) {
        sy_http_response resp = {status, body, len, resp_header, x};
        pl->parse_response(s->provider->instance, &x->preq, &resp, &r);
    } else {
        r.verdict = sy_status_verdict(status);
        if (r.verdict != SY_VERDICT_OK) snprintf(r.error, sizeof r.error, "HTTP %d", status);
    }
    if (r.usage.input_tokens >= 0) x->usage = r.usage;
    if (r.reasoning_tokens >= 0) x->reasoning_tokens = r.reasoning_tokens;
    if (r.verdict == SY_VERDICT_OK && r.response_id && r.response_id_len)
        ex_remember_response(x, r.response_id, r.response_id_len);
    /* A deleted response stays in the map: a later request naming it then
     * gets the provider's own "not found", from where it lived, and the id
     * never reaches another provider. */
    if (r.verdict == SY_VERDICT_OK || r.verdict == SY_VERDICT_FATAL) {
        ex_emit_attempt(x, status, r.verdict == SY_VERDICT_OK ? NULL : "client_error", 0);
        ex_attempt_release(x, r.verdict == SY_VERDICT_OK ? SY_OUTCOME_SUCCESS : SY_OUTCOME_NEUTRAL);
        if (r.verdict == SY_VERDICT_FATAL && r.error[0])
            snprintf(x->last_error, sizeof x->last_error, "%s", r.error);
        if (r.body) {
            ex_answer_whole(x, status, r.body, r.body_len);
            free(r.body);
        } else {
            ex_answer_whole(x, status, body, len);
        }
        return;
    }
    free(r.body);
    snprintf(x->last_error, sizeof x->last_error, "%s", r.error[0] ? r.error : "upstream error");
    int64_t ra = -1; /* retry_after.honor: false ignores the header: no wait, no cooldown */
    if (x->io && x->pol->retry.retry_after_honor) {
        ra = sy_retry_after_ms(x->tp->ops->header(x->io, "retry-after"),
                               x->tp->ops->header(x->io, "retry-after-ms"), sy_loop_wall(x->env.loop));
    }
    char failure[16];
    snprintf(failure, sizeof failure, "%d", status);
    /* The exchange is over (we are inside its on_done) and its transport
     * frees it when we return; after_failure may leave x waiting out a
     * backoff, so x->io must not keep pointing at it (an abort then would
     * cancel freed memory and report a phantom attempt). */
    x->io = NULL;
    after_failure(x, r.verdict, failure, status, ra);
}

static void io_done(void *ctx, sy_io_error err, int status, const char *msg)
{
    sy_exec *x = ctx;
    ex_timer_clear(x);
    x->io_finishing = 1; /* the transport frees this exchange when we return */
    x->upstream_ns += now(x) - x->attempt_start;
    sy_usage u;
    if (x->tp->ops->usage && x->tp->ops->usage(x->io, &u) == 0) x->usage = u;
    if (x->committed) {
        x->io = NULL;
        int ok = err == SY_IO_OK && x->saw_done && !x->stream_error;
        ex_emit_attempt(x, status, ok ? NULL : "stream_cut", 0);
        ex_attempt_release(x, ok ? SY_OUTCOME_SUCCESS : SY_OUTCOME_FAILURE);
        if (err == SY_IO_OK && !x->saw_done)
            ex_stream_finish(x, "the upstream closed the stream without [DONE]", "stream_interrupted",
                          "upstream");
        else
            ex_stream_finish(x, err == SY_IO_OK ? "" : msg, "stream_interrupted", "upstream");
        return;
    }
    if (x->refused) {
        x->io = NULL;
        ex_refuse_answer(x, status);
        return;
    }
    if (err != SY_IO_OK) {
        x->io = NULL;
        const char *failure = err == SY_IO_CONNECT ? "connect_error"
                              : err == SY_IO_TIMEOUT ? "timeout" : "io_error";
        snprintf(x->last_error, sizeof x->last_error, "%s: %s", failure, msg ? msg : "");
        /* A connection that broke mid-answer counts as a connect_error for
         * retry.on: either way no usable answer arrived. */
        unsigned flag = err == SY_IO_TIMEOUT ? SY_RETRY_ON_TIMEOUT : SY_RETRY_ON_CONNECT_ERROR;
        sy_verdict v = (x->pol->retry.on_flags & flag) ? SY_VERDICT_RETRY : SY_VERDICT_NEXT;
        after_failure(x, v, failure, status, -1);
        return;
    }
    /* Classify while the exchange's headers are still readable; x may be
     * gone when this returns. */
    handle_answer(x, status, x->resp.data ? x->resp.data : "", x->resp.len);
}

static const sy_io_cbs io_cbs = {io_headers, io_data, io_done};

/* -------------------------------------------------------- the timer */

static void on_timer(void *arg)
{
    sy_exec *x = arg;
    timer_use use = x->timer_use;
    x->timer_use = T_NONE;
    switch (use) {
    case T_NONE:
        return;
    case T_BACKOFF:
        pick_and_attempt(x, x->pick_from);
        return;
    case T_FIRST_BYTE:
    case T_BODY: {
        /* The attempt's time is up: treat it as a timed-out upstream. */
        x->tp->ops->cancel(x->io);
        x->io = NULL;
        x->upstream_ns += now(x) - x->attempt_start;
        /* The timer was the request's own deadline (or the body's, which is
         * always it), not first_byte_timeout: whatever a clock tick says. */
        int deadline = use == T_BODY || x->timer_is_deadline || ms_left(x) == 0;
        if (deadline) x->deadline_hit = 1;
        snprintf(x->last_error, sizeof x->last_error, "timeout: %s",
                 deadline ? "request_timeout ran out"
                 : use == T_FIRST_BYTE ? "no answer within first_byte_timeout"
                                       : "the answer did not complete in time");
        sy_verdict v = (x->pol->retry.on_flags & SY_RETRY_ON_TIMEOUT) ? SY_VERDICT_RETRY
                                                                      : SY_VERDICT_NEXT;
        after_failure(x, v, "timeout", 0, -1);
        return;
    }
    case T_IDLE: {
        uint64_t idle_ns = (uint64_t)(x->pol->server.stream_idle_timeout_ms > 0
                                          ? x->pol->server.stream_idle_timeout_ms : 60000) * NS_PER_MS;
        uint64_t t = now(x);
        if (x->paused || t - x->last_data < idle_ns) {
            /* Our own pause (a slow client) is not the upstream's silence. */
            ex_timer_set(x, T_IDLE, (int64_t)((x->paused ? idle_ns : idle_ns - (t - x->last_data)) / NS_PER_MS) + 1);
            return;
        }
        x->tp->ops->cancel(x->io);
        x->io = NULL;
        x->upstream_ns += t - x->attempt_start;
        ex_emit_attempt(x, x->resp_status, "stream_idle", 0);
        ex_attempt_release(x, SY_OUTCOME_FAILURE);
        ex_stream_finish(x, "no data from the upstream within server.stream_idle_timeout",
                      "stream_idle_timeout", "idle");
        return;
    }
    }
}

/* ------------------------------------------------------ the attempts */

static int64_t attempt_timeout(int64_t ep, int64_t prov) { return ep > 0 ? ep : prov; }

/* Start the attempt at x->step, whose endpoint's breaker granted permit. */
static void attempt_start(sy_exec *x, sy_endpoint_state *st, sy_breaker_permit permit)
{
    const sy_plan_step *s = &x->plan.steps[x->step];
    const sy_plugin *pl = s->provider->plugin;
    x->last = s;
    x->attempts++;
    x->route_attempts++;
    x->attempt_start = now(x);
    x->attempt_ttfb = 0;
    x->usage.input_tokens = x->usage.output_tokens = -1; /* this attempt's answer's, only */
    sy_answer_buf_free(&x->resp);
    x->refused = 0;
    x->resp_status = 0;
    x->eps = st;
    x->permit = permit;
    x->permit_held = st != NULL;
    if (st) sy_endpoint_attempt_begins(st);
    x->preq = (sy_request){x->op, s->model, x->model, x->body, x->body_len, x->stream,
                           x->request_id, x->method, x->upstream_path, x->body_checked,
                           x->body_spans_known, ex_body_at(x, x->model_span), x->model_span.len,
                           ex_body_at(x, x->stream_options_span), x->stream_options_span.len};
    sy_io_request io = {pl, s->provider->instance, &s->endpoint->view, &x->preq, NULL,
                        attempt_timeout(s->endpoint->connect_timeout_ms, s->provider->connect_timeout_ms)};
    /* The upstream request is built on the stack: the transport copies the
     * URL and keeps only pointers that outlive this call (the plugin's header
     * lines, the body), so a stream in flight does not carry 2 KiB of it. */
    sy_http_request hr;
    if (pl->local_reply) {
        x->tp = x->env.local;
    } else {
        free(x->body_owned);
        x->body_owned = NULL;
        memset(&hr, 0, sizeof hr);
        char err[256] = "";
        int built = pl->build_request(s->provider->instance, &s->endpoint->view, &x->preq, &hr,
                                      err, sizeof err);
        x->body_owned = hr.body_owned; /* freed with the next attempt, or at the end */
        if (built != 0) {
            snprintf(x->last_error, sizeof x->last_error, "plugin %s: %s", pl->name,
                     err[0] ? err : "could not build the request");
            /* Nothing was sent: no fault of the endpoint's, so its breaker
             * gets the permit back as neutral (after_failure would count an
             * attempt with no status as a failure). */
            ex_attempt_release(x, SY_OUTCOME_NEUTRAL);
            after_failure(x, SY_VERDICT_NEXT, "plugin_error", 0, -1);
            return;
        }
        io.http = &hr;
        int fast = x->env.fast && x->pol->server.http_client == SY_HTTP_CLIENT_BUILTIN &&
                   x->env.fast->ops->accepts(x->env.fast, hr.url);
        x->tp = fast ? x->env.fast : x->env.net;
    }
    char msg[256] = "";
    x->io_finishing = 0;
    x->io = x->tp->ops->start(x->tp, &io, &io_cbs, x, msg, sizeof msg);
    if (!x->io) {
        snprintf(x->last_error, sizeof x->last_error, "connect_error: %s", msg);
        after_failure(x, (x->pol->retry.on_flags & SY_RETRY_ON_CONNECT_ERROR) ? SY_VERDICT_RETRY
                                                                             : SY_VERDICT_NEXT,
                      "connect_error", 0, -1);
        return;
    }
    int64_t left = ms_left(x);
    int64_t fb = attempt_timeout(s->endpoint->first_byte_timeout_ms, s->provider->first_byte_timeout_ms);
    x->timer_is_deadline = !(fb > 0 && fb < left);
    ex_timer_set(x, T_FIRST_BYTE, x->timer_is_deadline ? left : fb);
}

/* The first step of the route of step i, and the step after the route. */
static size_t route_first(const sy_exec *x, size_t i)
{
    unsigned r = x->plan.steps[i].route;
    while (i > 0 && x->plan.steps[i - 1].route == r) i--;
    return i;
}
static size_t route_end(const sy_exec *x, size_t i)
{
    unsigned r = x->plan.steps[i].route;
    while (i < x->plan.n_steps && x->plan.steps[i].route == r) i++;
    return i;
}

/* When a refused endpoint may be tried again. A cooldown (the endpoint's own
 * Retry-After) is worth waiting for, up to retry_after.max; an open breaker
 * is not (its open_for is the router's guess, usually long): it only tells
 * the client's Retry-After. */
typedef struct soonest {
    uint64_t cool; /* soonest end of a cooldown; 0 none */
    uint64_t any;  /* soonest end of a cooldown or an open breaker; 0 none */
} soonest;

/* open_until: when the endpoint's open breaker may be tried again, or 0. */
static void soonest_add(soonest *so, uint64_t cool_until, uint64_t open_until)
{
    uint64_t at = 0;
    if (cool_until) {
        at = cool_until;
        if (!so->cool || at < so->cool) so->cool = at;
    }
    if (open_until > at) at = open_until;
    if (at && (!so->any || at < so->any)) so->any = at;
}

/* Among the endpoints of the route of step `from`, starting at it (or, with
 * after, at the one after it) and going on by priority, the first that may
 * be called now: healthy, its model not cooling after a 429, its breaker
 * allowing a call. With permit, the breaker's permit is taken (*st_out gets
 * the endpoint's state, NULL for a policy not bound to the router); without,
 * the breaker is only looked at. Returns the step, or SIZE_MAX with *so set
 * to when one may be usable. */
static size_t find_endpoint(sy_exec *x, size_t from, int after, sy_breaker_permit *permit,
                            sy_endpoint_state **st_out, soonest *so)
{
    size_t first = route_first(x, from), n = route_end(x, from) - first;
    uint64_t t = now(x);
    *so = (soonest){0, 0};
    for (size_t k = 0; k < n; k++) {
        size_t i = first + (from - first + (after ? k + 1 : k)) % n;
        const sy_plan_step *s = &x->plan.steps[i];
        sy_endpoint_state *st = sy_router_endpoint(x->env.router, s->provider, s->endpoint);
        if (st_out) *st_out = st;
        if (!st) return i; /* a policy not bound to the router: no breaker to ask */
        sy_endpoint_look look = sy_endpoint_acquire(st, &x->pol->breaker, s->model, t, permit,
                                                    sy_router_endpoint_changed, x->env.router);
        if (!look.ok && look.healthy) soonest_add(so, look.cool_until, look.open_until);
        if (permit && look.cool_until && !x->back_status) x->back_status = 429;
        if (look.ok) return i;
    }
    return SIZE_MAX;
}

/* Move to the first step of the next route whose provider has not refused
 * its key; 0 when there is none. */
static int next_route(sy_exec *x)
{
    size_t i = route_end(x, x->step);
    while (i < x->plan.n_steps && provider_skipped(x, &x->plan.steps[i])) i = route_end(x, i);
    if (i >= x->plan.n_steps) return 0;
    x->step = i;
    x->route_attempts = 0;
    return 1;
}

/* A canary route none of whose endpoints is usable (breakers open, health
 * checks failing, cooling after a 429): the rollout windows count it as a
 * failure of the canary, once per request (issue 8: "each canary request
 * that found no usable canary route"), so a canary whose every region is
 * down cannot look healthy by sending no attempts. Not an attempt: the
 * event has no endpoint and no_route set, and the metrics skip it. */
static void tell_no_canary_route(sy_exec *x, const sy_plan_step *s)
{
    if (s->arm != SY_ARM_CANARY || x->no_route_told) return;
    x->no_route_told = 1;
    uint64_t t = now(x);
    sy_attempt_event e = {.provider = s->provider->name, .endpoint = "", .model = s->model,
                          .arm = sy_arm_name(s->arm), .failure = "no_route", .no_route = 1,
                          .start_ns = t, .end_ns = t};
    sy_router_emit_attempt(x->env.router, &e);
}

/* Try the route of step `from`, beginning with that endpoint and going on
 * by priority to the first one whose breaker allows a call; when none does,
 * the next route (the last route may wait for its soonest endpoint). */
static void pick_and_attempt(sy_exec *x, size_t from)
{
    for (;;) {
        if (ms_left(x) == 0) {
            x->deadline_hit = 1;
            ex_fail_final(x);
            return;
        }
        sy_endpoint_state *st = NULL;
        sy_breaker_permit permit = {0, 0};
        soonest so;
        size_t i = find_endpoint(x, from, 0, &permit, &st, &so);
        if (i != SIZE_MAX) {
            x->step = i;
            attempt_start(x, st, permit);
            return;
        }
        note_soonest(x, so.any);
        x->step = from;
        const sy_plan_step *s = &x->plan.steps[from];
        if (!next_route(x)) {
            /* Only a cooldown is worth waiting for, not an open breaker. */
            int64_t wait = so.cool > now(x) ? (int64_t)((so.cool - now(x)) / NS_PER_MS) + 1 : -1;
            if (wait >= 0 && wait <= x->pol->retry.retry_after_max_ms && wait < ms_left(x) &&
                x->route_attempts < x->pol->retry.max_attempts) {
                x->pick_from = from;
                ex_timer_set(x, T_BACKOFF, wait);
                return;
            }
            note_route(x, s, "no usable endpoint (breaker open or cooling down)");
            tell_no_canary_route(x, s);
            ex_fail_final(x);
            return;
        }
        note_route(x, s, "no usable endpoint (breaker open or cooling down)");
        tell_no_canary_route(x, s);
        from = x->step;
    }
}

static void log_key_refused(sy_exec *x, const sy_plan_step *s, int status)
{
    sy_provider_state *ps = sy_router_provider(x->env.router, s->provider);
    int64_t wall = sy_loop_wall(x->env.loop);
    int log = 1;
    if (ps) {
        int64_t last = atomic_load_explicit(&ps->key_refused_logged_s, memory_order_relaxed);
        log = wall - last >= 60 && atomic_compare_exchange_strong(&ps->key_refused_logged_s, &last, wall);
    }
    if (log)
        sy_log_error("provider %s refused its API key (HTTP %d from %s): its routes are skipped "
                     "for this request; check providers.%s.api_key (logged at most once a minute)",
                     s->provider->name, status, s->endpoint->name, s->provider->name);
}

static int budget_allows(sy_exec *x, const sy_plan_step *s)
{
    sy_provider_state *ps = sy_router_provider(x->env.router, s->provider);
    if (!ps) return 1;
    return sy_retry_budget_take(&ps->budget, x->pol->retry.budget_ratio,
                                x->pol->retry.budget_min_per_second, now(x));
}

/* An attempt failed (or could not be made). Decide: retry the route after a
 * wait, or move on to the next route, or fail the request. */
static void after_failure(sy_exec *x, sy_verdict v, const char *failure, int status,
                          int64_t retry_after_ms)
{
    const sy_plan_step *s = &x->plan.steps[x->step];
    sy_status_class cls = status ? sy_status_classify(status) : SY_STATUS_BAD;
    int is_failure = status == 0 || status >= 500 || cls == SY_STATUS_BAD;

    /* A 429 (or a 503 with Retry-After) cools the endpoint for as long as it
     * asked; a longer cooldown is never cut short. */
    if (retry_after_ms >= 0 && (status == 429 || status == 503)) {
        cool_endpoint(x, s, retry_after_ms);
        x->back_status = status;
    }

    if (cls == SY_STATUS_KEY_REFUSED) {
        size_t pi = provider_index(x, s);
        if (pi < 64) x->skip_providers |= 1ull << pi;
        log_key_refused(x, s, status);
        v = SY_VERDICT_NEXT;
    }
    if (v == SY_VERDICT_RETRY && !sy_policy_retry_on_status(x->pol, status) && status != 0)
        v = SY_VERDICT_NEXT;

    /* Hand the permit back first, so this endpoint's breaker has seen the
     * failure before the next endpoint is chosen. */
    ex_attempt_release(x, is_failure ? SY_OUTCOME_FAILURE : SY_OUTCOME_NEUTRAL);

    const char *gave_up = NULL;
    char gave_buf[200];
    if (v == SY_VERDICT_RETRY && x->route_attempts < x->pol->retry.max_attempts) {
        uint64_t t = now(x);
        soonest so;
        int64_t delay = 0;
        size_t next = find_endpoint(x, x->step, 1, NULL, NULL, &so);
        int beyond = retry_after_ms > x->pol->retry.retry_after_max_ms || retry_after_ms >= ms_left(x);
        if (next != SIZE_MAX) {
            /* Another endpoint of the route. After a Retry-After the router
             * would not wait for, move there at once; else back off. */
            delay = beyond ? 0 : sy_backoff_delay_ms(&x->pol->retry, x->route_attempts);
        } else if (so.cool > t) {
            /* Every endpoint of the route is cooling (a 429's Retry-After):
             * wait for the soonest, if that is soon enough. */
            delay = (int64_t)((so.cool - t + NS_PER_MS - 1) / NS_PER_MS);
            note_soonest(x, so.cool);
            next = x->step;
            if (delay > x->pol->retry.retry_after_max_ms) {
                snprintf(gave_buf, sizeof gave_buf,
                         "%s; the endpoint asked to wait %" PRId64 " ms, beyond retry_after.max",
                         failure, delay);
                gave_up = gave_buf;
            }
        } else {
            note_soonest(x, so.any);
            snprintf(gave_buf, sizeof gave_buf, "%s; no endpoint of the route is usable (breaker open)",
                     failure);
            gave_up = gave_buf;
        }
        if (!gave_up && delay >= ms_left(x)) {
            snprintf(gave_buf, sizeof gave_buf, "%s; no time left for a retry", failure);
            gave_up = gave_buf;
        }
        if (!gave_up && !budget_allows(x, s)) {
            snprintf(gave_buf, sizeof gave_buf, "%s; retry budget exhausted", failure);
            gave_up = gave_buf;
            sy_attempt_event be = {.provider = s->provider->name, .endpoint = s->endpoint->name,
                                   .model = s->model, .arm = sy_arm_name(s->arm),
                                   .budget_exhausted = 1};
            sy_router_emit_attempt(x->env.router, &be);
        }
        if (!gave_up) {
            ex_emit_attempt(x, status, failure, 1);
            x->pick_from = next;
            ex_timer_set(x, T_BACKOFF, delay);
            return;
        }
    }
    ex_emit_attempt(x, status, failure, 0);
    note_route(x, s, "%s", gave_up ? gave_up : x->last_error);
    if (!next_route(x)) {
        if (ms_left(x) == 0) x->deadline_hit = 1;
        ex_fail_final(x);
        return;
    }
    pick_and_attempt(x, x->step);
}

/* ---------------------------------------------------------- starting */

/* balance: latency: the planner's view of an endpoint's peak EWMA, in ms. */
static double latency_snapshot(void *ctx, const sy_policy_provider *prov, const sy_policy_endpoint *ep)
{
    sy_exec *x = ctx;
    sy_endpoint_state *st = sy_router_endpoint(x->env.router, prov, ep);
    if (!st) return -1;
    sy_ewma w;
    sy_endpoint_ewma(st, &w);
    return w.samples ? sy_ewma_cost(&w, 0) / 1e6 : -1;
}

sy_exec *sy_engine_new(const sy_engine_env *env, const sy_engine_request *r, sy_sink *sink)
{
    sy_exec *x = malloc(sizeof *x);
    if (!x) {
        sy_policy_unref(r->policy);
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"service_unavailable\",\"param\":null,\"code\":\"out_of_memory\"}}\n";
        sink->ops->respond(sink, 503, "application/json", NULL, oom, sizeof oom - 1);
        return NULL;
    }
    /* Zeroed but for the plan's steps, which the planner writes before
     * anything reads them (sy_plan_reset): 2.5 KB less to clear per request. */
    memset(x, 0, offsetof(sy_exec, plan));
    sy_plan_reset(&x->plan);
    size_t after = offsetof(sy_exec, plan) + sizeof x->plan;
    memset((char *)x + after, 0, sizeof *x - after);
    x->env = *env;
    x->sink = sink;
    x->pol = r->policy;
    x->op = r->op;
    x->stream = r->stream;
    x->body_checked = r->body_checked;
    if (r->body_checked && r->body_spans_known) { /* else the spans stay 0: none given */
        x->body_spans_known = 1;
        x->model_span = r->model_span;
        x->stream_options_span = r->stream_options_span;
    }
    x->method = r->method;
    x->path = r->path;
    sy_strbuf rid = sy_sb(x->request_id, sizeof x->request_id);
    sy_sb_str(&rid, r->request_id);
    x->usage.input_tokens = x->usage.output_tokens = -1;
    x->t_start = r->start_ns;
    x->deadline = r->start_ns + (uint64_t)x->pol->server.request_timeout_ms * NS_PER_MS;
    sy_answer_buf_init(&x->resp, sy_router_answer_pool(env->router));
    x->reasoning_tokens = -1;
    x->model = strdup(r->model);
    x->body = malloc(r->body_len + 1);
    /* What the plugin appends to the endpoint's base URL: the client's own
     * path after /v1 (query included) for a stored response, else the op's. */
    x->upstream_path = strdup(r->upstream_path ? r->upstream_path
                              : !strncmp(r->path, "/v1/", 4) ? r->path + 3 : r->path);
    x->pin_id = r->pin_id ? strdup(r->pin_id) : NULL;
    x->timer = sy_timer_new(env->loop, on_timer, x);
    sy_sse_init(&x->sse, MAX_SSE_EVENT);
    if (!x->model || !x->body || !x->timer || !x->upstream_path || (r->pin_id && !x->pin_id)) {
        ex_respond_error(x, 503, "service_unavailable", "out_of_memory", NULL, "out of memory");
        ex_free(x, 0, NULL);
        return NULL;
    }
    memcpy(x->body, r->body, r->body_len);
    x->body[r->body_len] = '\0';
    x->body_len = r->body_len;

    sy_route_input in = {.model = x->model, .sticky_key = r->sticky_key,
                         .sticky_key_len = r->sticky_key_len, .sticky_source = r->sticky_source,
                         .percent = r->stable_only ? 0 : r->percent,
                         .latency_ms = latency_snapshot, .latency_ctx = x, .op = (int)r->op};
    if (r->pin_id)
        sy_plan_build_pinned(x->pol, &in, r->pin_provider, r->pin_endpoint, &x->plan);
    else if (r->op == SY_OP_RESPONSE_ITEM) /* an id the router did not see created */
        sy_plan_build_pinned(x->pol, &in, x->pol->providers[x->pol->migration.stable].name, NULL,
                             &x->plan);
    else
        sy_plan_build(x->pol, &in, &x->plan);
    if (x->plan.n_steps == 0) {
        ex_respond_no_plan(x, r);
        ex_free(x, 0, NULL);
        return NULL;
    }
    /* Each provider's retry budget counts the request once, however many of
     * its routes the plan has (canary, stable, canary, ... with fallbacks). */
    uint64_t counted = 0;
    for (size_t i = 0; i < x->plan.n_steps; i++) {
        size_t pi = provider_index(x, &x->plan.steps[i]);
        if ((pi < 64 && (counted >> pi & 1u)) ||
            (i && x->plan.steps[i].provider == x->plan.steps[i - 1].provider))
            continue; /* counted already: no lookup by name */
        sy_provider_state *ps = sy_router_provider(env->router, x->plan.steps[i].provider);
        if (!ps) continue;
        if (pi < 64) counted |= 1ull << pi;
        sy_retry_budget_request(&ps->budget, now(x));
    }
    x->step = 0;
    return x;
}

void sy_engine_run(sy_exec *x) { pick_and_attempt(x, 0); }


void sy_engine_abort(sy_exec *x, sy_abort_reason why)
{
    ex_timer_clear(x);
    if (why == SY_ABORT_SHUTDOWN) {
        if (x->committed) {
            if (x->io) {
                x->tp->ops->cancel(x->io);
                x->io = NULL;
                x->upstream_ns += now(x) - x->attempt_start;
                ex_emit_attempt(x, x->resp_status, "shutdown", 0);
            }
            ex_attempt_release(x, SY_OUTCOME_NEUTRAL);
            /* All of the answer is out but its end: just end it. */
            ex_stream_finish(x, "the router is shutting down and its shutdown_grace ran out before "
                             "this request was done",
                          "server_shutdown", "shutdown");
            return;
        }
        if (x->io) {
            x->tp->ops->cancel(x->io);
            x->io = NULL;
            x->upstream_ns += now(x) - x->attempt_start;
            ex_emit_attempt(x, 0, "shutdown", 0);
        }
        snprintf(x->last_error, sizeof x->last_error, "cut by shutdown: shutdown_grace ran out");
        ex_respond_error(x, 503, "service_unavailable", "server_shutdown", NULL,
                      "the router is shutting down and its shutdown_grace ran out before this "
                      "request was done; retry");
        ex_free(x, 0, NULL);
        return;
    }
    if (x->io) ex_emit_attempt(x, x->resp_status, "client_gone", 0);
    ex_free(x, 1, NULL);
}

void sy_engine_drained(sy_exec *x)
{
    if (!x->paused) return;
    x->paused = 0;
    if (x->io) x->tp->ops->resume(x->io);
}
