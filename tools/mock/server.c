/*
 * server.c - worker loops and connections of mock-upstream.
 *
 * A connection is a small state machine: READ (parse and answer requests,
 * pipelined ones in order), WAIT (an injected latency timer runs), STREAM (SSE
 * chunks, or the Responses API's typed events, paced by a timer when
 * --chunk-delay-ms is set), PAD (a body_bytes
 * answer whose padding is made as the socket takes it), HANG (read and drop
 * input, never answer, close when the client does), CLOSE (flush, then LINGER:
 * shut down writing and drain input briefly so the client gets all we sent).
 * Timers are libevent events; nothing ever sleeps.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "answers.h"
#include "endpoints.h"
#include "http.h"
#include "responses.h"
#include "store.h"

#define IN_MAX (MOCK_MAX_HEAD + MOCK_MAX_BODY + 65536) /* unconsumed input we keep */
#define OUT_HIGH (1024 * 1024)  /* stop answering pipelined requests above this */
#define LINGER_MS 1000

typedef enum cstate { C_READ, C_WAIT, C_STREAM, C_PAD, C_HANG, C_CLOSE, C_LINGER } cstate;

#define PAD_PIECE (256 * 1024) /* padding made per write turn */

typedef struct mock_conn {
    mock_worker *w;
    struct mock_conn *prev, *next;
    int fd;
    struct event *rev, *wev, *tev;
    int wev_added;
    mock_buf in;  size_t in_off;
    mock_buf out; size_t out_off;
    mock_buf chunked;           /* decoded chunked request body */
    cstate state;
    int keep_alive;             /* of the request being answered */
    int http10;
    int sent_continue;
    /* The request being answered. */
    char endpoint[MOCK_NAME_MAX + 1];
    mock_job job;
    mock_decision dec;
    int chunk_i;                /* next content chunk */
    int events_sent;            /* SSE data events sent, for truncate_after */
    int usage_sent;
    mock_buf hx;                /* the endpoint's extra header lines for this answer */
    int te_chunked;             /* this whole answer goes out chunked (the chunked fault) */
    size_t pad_left;            /* body_bytes: padding still to send */
    mock_buf pad_tail;          /* then the rest of the body */
    mock_buf rtext;             /* a Responses answer's text (NUL-terminated); scratch for items */
} mock_conn;

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void conn_free(mock_conn *c)
{
    mock_worker *w = c->w;
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->tev);
    close(c->fd);
    mock_buf_free(&c->in);
    mock_buf_free(&c->out);
    mock_buf_free(&c->chunked);
    mock_job_free(&c->job);
    mock_buf_free(&c->hx);
    mock_buf_free(&c->pad_tail);
    mock_buf_free(&c->rtext);
    free(c);
}

static void timer_in(mock_conn *c, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->tev, &tv);
}

static void pad_step(mock_conn *c);

/* Write what is queued. Returns -1 when the connection is gone. */
static int conn_flush(mock_conn *c)
{
again:
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->wev_added) {
                event_add(c->wev, NULL);
                c->wev_added = 1;
            }
            return 0;
        }
        conn_free(c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->state == C_PAD) {
        pad_step(c); /* the next piece of a padded answer */
        goto again;
    }
    if (c->wev_added) {
        event_del(c->wev);
        c->wev_added = 0;
    }
    if (c->state == C_CLOSE) {
        /* Lingering close: a reset would destroy what the client has not read yet. */
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        timer_in(c, LINGER_MS);
    }
    return 0;
}

static void after_answer(mock_conn *c)
{
    c->state = c->keep_alive ? C_READ : C_CLOSE;
    c->te_chunked = 0;
}

/* Body bytes of a whole answer: as one chunk when it goes out chunked. */
static void put_body(mock_conn *c, const char *p, size_t n)
{
    if (!n) return;
    if (c->te_chunked) mock_buf_printf(&c->out, "%zx\r\n", n);
    mock_buf_append(&c->out, p, n);
    if (c->te_chunked) mock_buf_append(&c->out, "\r\n", 2);
}

/* The end of a whole answer's body (the last chunk), and on to the next request. */
static void end_body(mock_conn *c)
{
    if (c->te_chunked) mock_buf_append(&c->out, "0\r\n\r\n", 5);
    after_answer(c);
}

