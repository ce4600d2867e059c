/* engine_stream.c - a committed stream (see engine_impl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "json_escape.h"
#include "redact.h"

/* -------------------------------------------------------- streaming */

/* What one upstream read produced is gathered here and handed to the sink
 * in one write (the front then writes once per loop turn, whatever number
 * of reads the turn brought). Small at first: most reads carry one event. */
static int out_append(sy_exec *x, const char *p, size_t n)
{
    if (x->out_len + n > x->out_cap) {
        size_t cap = x->out_cap ? x->out_cap : 1024;
        while (cap < x->out_len + n) cap *= 2;
        char *nb = realloc(x->out, cap);
        if (!nb) return -1;
        x->out = nb;
        x->out_cap = cap;
    }
    memcpy(x->out + x->out_len, p, n);
    x->out_len += n;
    return 0;
}

void ex_out_flush(sy_exec *x)
{
    if (!x->out_len) return;
    x->sink->ops->stream_write(x->sink, x->out, x->out_len);
    x->out_len = 0;
}

void ex_stream_commit(sy_exec *x, int status)
{
    char hdrs[HDRS_CAP];
    x->answered = &x->plan.steps[x->step];
    x->committed = 1;
    ex_answer_headers(x, 1, status, hdrs, sizeof hdrs);
    x->sink->ops->stream_begin(x->sink, status, "text/event-stream", hdrs);
    x->client_ttfb = x->sink->ops->first_byte_ns(x->sink);
    x->last_data = now(x);
    int64_t idle = x->pol->server.stream_idle_timeout_ms;
    ex_timer_set(x, T_IDLE, idle > 0 ? idle : 60000);
}

static int on_sse_event(void *ctx, const char *raw, size_t raw_len, const char *data, size_t dlen)
{
    sy_exec *x = ctx;
    const sy_plugin *pl = x->answered->provider->plugin;
    if (data && pl->stream_event) {
        sy_stream_result r;
        memset(&r, 0, sizeof r);
        r.usage.input_tokens = r.usage.output_tokens = -1;
        r.reasoning_tokens = -1;
        pl->stream_event(x->answered->provider->instance, &x->preq, data, dlen, &r);
        if (r.done) x->saw_done = 1;
        if (r.error) x->stream_error = 1;
        if (r.usage.input_tokens >= 0) x->usage.input_tokens = r.usage.input_tokens;
        if (r.usage.output_tokens >= 0) x->usage.output_tokens = r.usage.output_tokens;
        if (r.reasoning_tokens >= 0) x->reasoning_tokens = r.reasoning_tokens;
        if (r.response_id && r.response_id_len)
            ex_remember_response(x, r.response_id, r.response_id_len);
        if (r.drop) { /* the usage chunk the client did not ask for */
            free(r.data);
            return 0;
        }
        if (r.data) {
            int rc = out_append(x, "data: ", 6) || out_append(x, r.data, r.data_len) ||
                     out_append(x, "\n\n", 2);
            free(r.data);
            return rc;
        }
    } else if (data && dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
        x->saw_done = 1;
    }
    if (data) x->sse_events++;
    return out_append(x, raw, raw_len);
}

/* End a committed stream: clean when [DONE] came, else an error event. */
void ex_stream_finish(sy_exec *x, const char *why, const char *code, const char *cut_reason)
{
    ex_timer_clear(x);
    ex_out_flush(x);
    int cut = !x->saw_done;
    if (cut) {
        char ev[1024], esc[600], clean[400];
        int shutdown = !strcmp(cut_reason, "shutdown");
        snprintf(clean, sizeof clean, "%s", why);
        sy_redact_str(x->pol->redactor, clean, sizeof clean);
        sy_json_escape(clean, strlen(clean), esc, sizeof esc);
        const char *lead = shutdown ? "" : "the stream ended before it was complete: ";
        /* The Responses API's own error event (typed, numbered in sequence
         * after the events the client got); chat's error chunk otherwise. */
        int n = x->op == SY_OP_RESPONSES
                    ? snprintf(ev, sizeof ev,
                               "event: error\ndata: {\"type\":\"error\",\"code\":\"%s\",\"message\":"
                               "\"%s%s\",\"param\":null,\"sequence_number\":%u}\n\n",
                               code, lead, esc, x->sse_events)
                    : snprintf(ev, sizeof ev,
                               "data: {\"error\":{\"message\":\"%s%s\",\"type\":\"%s\",\"param\":null,"
                               "\"code\":\"%s\"}}\n\n",
                               lead, esc, shutdown ? "service_unavailable" : "upstream_error", code);
        if (n > 0) x->sink->ops->stream_write(x->sink, ev, (size_t)n < sizeof ev ? (size_t)n : sizeof ev - 1);
        snprintf(x->last_error, sizeof x->last_error, "%s: %s",
                 shutdown ? "cut by shutdown" : "stream cut", clean);
    }
    x->sink->ops->stream_end(x->sink);
    ex_free(x, 0, cut ? cut_reason : NULL);
}

int ex_stream_feed(sy_exec *x, const char *p, size_t n)
{
    if (sy_sse_feed(&x->sse, p, n, on_sse_event, x) < 0) return -1;
    ex_out_flush(x);
    return 0;
}
