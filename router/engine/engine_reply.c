/* engine_reply.c - what the client gets when the engine answers, and the
 * request's end (see engine_impl.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "events.h"
#include "json_escape.h"
#include "redact.h"
#include "strbuf.h"
#include "utf8.h"

/* s as a header value: printable ASCII as is; '%', space and every other
 * byte (control bytes, the UTF-8 of non-ASCII names) as %XX. Model names
 * come from clients: raw bytes must not reach a header (docs/policy.md). */
static void header_safe(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && j + 4 <= cap; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '%') {
            out[j++] = (char)*p;
        } else {
            out[j++] = '%';
            out[j++] = hex[*p >> 4];
            out[j++] = hex[*p & 15];
        }
    }
    out[j] = '\0';
}

/* Upstream response headers passed on to the client, from the upstream that
 * answered: the rate-limit state clients pace themselves by. A fixed list
 * (README); a value that is not 1..PASS_VALUE_MAX bytes of printable ASCII,
 * or that holds a secret, is dropped. Retry-After goes with a 429 or 503. */
static const char *const passed_headers[] = {
    "x-ratelimit-limit-requests",     "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",     "x-ratelimit-reset-tokens",
};
#define PASS_VALUE_MAX 64

static int pass_value_ok(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= PASS_VALUE_MAX || (unsigned char)v[n] < 0x20 || (unsigned char)v[n] > 0x7e)
            return 0;
    return n > 0;
}

static void pass_header(const sy_exec *x, const char *name, char *buf, size_t cap, size_t *off)
{
    const char *v = x->tp->ops->header(x->io, name);
    if (!v || !pass_value_ok(v) || sy_redact_found(x->pol->redactor, v, strlen(v))) return;
    int n = snprintf(buf + *off, cap - *off, "%s: %s\r\n", name, v);
    if (n > 0 && (size_t)n < cap - *off) *off += (size_t)n;
    else buf[*off] = '\0'; /* no room: leave it out rather than cut a line */
}

/* x-request-id and x-switchyard-* for the client; with upstream (the
 * exchange in x->io answered, with this status), the passed-through
 * upstream headers. */
void ex_answer_headers(const sy_exec *x, int upstream, int status, char *buf, size_t cap)
{
    const sy_plan_step *s = x->answered ? x->answered : x->last;
    char provider[200], endpoint[200], model[800];
    header_safe(step_provider(s), provider, sizeof provider);
    header_safe(step_endpoint(s), endpoint, sizeof endpoint);
    header_safe(x->answered ? x->answered->model : "", model, sizeof model);
    /* By hand, not snprintf: on every answer (strbuf.h). */
    sy_strbuf sb = sy_sb(buf, cap);
    SY_SB_LIT(&sb, "x-request-id: ");
    sy_sb_str(&sb, x->request_id);
    SY_SB_LIT(&sb, "\r\nx-switchyard-arm: ");
    sy_sb_str(&sb, sy_arm_name(s ? s->arm : x->plan.arm));
    SY_SB_LIT(&sb, "\r\nx-switchyard-provider: ");
    sy_sb_str(&sb, provider);
    SY_SB_LIT(&sb, "\r\nx-switchyard-endpoint: ");
    sy_sb_str(&sb, endpoint);
    SY_SB_LIT(&sb, "\r\nx-switchyard-model: ");
    sy_sb_str(&sb, model);
    SY_SB_LIT(&sb, "\r\nx-switchyard-attempts: ");
    sy_sb_u64(&sb, (uint64_t)(x->attempts < 0 ? 0 : x->attempts));
    SY_SB_LIT(&sb, "\r\n");
    if (!upstream || !x->io || sb.overflow) return;
    size_t off = sb.n;
    for (size_t i = 0; i < sizeof passed_headers / sizeof *passed_headers; i++)
        pass_header(x, passed_headers[i], buf, cap, &off);
    if (status == 429 || status == 503) pass_header(x, "retry-after", buf, cap, &off);
}

/* ------------------------------------------------------ request end */