/* The status line and headers of a whole response: extra header lines, then
 * the endpoint's own (the headers and header_bytes faults, used up here). */
static void put_head(mock_conn *c, int status, const char *ctype, size_t len, const char *extra)
{
    /* Appends rather than printf: this is the hot path of the benchmarks. */
    mock_buf *o = &c->out;
    mock_buf_puts(o, "HTTP/1.1 ");
    mock_buf_u64(o, (unsigned)status);
    mock_buf_puts(o, " ");
    mock_buf_puts(o, reason(status));
    mock_buf_puts(o, "\r\nContent-Type: ");
    mock_buf_puts(o, ctype);
    if (c->te_chunked) {
        mock_buf_puts(o, "\r\nTransfer-Encoding: chunked\r\n");
    } else {
        mock_buf_puts(o, "\r\nContent-Length: ");
        mock_buf_u64(o, len);
        mock_buf_puts(o, "\r\n");
    }
    mock_buf_puts(o, extra);
    mock_buf_append(o, c->hx.data, c->hx.len);
    c->hx.len = 0;
    mock_buf_puts(o, !c->keep_alive ? "Connection: close\r\n\r\n"
                     : c->http10 ? "Connection: keep-alive\r\n\r\n" : "\r\n");
}

/* Queue a whole response. extra is more header lines (each ending CRLF) or "". */
static void respond(mock_conn *c, int status, const char *ctype, const char *body, size_t len,
                    const char *extra)
{
    put_head(c, status, ctype, len, extra);
    if (c->te_chunked) {
        put_body(c, body, len);
        end_body(c);
        return;
    }
    mock_buf_append(&c->out, body, len);
    after_answer(c);
}

/* The headers and header_bytes faults, for the answer being made. */
static void endpoint_headers(mock_conn *c)
{
    c->hx.len = 0;
    mock_buf_puts(&c->hx, c->dec.headers);
    if (c->dec.header_bytes > 0) {
        size_t n = (size_t)c->dec.header_bytes;
        mock_buf_puts(&c->hx, "x-mock-padding: ");
        mock_buf_reserve(&c->hx, n);
        memset(c->hx.data + c->hx.len, 'p', n);
        c->hx.len += n;
        mock_buf_puts(&c->hx, "\r\n");
    }
}

/* Padding of a body_bytes answer, a piece at a time, then the body's end. */
static void pad_step(mock_conn *c)
{
    size_t n = c->pad_left < PAD_PIECE ? c->pad_left : PAD_PIECE;
    if (c->te_chunked) mock_buf_printf(&c->out, "%zx\r\n", n);
    mock_buf_reserve(&c->out, n);
    memset(c->out.data + c->out.len, 'x', n);
    c->out.len += n;
    if (c->te_chunked) mock_buf_append(&c->out, "\r\n", 2);
    c->pad_left -= n;
    if (c->pad_left) return;
    put_body(c, c->pad_tail.data, c->pad_tail.len);
    end_body(c);
}

static void respond_json(mock_conn *c, int status, const mock_buf *body, const char *extra);

/* body_bytes: the answer s made that long by padding its content string
 * (with 'x'), sent as the socket takes it so a huge answer costs no memory. */
static void respond_padded(mock_conn *c, const mock_buf *s, const char *extra)
{
    static const char content_end[] = "mock-upstream.";
    const char *hit = memmem(s->data, s->len, content_end, sizeof(content_end) - 1);
    size_t total = (size_t)c->dec.body_bytes;
    if (!hit || total <= s->len) {
        respond_json(c, 200, s, extra);
        return;
    }
    size_t cut = (size_t)(hit - s->data) + sizeof(content_end) - 1;
    put_head(c, 200, "application/json", total, extra);
    put_body(c, s->data, cut);
    c->pad_tail.len = 0;
    mock_buf_append(&c->pad_tail, s->data + cut, s->len - cut);
    c->pad_left = total - s->len;
    c->state = C_PAD;
}

static void respond_json(mock_conn *c, int status, const mock_buf *body, const char *extra)
{
    respond(c, status, "application/json", body->data, body->len, extra);
}

static void respond_error(mock_conn *c, int status, const char *msg, const char *extra)
{
    mock_buf *s = &c->w->scratch;
    s->len = 0;
    mock_error_body(status, msg, s);
    respond_json(c, status, s, extra);
}

/* One SSE event "[event: TYPE\n]data: DATA\n\n" (lines ending "\r" with
 * sse_cr), framed as one HTTP chunk unless HTTP/1.0. type NULL: no event line. */
static void sse_typed(mock_conn *c, const char *type, const char *data, size_t len)
{
    const char *eol = c->dec.sse_cr ? "\r" : "\n";
    size_t tlen = type ? strlen(type) : 0;
    if (!c->http10) mock_buf_printf(&c->out, "%zx\r\n", len + 8 + (type ? tlen + 8 : 0));
    if (type) {
        mock_buf_append(&c->out, "event: ", 7);
        mock_buf_append(&c->out, type, tlen);
        mock_buf_append(&c->out, eol, 1);
    }
    mock_buf_append(&c->out, "data: ", 6);
    mock_buf_append(&c->out, data, len);
    mock_buf_append(&c->out, eol, 1);
    mock_buf_append(&c->out, eol, 1);
    if (!c->http10) mock_buf_append(&c->out, "\r\n", 2);
}

static void sse_event(mock_conn *c, const char *data, size_t len)
{
    sse_typed(c, NULL, data, len);
}

static void sse_start(mock_conn *c)
{
    if (c->http10) c->keep_alive = 0;
    mock_buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             "Cache-Control: no-cache\r\nx-mock-endpoint: %s\r\n",
                    c->endpoint);
    mock_buf_append(&c->out, c->hx.data, c->hx.len);
    c->hx.len = 0;
    mock_buf_puts(&c->out, c->http10 ? "Connection: close\r\n\r\n" : "Transfer-Encoding: chunked\r\n\r\n");
}

/* The end of a stream's body (the last chunk), and on to the next request. */
static void sse_end(mock_conn *c)
{
    if (!c->http10) mock_buf_append(&c->out, "0\r\n\r\n", 5);
    after_answer(c);
}

static void sse_done(mock_conn *c)
{
    static const char done[] = "[DONE]";
    sse_event(c, done, sizeof(done) - 1);
    sse_end(c);
}

/* truncate_after reached: close the connection with no [DONE] and no last chunk. */
static int stream_cut(mock_conn *c)
{
    if (c->dec.truncate_after < 0 || c->events_sent < c->dec.truncate_after) return 0;
    c->keep_alive = 0;
    c->state = C_CLOSE;
    return 1;
}

/* A Responses stream: its typed events until a pause (between deltas), the
 * end (no [DONE]: response.completed is the last) or a cut. A cut never
 * sends response.completed, however late truncate_after is. */
static void response_stream_step(mock_conn *c)
{
    const int n = c->w->cfg->chunks, total = mock_response_event_count(n);
    mock_buf *s = &c->w->scratch;
    for (;;) {
        if (stream_cut(c)) return;
        if (c->chunk_i == total - 1 && c->dec.truncate_after >= 0) {
            c->keep_alive = 0;
            c->state = C_CLOSE;
            return;
        }
        if (c->chunk_i >= total) {
            sse_end(c);
            return;
        }
        s->len = 0;
        const char *type = mock_response_event(&c->job, c->chunk_i, n, c->rtext.data, s);
        sse_typed(c, type, s->data, s->len);
        int paces = mock_response_event_paces(c->chunk_i, n);
        c->chunk_i++;
        c->events_sent++;
        if (paces && c->w->cfg->chunk_delay_ms > 0 && !stream_cut(c)) {
            timer_in(c, c->w->cfg->chunk_delay_ms);
            return;
        }
    }
}

/* Send stream events until a pause (chunk delay), the end or a cut. */
static void stream_step(mock_conn *c)
{
    const int n = c->w->cfg->chunks;
    mock_buf *s = &c->w->scratch;
    if (c->job.kind == MOCK_RESPONSES) {
        response_stream_step(c);
        return;
    }
    for (;;) {
        if (stream_cut(c)) return;
        if (c->chunk_i < n) {
            s->len = 0;
            mock_stream_chunk(&c->job, c->chunk_i, n, s);
            sse_event(c, s->data, s->len);
            c->chunk_i++;
            c->events_sent++;
            if (c->chunk_i < n && c->w->cfg->chunk_delay_ms > 0 && !stream_cut(c)) {
                timer_in(c, c->w->cfg->chunk_delay_ms);
                return;
            }
            continue;
        }
        if (c->job.include_usage && !c->usage_sent) {
            s->len = 0;
            mock_stream_usage(&c->job, s);
            sse_event(c, s->data, s->len);
            c->usage_sent = 1;
            c->events_sent++;
            continue;
        }
        if (c->dec.truncate_after >= 0) {
            /* Asked to cut after more events than there are: still no [DONE]. */
            c->keep_alive = 0;
            c->state = C_CLOSE;
            return;
        }
        sse_done(c);
        return;
    }
}