/* Priced by the provider and model that answered; -1 (unknown, never free)
 * without a price or without both counts of the usage. */
static double request_cost(const sy_exec *x)
{
    if (!x->answered || x->usage.input_tokens < 0 || x->usage.output_tokens < 0) return -1;
    const sy_price *p = sy_policy_price_at(x->pol, x->answered->provider, x->answered->model);
    if (!p) return -1;
    return (double)x->usage.input_tokens * p->input_per_m / 1e6 +
           (double)x->usage.output_tokens * p->output_per_m / 1e6;
}

/* The request is over (answered, failed, or abandoned): observers, cleanup. */
void ex_free(sy_exec *x, int client_aborted, const char *cut)
{
    uint64_t end = now(x);
    if (x->io && !x->io_finishing) {
        x->tp->ops->cancel(x->io);
        x->upstream_ns += end - x->attempt_start;
    }
    x->io = NULL;
    ex_attempt_release(x, SY_OUTCOME_NEUTRAL);
    const sy_plan_step *s = x->answered ? x->answered : x->last;
    int status = client_aborted ? 499 : x->sink->ops->status(x->sink);
    /* The client got 200 and then an error event (ours after a cut, or the
     * upstream's own): a failure, not a success. */
    if (cut || (x->committed && x->stream_error)) status = 502;
    /* Cut by our own shutdown: the router's failure, not the upstream's. */
    if (cut && !strcmp(cut, "shutdown")) status = 503;
    if (x->last_error[0]) sy_redact_str(x->pol->redactor, x->last_error, sizeof x->last_error);
    sy_request_event e = {
        .request_id = x->request_id, .method = x->method, .path = x->path,
        .arm = sy_arm_name(s ? s->arm : x->plan.arm), .provider = step_provider(s),
        .endpoint = step_endpoint(s), .model_asked = x->model,
        .model_served = x->answered ? x->answered->model : "", .status = status,
        .attempts = x->attempts, .stream = x->stream, .client_aborted = client_aborted,
        .stream_cut = cut != NULL, .cut_reason = cut, .start_ns = x->t_start,
        .ttfb_ns = x->client_ttfb, .end_ns = end, .upstream_ns = x->upstream_ns,
        .input_tokens = x->usage.input_tokens, .output_tokens = x->usage.output_tokens,
        .cost_usd = request_cost(x),
        .upstream_ok = x->answered && x->resp_status >= 200 && x->resp_status < 300,
        .policy = x->pol,
        .error = x->last_error[0] ? x->last_error : NULL,
        .op = x->op, .reasoning_tokens = x->reasoning_tokens,
    };
    sy_router_emit_request(x->env.router, &e);
    sy_timer_free(x->timer);
    free(x->body_owned);
    sy_sse_free(&x->sse);
    sy_policy_unref(x->pol);
    sy_answer_buf_free(&x->resp);
    free(x->out);
    free(x->body);
    free(x->model);
    free(x->upstream_path);
    free(x->pin_id);
    free(x);
}

void ex_respond_error(sy_exec *x, int status, const char *type, const char *code,
                          const char *extra, const char *msg)
{
    char hdrs[HDRS_CAP], body[2048], esc[1600], clean[1400];
    ex_answer_headers(x, 0, status, hdrs, sizeof hdrs);
    if (extra) strncat(hdrs, extra, sizeof hdrs - strlen(hdrs) - 1);
    /* Messages quote upstream errors (curl names the host: maybe a ${VAR}). */
    snprintf(clean, sizeof clean, "%s", msg);
    sy_redact_str(x->pol->redactor, clean, sizeof clean);
    sy_json_escape(clean, strlen(clean), esc, sizeof esc);
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}\n",
                     esc, type, code);
    if (n < 0 || (size_t)n >= sizeof body) n = (int)strlen(body);
    x->sink->ops->respond(x->sink, status, "application/json", hdrs, body, (size_t)n);
}

/* Why a request for a stored response is never sent to another endpoint. */
#define PINNED_WHY \
    "a conversation's state exists only where it was created, so the request was not sent " \
    "elsewhere"