static void emit_malformed(mock_conn *c)
{
    static const char bad[] = "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"choices\":[{\"mess";
    if (c->job.stream && !c->job.bad) {
        sse_start(c);
        if (c->job.kind == MOCK_RESPONSES) {
            /* One broken typed event, and the stream ends with no terminal event. */
            sse_typed(c, "response.created", bad, sizeof(bad) - 1);
            sse_end(c);
            return;
        }
        sse_event(c, bad, sizeof(bad) - 1);
        sse_done(c);
        return;
    }
    respond(c, 200, "application/json", bad, sizeof(bad) - 1, "");
}

/* Count a miss of the endpoint's store and answer its error. */
static void respond_store_miss(mock_conn *c, int status, const char *msg, const char *param,
                               const char *code, const char *extra)
{
    mock_buf *s = &c->w->scratch;
    s->len = 0;
    mock_error_envelope(msg, "invalid_request_error", param, code, s);
    mock_endpoints_note_not_found(c->endpoint, strlen(c->endpoint));
    respond_json(c, status, s, extra);
}

/* GET, DELETE, GET .../input_items or POST .../cancel of a response this
 * endpoint stored. */
static void emit_item(mock_conn *c, const char *extra)
{
    const mock_rjob *r = &c->job.r;
    const size_t ep_len = strlen(c->endpoint), id_len = strlen(r->item_id);
    mock_buf *s = &c->w->scratch;
    int found = 0;
    s->len = 0;
    switch (r->item_op) {
    case MOCK_ITEM_GET:
    case MOCK_ITEM_CANCEL: /* every response here is complete: nothing to cancel */
        found = mock_store_get(c->endpoint, ep_len, r->item_id, id_len, MOCK_STORE_OBJECT, s);
        break;
    case MOCK_ITEM_INPUTS:
        c->rtext.len = 0;
        found = mock_store_get(c->endpoint, ep_len, r->item_id, id_len, MOCK_STORE_INPUT_ITEMS,
                               &c->rtext);
        if (found) mock_response_items_list(&c->rtext, s);
        break;
    case MOCK_ITEM_DELETE:
        found = mock_store_delete(c->endpoint, ep_len, r->item_id, id_len);
        if (found) mock_response_deleted(r->item_id, s);
        break;
    }
    if (!found) {
        char msg[MOCK_ID_MAX + 64];
        snprintf(msg, sizeof(msg), "Response with id '%s' not found.", r->item_id);
        respond_store_miss(c, 404, msg, NULL, NULL, extra);
        return;
    }
    respond_json(c, 200, s, extra);
}

/* Before a Responses answer: refuse a previous_response_id this endpoint does
 * not hold, make the ids and the text, and store the response (unless
 * store: false). Returns -1 when the request was answered with the 400. */
static int response_begin(mock_conn *c, const char *extra)
{
    mock_rjob *r = &c->job.r;
    const size_t ep_len = strlen(c->endpoint);
    if (r->prev.len &&
        !mock_store_get(c->endpoint, ep_len, r->prev.data, r->prev.len, MOCK_STORE_OBJECT, NULL)) {
        char msg[320];
        snprintf(msg, sizeof(msg), "Previous response with id '%.256s' not found.", r->prev.data);
        respond_store_miss(c, 400, msg, "previous_response_id", "previous_response_not_found",
                           extra);
        return -1;
    }
    mock_responses_new_ids(&c->job);
    c->rtext.len = 0;
    mock_response_text(c->job.stream ? c->w->cfg->chunks : -1, &c->rtext);
    mock_buf_append(&c->rtext, "", 1);
    c->rtext.len--;
    if (r->store) {
        mock_buf *s = &c->w->scratch;
        s->len = 0;
        mock_response_object(&c->job, 1, c->rtext.data, s);
        mock_store_put(c->endpoint, ep_len, r->id, s, &r->input_items);
    }
    return 0;
}

/* Answer the current request according to its decision (latency already waited). */
static void emit(mock_conn *c)
{
    endpoint_headers(c);
    c->te_chunked = c->dec.chunked && !c->http10;
    mock_buf *s = &c->w->scratch;
    char extra[768], msg[640];
    size_t n = strlen(c->endpoint);
    memcpy(extra, "x-mock-endpoint: ", 17);
    memcpy(extra + 17, c->endpoint, n);
    memcpy(extra + 17 + n, "\r\n", 3);
    n += 19;
    switch (c->dec.action) {
    case MOCK_ACT_FAIL:
        if (c->dec.retry_after[0])
            n += (size_t)snprintf(extra + n, sizeof(extra) - n, "Retry-After: %s\r\n", c->dec.retry_after);
        snprintf(msg, sizeof(msg), "%s",
                 c->dec.status == 429 ? "Rate limit reached (injected by mock-upstream)"
                                      : "Injected failure (mock-upstream)");
        if (c->dec.echo_auth[0]) {
            /* What careless upstreams do: quote the credentials they were sent. */
            snprintf(extra + n, sizeof(extra) - n, "x-echo-authorization: %s\r\n", c->dec.echo_auth);
            snprintf(msg, sizeof(msg), "Injected failure (mock-upstream); you sent Authorization: %s",
                     c->dec.echo_auth);
        }
        respond_error(c, c->dec.status, msg, extra);
        return;
    case MOCK_ACT_MALFORMED:
        emit_malformed(c);
        return;
    case MOCK_ACT_HANG:
        c->state = C_HANG;
        return;
    case MOCK_ACT_ANSWER:
        break;
    }
    if (c->job.bad) {
        respond_error(c, 400, c->job.errmsg, extra);
        return;
    }
    if (c->job.kind == MOCK_RESPONSE_ITEM) {
        emit_item(c, extra);
        return;
    }
    if (c->job.kind == MOCK_RESPONSES && response_begin(c, extra) < 0) return;
    if (c->job.stream) {
        c->state = C_STREAM;
        c->chunk_i = c->events_sent = c->usage_sent = 0;
        sse_start(c);
        stream_step(c);
        return;
    }
    s->len = 0;
    mock_answer_body(&c->job, s);
    if (c->dec.truncate_after >= 0) {
        /* A non-stream answer cut halfway through its body. */
        c->keep_alive = 0;
        mock_buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n%s\r\n", s->len, extra);
        mock_buf_append(&c->out, s->data, s->len / 2);
        c->state = C_CLOSE;
        return;
    }
    if (c->dec.body_bytes > 0 && c->job.kind != MOCK_EMBEDDINGS) {
        respond_padded(c, s, extra);
        return;
    }
    respond_json(c, 200, s, extra);
}

static int path_is(const mock_req *r, const char *lit)
{
    return strlen(lit) == r->path_len && memcmp(r->path, lit, r->path_len) == 0;
}

static int method_is(const mock_req *r, const char *m)
{
    return strlen(m) == r->method_len && memcmp(r->method, m, r->method_len) == 0;
}

static void handle_admin(mock_conn *c, const mock_req *r)
{
    mock_buf *s = &c->w->scratch;
    s->len = 0;
    if (path_is(r, "/_stats")) {
        if (!method_is(r, "GET")) goto not_allowed;
        mock_endpoints_stats(s);
        respond_json(c, 200, s, "");
        return;
    }
    if (path_is(r, "/_stats/reset")) {
        if (!method_is(r, "POST")) goto not_allowed;
        mock_endpoints_reset_stats();
        mock_buf_puts(s, "{\"ok\":true}");
        respond_json(c, 200, s, "");
        return;
    }
    /* /_control/NAME */
    const char *name = r->path + 10;
    size_t len = r->path_len - 10;
    if (!mock_endpoint_name_ok(name, len)) {
        respond_error(c, 400, "bad endpoint name in /_control/NAME", "");
        return;
    }
    if (method_is(r, "GET")) {
        mock_endpoints_show(name, len, s);
        respond_json(c, 200, s, "");
        return;
    }
    if (!method_is(r, "POST")) goto not_allowed;
    char err[256];
    if (mock_endpoints_control(name, len, r->body, r->body_len, s, err, sizeof(err)) < 0) {
        respond_error(c, 400, err, "");
        return;
    }
    respond_json(c, 200, s, "");
    return;
not_allowed:
    respond_error(c, 405, "method not allowed", "");
}