/* The request names a stored response (previous_response_id, or
 * /v1/responses/{id}): it exists only at the endpoint that created it, so
 * the request was not sent anywhere else. Say where, and why not there. */
static void respond_pinned(sy_exec *x, const char *why, const char *extra)
{
    char msg[1400];
    const sy_plan_step *s = &x->plan.steps[0];
    snprintf(msg, sizeof msg,
             "the response '%s' was created by %s/%s, which cannot answer now (%.900s); %s: "
             "retry later, or start a new conversation without previous_response_id",
             x->pin_id, x->plan.n_steps ? s->provider->name : "?",
             x->plan.n_steps ? s->endpoint->name : "?", why, PINNED_WHY);
    snprintf(x->last_error, sizeof x->last_error, "%.*s", (int)sizeof x->last_error - 1, msg);
    ex_respond_error(x, 503, "service_unavailable", "previous_response_unavailable", extra, msg);
}

void ex_respond_no_plan(sy_exec *x, const sy_engine_request *r)
{
    char msg[1024];
    if (r->pin_id) {
        snprintf(msg, sizeof msg,
                 "the response '%s' was created by %s/%s, which is no longer in the policy (or no "
                 "longer serves %s); %s",
                 r->pin_id, r->pin_provider, r->pin_endpoint, r->path, PINNED_WHY);
        ex_respond_error(x, 503, "service_unavailable", "previous_response_unavailable", NULL, msg);
    } else if (x->plan.n_unserved) {
        snprintf(msg, sizeof msg, "no provider on this request's route serves %s (provider '%s' "
                 "does not: its plugin does not declare it)", r->path,
                 x->plan.unserved[0]->name);
        ex_respond_error(x, 503, "service_unavailable", "no_route", NULL, msg);
    } else {
        snprintf(msg, sizeof msg, "no provider in the policy can serve model '%.*s'",
                 sy_utf8_prefix(x->model, 128), x->model);
        ex_respond_error(x, 503, "service_unavailable", "no_route", NULL, msg);
    }
}

void ex_fail_final(sy_exec *x)
{
    char msg[1400], extra[64] = "";
    uint64_t t = now(x);
    int64_t wait_s = x->soonest_usable > t ? (int64_t)((x->soonest_usable - t + 999999999ull) / 1000000000ull) : 0;
    if (x->soonest_usable) snprintf(extra, sizeof extra, "Retry-After: %" PRId64 "\r\n", wait_s > 0 ? wait_s : 1);
    if (x->pin_id) {
        if (x->deadline_hit)
            snprintf(msg, sizeof msg, "request_timeout ran out after %d attempt%s%s%s", x->attempts,
                     x->attempts == 1 ? "" : "s", x->why_len ? "; " : "", x->why);
        else
            snprintf(msg, sizeof msg, "%s", x->why_len ? x->why : x->last_error[0] ? x->last_error
                                                                : "not usable");
        respond_pinned(x, msg, x->soonest_usable ? extra : NULL);
    } else if (x->deadline_hit) {
        snprintf(msg, sizeof msg, "request_timeout (%" PRId64 " ms) ran out after %d attempt%s%s%s",
                 x->pol->server.request_timeout_ms, x->attempts, x->attempts == 1 ? "" : "s",
                 x->why_len ? "; " : "", x->why);
        snprintf(x->last_error, sizeof x->last_error, "%.*s", (int)sizeof x->last_error - 1, msg);
        ex_respond_error(x, 504, "upstream_error", "timeout", NULL, msg);
    } else if (x->back_status && x->soonest_usable) {
        /* Every route is rate-limited or unavailable for now, and said until
         * when: tell the client, with the status the upstream gave. */
        int st = x->back_status == 429 ? 429 : 503;
        snprintf(msg, sizeof msg, "every route is %s upstream; retry after %" PRId64 " s: %s",
                 st == 429 ? "rate-limited" : "unavailable", wait_s > 0 ? wait_s : 1, x->why);
        ex_respond_error(x, st, st == 429 ? "rate_limit_error" : "service_unavailable",
                      st == 429 ? "upstream_rate_limited" : "upstream_unavailable", extra, msg);
    } else if (x->attempts == 0) {
        snprintf(msg, sizeof msg, "no route could be tried for model '%.*s'%s%s",
                 sy_utf8_prefix(x->model, 128), x->model,
                 x->why_len ? ": " : "", x->why);
        ex_respond_error(x, 503, "service_unavailable", "no_usable_route", x->soonest_usable ? extra : NULL, msg);
    } else {
        snprintf(msg, sizeof msg, "every route failed after %d attempt%s: %s", x->attempts,
                 x->attempts == 1 ? "" : "s", x->why_len ? x->why : x->last_error);
        ex_respond_error(x, 502, "upstream_error", "upstream_failed", NULL, msg);
    }
    ex_free(x, 0, NULL);
}