static void handle(mock_conn *c, const mock_req *r)
{
    c->hx.len = 0; /* nothing of the last answer's faults leaks into this one */
    c->te_chunked = 0;
    if (path_is(r, "/_stats") || path_is(r, "/_stats/reset") ||
        (r->path_len > 10 && !memcmp(r->path, "/_control/", 10))) {
        handle_admin(c, r);
        return;
    }
    const char *v1 = memmem(r->path, r->path_len, "/v1/", 4);
    if (!v1) {
        respond_error(c, 404, "unknown path (mock-upstream serves [/ENDPOINT]/v1/...)", "");
        return;
    }
    const char *name = "default";
    size_t name_len = 7;
    if (v1 != r->path) {
        name = r->path + 1;
        name_len = (size_t)(v1 - name);
        if (!mock_endpoint_name_ok(name, name_len)) {
            respond_error(c, 404, "bad endpoint name before /v1/", "");
            return;
        }
    }
    const char *rest = v1 + 4;
    size_t rest_len = r->path_len - (size_t)(rest - r->path);
    mock_kind kind;
    const char *want, *allow = NULL;
    int responses = -1;
    if (mock_http_ieq(rest, rest_len, "chat/completions")) kind = MOCK_CHAT, want = "POST";
    else if (mock_http_ieq(rest, rest_len, "completions")) kind = MOCK_COMPLETIONS, want = "POST";
    else if (mock_http_ieq(rest, rest_len, "embeddings")) kind = MOCK_EMBEDDINGS, want = "POST";
    else if (mock_http_ieq(rest, rest_len, "models")) kind = MOCK_MODELS, want = "GET";
    else if ((responses = mock_responses_path(rest, rest_len, &c->job)) == 0)
        kind = MOCK_RESPONSES, want = "POST";
    else if (responses == 1) {
        kind = MOCK_RESPONSE_ITEM;
        want = "GET";
        allow = "Allow: GET\r\n";
        if (c->job.r.item_op == MOCK_ITEM_CANCEL) want = "POST", allow = "Allow: POST\r\n";
        if (c->job.r.item_op == MOCK_ITEM_GET) {
            allow = "Allow: GET, DELETE\r\n";
            if (method_is(r, "DELETE")) {
                want = "DELETE";
                c->job.r.item_op = MOCK_ITEM_DELETE;
            }
        }
    } else {
        respond_error(c, 404, "unknown path (mock-upstream serves chat/completions, completions, "
                              "embeddings, models, responses, responses/ID, "
                              "responses/ID/input_items, responses/ID/cancel)", "");
        return;
    }
    if (!method_is(r, want)) {
        if (!allow) allow = !strcmp(want, "GET") ? "Allow: GET\r\n" : "Allow: POST\r\n";
        respond_error(c, 405, "method not allowed", allow);
        return;
    }
    memcpy(c->endpoint, name, name_len);
    c->endpoint[name_len] = '\0';
    mock_job_parse(&c->job, kind, r->body, r->body_len);
    mock_seen seen = {
        .path = r->path, .path_len = r->path_len,
        .model = c->job.has_model ? c->job.model.data : NULL, .model_len = c->job.model.len,
        .auth = r->auth, .auth_len = r->auth_len,
        .headers = r->headers, .headers_len = r->headers_len,
    };
    if (mock_endpoints_admit(name, name_len, &seen, &c->w->rng, &c->dec) < 0) {
        respond_error(c, 503, "too many endpoints in mock-upstream", "");
        return;
    }
    if (c->dec.action == MOCK_ACT_HANG) {
        c->state = C_HANG;
        return;
    }
    if (c->dec.delay_ms > 0) {
        c->state = C_WAIT;
        timer_in(c, c->dec.delay_ms);
        return;
    }
    emit(c);
}

/* Answer what is buffered, then write. Returns -1 when the connection is gone. */
static int conn_process(mock_conn *c)
{
    while (c->state == C_READ && c->in.len > c->in_off && c->out.len - c->out_off < OUT_HIGH) {
        mock_req r;
        const char *why;
        int rc = mock_http_parse(c->in.data + c->in_off, c->in.len - c->in_off, &r, &c->chunked, &why);
        if (rc == 0) {
            if (r.head_done && r.expect_continue && !c->sent_continue) {
                mock_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->sent_continue = 1;
            }
            break;
        }
        if (rc < 0) {
            c->keep_alive = 0;
            c->http10 = 0;
            respond_error(c, -rc, why, "");
            c->in_off = c->in.len;
            break;
        }
        c->sent_continue = 0;
        c->keep_alive = r.keep_alive;
        c->http10 = r.minor_version == 0;
        handle(c, &r);
        c->in_off += (size_t)rc;
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    return conn_flush(c);
}

/* Read and drop input; returns -1 when the connection is gone (EOF or error). */
static int drain(mock_conn *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t n = read(c->fd, tmp, sizeof(tmp));
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        conn_free(c);
        return -1;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    mock_conn *c = arg;
    if (c->state == C_HANG || c->state == C_LINGER) {
        drain(c);
        return;
    }
    mock_buf_reserve(&c->in, 16384);
    ssize_t n = read(fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        conn_free(c); /* the client left: this also cancels a wait or a stream */
        return;
    }
    c->in.len += (size_t)n;
    if (c->in.len - c->in_off > IN_MAX) {
        conn_free(c);
        return;
    }
    if (c->state == C_READ) conn_process(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    mock_conn *c = arg;
    if (conn_flush(c) < 0) return;
    if (c->out.len == 0 && c->state == C_READ && c->in.len > c->in_off) conn_process(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    mock_conn *c = arg;
    switch (c->state) {
    case C_WAIT: emit(c); break;
    case C_STREAM: stream_step(c); break;
    case C_LINGER: conn_free(c); return;
    default: break;
    }
    if (c->state == C_READ) conn_process(c);
    else conn_flush(c);
}

static void conn_new(mock_worker *w, int fd)
{
    mock_conn *c = calloc(1, sizeof(*c));
    if (!c) mock_oom();
    c->w = w;
    c->fd = fd;
    c->state = C_READ;
    c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->tev = evtimer_new(w->base, on_timer, c);
    if (!c->rev || !c->wev || !c->tev) mock_oom();
    event_add(c->rev, NULL);
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    mock_worker *w = arg;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "mock-upstream: accept: %s\n", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_new(w, fd);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    mock_worker *w = arg;
    char b[16];
    while (read(fd, b, sizeof(b)) > 0) {}
    event_base_loopbreak(w->base);
}

int mock_worker_init(mock_worker *w, const mock_config *cfg, int listen_fd, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->listen_fd = listen_fd;
    w->wake_fd[0] = w->wake_fd[1] = -1;
    w->rng = seed ? seed : 1;
    w->base = event_base_new();
    if (!w->base) return -1;
    if (pipe2(w->wake_fd, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
    w->listen_ev = event_new(w->base, listen_fd, EV_READ | EV_PERSIST, on_accept, w);
    w->wake_ev = event_new(w->base, w->wake_fd[0], EV_READ | EV_PERSIST, on_wake, w);
    if (!w->listen_ev || !w->wake_ev) return -1;
    event_add(w->listen_ev, NULL);
    event_add(w->wake_ev, NULL);
    return 0;
}

void *mock_worker_run(void *arg)
{
    mock_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

void mock_worker_stop(mock_worker *w)
{
    if (w->wake_fd[1] >= 0) {
        ssize_t n = write(w->wake_fd[1], "x", 1);
        (void)n;
    }
}

void mock_worker_free(mock_worker *w)
{
    while (w->conns) conn_free(w->conns);
    if (w->listen_ev) event_free(w->listen_ev);
    if (w->wake_ev) event_free(w->wake_ev);
    if (w->base) event_base_free(w->base);
    if (w->listen_fd >= 0) close(w->listen_fd);
    if (w->wake_fd[0] >= 0) close(w->wake_fd[0]);
    if (w->wake_fd[1] >= 0) close(w->wake_fd[1]);
    mock_buf_free(&w->scratch);
    w->base = NULL;
}