/* Send a whole answer to the client and finish. */
void ex_answer_whole(sy_exec *x, int status, const char *body, size_t len)
{
    char hdrs[HDRS_CAP];
    x->answered = &x->plan.steps[x->step];
    ex_answer_headers(x, 1, status, hdrs, sizeof hdrs);
    /* A non-2xx body is the upstream's own error text, which may echo the
     * request's Authorization header: scrub the policy's secrets. 2xx answers
     * are written by the model, which never sees the key: not scanned. */
    char *clean = NULL;
    if (status < 200 || status > 299) {
        if (sy_redact_copy(x->pol->redactor, body, len, &clean, &len) < 0) {
            body = "{\"error\":{\"message\":\"[redacted]\",\"type\":\"upstream_error\"}}";
            len = strlen(body);
        } else if (clean) {
            body = clean;
        }
    }
    x->sink->ops->respond(x->sink, status, "application/json", hdrs, body, len);
    free(clean);
    x->client_ttfb = x->sink->ops->first_byte_ns(x->sink);
    ex_free(x, 0, NULL);
}

/* "16 MiB", "512 KiB", "1000 bytes": a limit as the docs write it. */
static const char *size_text(uint64_t n, char *buf, size_t cap)
{
    if (n >= (1u << 30) && n % (1u << 30) == 0) snprintf(buf, cap, "%llu GiB", (unsigned long long)(n >> 30));
    else if (n >= (1u << 20) && n % (1u << 20) == 0) snprintf(buf, cap, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= 1024 && n % 1024 == 0) snprintf(buf, cap, "%llu KiB", (unsigned long long)(n >> 10));
    else snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    return buf;
}

/* The answer was cut off on purpose: larger than server.max_response (502),
 * or no room left in server.max_response_memory (503). Neither is retried:
 * another endpoint or route would send an answer as large, and memory is
 * what is missing. Not the endpoint's fault either: the breaker is told
 * nothing. */
void ex_refuse_answer(sy_exec *x, int status)
{
    char lim[32], why[256];
    ex_emit_attempt(x, status, "too_large", 0);
    ex_attempt_release(x, SY_OUTCOME_NEUTRAL);
    sy_answer_buf_free(&x->resp);
    if (x->refused == SY_ABUF_TOO_LARGE) {
        snprintf(why, sizeof why, "the upstream answer exceeded server.max_response (%s)",
                 size_text(x->pol->server.max_response, lim, sizeof lim));
        snprintf(x->last_error, sizeof x->last_error, "response_too_large: %s", why);
        ex_respond_error(x, 502, "upstream_error", "response_too_large", NULL, why);
    } else {
        snprintf(why, sizeof why,
                 "the router holds as many upstream answers as server.max_response_memory (%s) "
                 "allows; try again shortly",
                 size_text(x->pol->server.max_response_memory, lim, sizeof lim));
        snprintf(x->last_error, sizeof x->last_error, "response_memory_full: %s", why);
        ex_respond_error(x, 503, "service_unavailable", "response_memory_full", "Retry-After: 1\r\n",
                      why);
    }
    ex_free(x, 0, NULL);
}
