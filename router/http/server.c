/* server.c - listeners, worker threads and client connections (server.h, conn.h). */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "json_escape.h"
#include "metrics.h"
#include "sink.h"
#include "strbuf.h"

/* Out of descriptors (or kernel memory), a listener stays readable while
 * accept() fails: instead of spinning, stop accepting on it for this long
 * (as nginx does), and say so in the log at most once per interval. */
#define ACCEPT_PAUSE_MS 250
#define ACCEPT_LOG_INTERVAL_NS (5ull * 1000000000ull)

/* ------------------------------------------------------------ types */

enum conn_state {
    C_IDLE,     /* waiting for the first byte of a request */
    C_HEAD,     /* reading a request head */
    C_BODY,     /* reading its body */
    C_HANDLING, /* a handler owns the request */
    C_CLOSING,  /* close once the output is written */
};

/* The connection as the engine's sink (sink.h). */
typedef struct conn_sink {
    sy_sink base;
    sy_conn *c;
} conn_sink;

struct sy_conn {
    sy_worker *w;
    conn_sink sink;
    int fd;
    struct event ev_read, ev_write, ev_timer, ev_defer, ev_flush;
    int write_armed;
    int flush_queued; /* ev_flush is active: the output goes out at the end of this loop turn */
    int read_armed;
    char *in;
    size_t in_len, in_cap;
    struct evbuffer *out;
    enum conn_state state;
    int dead;      /* close at the next deferred run */
    int lingering; /* answer sent and write side shut: draining input before close */
    int peer_eof;  /* the client shut its sending side: answer what was read, then close */
    /* the request being read or handled */
    sy_http_req req;
    size_t req_bytes;  /* head + encoded body: what to drop once answered */
    size_t body_len;   /* decoded body bytes at in + req.head_len */
    size_t dec_in;     /* chunked: next undecoded input offset */
    sy_chunked_decoder dec;
    int keep_alive;
    int http10;
    int streaming;     /* an answer with unknown length is in progress */
    int chunked_out;
    int status;
    size_t head_seen;  /* bytes already parsed without finding a whole head */
    uint64_t t_req_start, t_first_byte;
    /* asynchronous handler */
    int pending;
    void (*abort_fn)(void *);
    void (*drained_fn)(void *);
    void (*shutdown_fn)(void *); /* sy_conn_set_shutdown */
    void *pctx;
    sy_conn *prev, *next;
};

struct sy_worker {
    sy_server *s;
    int id;
    pthread_t thread;
    struct event_base *base;
    int lfd;
    struct event *ev_accept;
    struct event *ev_accept_resume; /* re-enables ev_accept after a pause */
    uint64_t refused_unlogged;      /* accepts refused since the last log line */
    uint64_t refused_logged_at;     /* monotonic ns of that line, 0 = never */
    int efd;
    struct event *ev_ctl;
    struct event *ev_grace;
    void *hstate; /* the handler's state for this worker (sy_handler.worker_init) */
    sy_conn *conns;
    size_t n_conns;
    int draining;
};

struct sy_server {
    sy_server_opts o;
    char addr[96];
    sy_worker *w;
    int nw;
    struct event_base *main_base;
    void (*reload_fn)(void *);
    void *reload_ctx;
    void (*tick_fn)(void *);
    void *tick_ctx;
    void (*main_start)(void *, struct event_base *);
    void (*main_stop)(void *);
    void *main_ctx;
    int64_t tick_ms;
    _Atomic size_t max_head;
    _Atomic uint64_t max_body;
    _Atomic int64_t idle_ms, header_ms, grace_ms;
};

static atomic_int g_draining;
int sy_server_draining(void) { return atomic_load_explicit(&g_draining, memory_order_relaxed); }

struct event_base *sy_worker_base(sy_worker *w) { return w->base; }
void *sy_worker_state(sy_worker *w) { return w->hstate; }
int sy_worker_id(const sy_worker *w) { return w->id; }
int sy_worker_draining(const sy_worker *w) { return w->draining; }
sy_worker *sy_conn_worker(const sy_conn *c) { return c->w; }
uint64_t sy_conn_request_start(const sy_conn *c) { return c->t_req_start; }
uint64_t sy_conn_first_byte(const sy_conn *c) { return c->t_first_byte; }
int sy_conn_status(const sy_conn *c) { return c->status; }
size_t sy_conn_out_pending(const sy_conn *c) { return evbuffer_get_length(c->out); }

static void conn_process(sy_conn *c);
static void conn_try_write(sy_conn *c);
static void conn_write_soon(sy_conn *c);

/* ------------------------------------------------------- conn basics */

static void tv_from_ms(struct timeval *tv, int64_t ms)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

static void conn_timer(sy_conn *c, int64_t ms)
{
    if (ms <= 0) {
        event_del(&c->ev_timer);
        return;
    }
    struct timeval tv;
    tv_from_ms(&tv, ms);
    event_add(&c->ev_timer, &tv);
}

static void conn_close(sy_conn *c)
{
    sy_worker *w = c->w;
    if (c->pending && c->abort_fn) {
        c->pending = 0;
        c->abort_fn(c->pctx);
    }
    event_del(&c->ev_read);
    event_del(&c->ev_write);
    event_del(&c->ev_timer);
    event_del(&c->ev_defer);
    event_del(&c->ev_flush);
    close(c->fd);
    evbuffer_free(c->out);
    free(c->in);
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->n_conns--;
    free(c);
    if (w->draining && w->n_conns == 0) event_base_loopexit(w->base, NULL);
}

/* Close from a place where the caller may still hold the connection (a write
 * inside a handler, an upstream callback): do it on the next loop turn. */
static void conn_fail(sy_conn *c)
{
    c->dead = 1;
    event_active(&c->ev_defer, 0, 0);
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_conn *c = arg;
    if (c->dead) {
        conn_close(c);
        return;
    }
    conn_process(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_conn *c = arg;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (c->state == C_HEAD || c->state == C_BODY) {
        /* A client too slow to send its request: 408 and close. */
        c->keep_alive = 0;
        sy_conn_respond_error(c, 408, "invalid_request_error", "request_timeout", NULL,
                              "the request was not received in time");
        return;
    }
    conn_close(c); /* idle keep-alive, or a client not reading its answer */
}

/* ----------------------------------------------------------- writing */

/* Write what is queued; a handler that paused on a full buffer hears when it
 * has drained. */
static void conn_write_and_notify(sy_conn *c)
{
    conn_try_write(c);
    if (c->dead) return;
    if (c->pending && c->drained_fn && evbuffer_get_length(c->out) < SY_CONN_OUT_LOW)
        c->drained_fn(c->pctx);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_write_and_notify(arg);
}

/* Answers are written once per loop turn, not once per call: what one
 * upstream read produces (a stream's head, its events and its last chunk, or
 * a whole answer) leaves in one writev. The deferred write runs at the end of
 * the same loop turn, before the next epoll_wait, so nothing waits for I/O. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_conn *c = arg;
    c->flush_queued = 0;
    if (c->dead) return;
    conn_write_and_notify(c);
}

static void conn_write_soon(sy_conn *c)
{
    if (c->flush_queued || c->dead) return;
    c->flush_queued = 1;
    event_active(&c->ev_flush, 0, 0);
}

/* Write a queued answer now (the server is stopping: no next turn). */
static void conn_write_now(sy_conn *c)
{
    if (!c->flush_queued) return;
    c->flush_queued = 0;
    event_del(&c->ev_flush);
    if (!c->dead) conn_try_write(c);
}

static void conn_try_write(sy_conn *c)
{
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (!c->write_armed) {
                    event_add(&c->ev_write, NULL);
                    c->write_armed = 1;
                }
                /* A client that stops reading is dropped after idle_timeout.
                 * While a request is being read, its deadline stays. */
                if (c->state != C_HEAD && c->state != C_BODY)
                    conn_timer(c, atomic_load(&c->w->s->idle_ms));
                return;
            }
            conn_fail(c);
            return;
        }
        if (n == 0) break;
    }
    if (c->write_armed) {
        event_del(&c->ev_write);
        c->write_armed = 0;
        /* The client reads again: a slow reader's timer must not cut the
         * answer still being produced. */
        if (c->state == C_HANDLING) conn_timer(c, 0);
    }
    if (c->state == C_CLOSING && evbuffer_get_length(c->out) == 0 && c->peer_eof) {
        conn_fail(c); /* both sides are done: nothing to linger for */
        return;
    }
    if (c->state == C_CLOSING && evbuffer_get_length(c->out) == 0 && !c->lingering) {
        /* Lingering close: shut our side, then read and drop what the client
         * still sends for a moment. Closing with unread input would reset
         * the connection and could destroy the answer before it is read. */
        shutdown(c->fd, SHUT_WR);
        if (c->w->draining) {
            conn_fail(c); /* stopping: no time to linger */
            return;
        }
        c->lingering = 1;
        if (!c->read_armed) {
            event_add(&c->ev_read, NULL);
            c->read_armed = 1;
        }
        conn_timer(c, 2000);
    }
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Write the status line and headers into out. len < 0: streaming. Built by
 * hand rather than with snprintf: it is on every answer. */
static void put_head(sy_conn *c, int status, const char *ctype, const char *extra, int64_t len)
{
    char head[1024];
    sy_strbuf h = sy_sb(head, sizeof head);
    if (c->w->draining) c->keep_alive = 0;
    /* Half-closed with no further request read: this answer is the last. */
    if (c->peer_eof && c->in_len <= c->req_bytes) c->keep_alive = 0;
    SY_SB_LIT(&h, "HTTP/1.1 ");
    sy_sb_u64(&h, (uint64_t)(status < 0 ? 0 : status));
    SY_SB_LIT(&h, " ");
    sy_sb_str(&h, reason_phrase(status));
    SY_SB_LIT(&h, "\r\nContent-Type: ");
    sy_sb_str(&h, ctype);
    if (len >= 0) {
        SY_SB_LIT(&h, "\r\nContent-Length: ");
        sy_sb_u64(&h, (uint64_t)len);
        SY_SB_LIT(&h, "\r\n");
    } else {
        SY_SB_LIT(&h, "\r\nCache-Control: no-cache\r\n");
        if (c->chunked_out) SY_SB_LIT(&h, "Transfer-Encoding: chunked\r\n");
    }
    if (!c->keep_alive) SY_SB_LIT(&h, "Connection: close\r\n");
    else if (c->http10) SY_SB_LIT(&h, "Connection: keep-alive\r\n");
    evbuffer_add(c->out, h.b, h.n);
    if (extra) evbuffer_add(c->out, extra, strlen(extra));
    evbuffer_add(c->out, "\r\n", 2);
    c->status = status;
    if (!c->t_first_byte) c->t_first_byte = sy_now_ns();
}

/* The answer is complete: drop the request's bytes and go on. */
static void conn_finish(sy_conn *c)
{
    int was_pending = c->pending;
    c->pending = 0;
    c->abort_fn = NULL;
    c->drained_fn = NULL;
    c->shutdown_fn = NULL;
    c->pctx = NULL;
    c->streaming = 0;
    if (c->req_bytes > c->in_len) c->req_bytes = c->in_len;
    memmove(c->in, c->in + c->req_bytes, c->in_len - c->req_bytes);
    c->in_len -= c->req_bytes;
    c->req_bytes = 0;
    c->body_len = 0;
    if (!c->keep_alive || c->w->draining) {
        c->state = C_CLOSING;
    } else if (c->peer_eof) {
        /* Half-closed: answer the requests already read, then close. */
        c->state = c->in_len ? C_IDLE : C_CLOSING;
        if (was_pending && c->in_len) event_active(&c->ev_defer, 0, 0);
    } else {
        c->state = C_IDLE; /* status and first-byte time stay readable until the next request */
        if (!c->read_armed) {
            event_add(&c->ev_read, NULL);
            c->read_armed = 1;
        }
        conn_timer(c, atomic_load(&c->w->s->idle_ms));
        /* Pipelined bytes wait in the buffer: parse them on the next turn,
         * outside whatever callback finished this answer. */
        if (was_pending && c->in_len) event_active(&c->ev_defer, 0, 0);
    }
    conn_write_soon(c);
}

void sy_conn_respond(sy_conn *c, int status, const char *ctype, const char *extra,
                     const char *body, size_t len)
{
    put_head(c, status, ctype ? ctype : "application/json", extra, (int64_t)len);
    if (len && c->req.method != SY_HTTP_HEAD) evbuffer_add(c->out, body, len);
    conn_finish(c);
}

void sy_conn_respond_error(sy_conn *c, int status, const char *type, const char *code,
                           const char *extra, const char *fmt, ...)
{
    char msg[768], esc[1600], body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sy_json_escape(msg, strlen(msg), esc, sizeof esc);
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}\n",
                     esc, type, code);
    if (n < 0 || (size_t)n >= sizeof body) n = (int)sizeof body - 1;
    sy_conn_respond(c, status, "application/json", extra, body, (size_t)n);
}

void sy_conn_stream_begin(sy_conn *c, int status, const char *ctype, const char *extra)
{
    c->streaming = 1;
    c->chunked_out = !c->http10;
    if (c->http10) c->keep_alive = 0; /* close-delimited */
    put_head(c, status, ctype, extra, -1);
    conn_write_soon(c);
}

void sy_conn_stream_write(sy_conn *c, const char *data, size_t len)
{
    if (!len || c->dead) return;
    if (c->chunked_out) {
        /* The chunk's size line, then the data and its CRLF. */
        char sz[20];
        size_t n = sizeof sz;
        sz[--n] = '\n';
        sz[--n] = '\r';
        for (size_t v = len; v; v >>= 4) sz[--n] = "0123456789abcdef"[v & 15];
        evbuffer_add(c->out, sz + n, sizeof sz - n);
        evbuffer_add(c->out, data, len);
        evbuffer_add(c->out, "\r\n", 2);
    } else {
        evbuffer_add(c->out, data, len);
    }
    conn_write_soon(c);
}

void sy_conn_stream_end(sy_conn *c)
{
    if (c->chunked_out) evbuffer_add(c->out, "0\r\n\r\n", 5);
    c->chunked_out = 0;
    conn_finish(c);
}

void sy_conn_set_pending(sy_conn *c, void (*abort_fn)(void *), void (*drained_fn)(void *), void *ctx)
{
    c->pending = 1;
    c->abort_fn = abort_fn;
    c->drained_fn = drained_fn;
    c->pctx = ctx;
}

void sy_conn_set_shutdown(sy_conn *c, void (*shutdown_fn)(void *)) { c->shutdown_fn = shutdown_fn; }

/* ------------------------------------------------- the engine's sink */

static sy_conn *sink_conn(sy_sink *s) { return ((conn_sink *)s)->c; }
static void sink_respond(sy_sink *s, int status, const char *ctype, const char *extra,
                         const char *body, size_t len)
{
    sy_conn_respond(sink_conn(s), status, ctype, extra, body, len);
}
static void sink_begin(sy_sink *s, int status, const char *ctype, const char *extra)
{
    sy_conn_stream_begin(sink_conn(s), status, ctype, extra);
}
static void sink_write(sy_sink *s, const char *p, size_t n) { sy_conn_stream_write(sink_conn(s), p, n); }
static void sink_end(sy_sink *s) { sy_conn_stream_end(sink_conn(s)); }
static size_t sink_queued(sy_sink *s) { return sy_conn_out_pending(sink_conn(s)); }
static uint64_t sink_first_byte(sy_sink *s) { return sy_conn_first_byte(sink_conn(s)); }
static int sink_status(sy_sink *s) { return sy_conn_status(sink_conn(s)); }

static const sy_sink_ops conn_sink_ops = {sink_respond, sink_begin,      sink_write, sink_end,
                                          sink_queued,  sink_first_byte, sink_status};

sy_sink *sy_conn_sink(sy_conn *c) { return &c->sink.base; }

/* ----------------------------------------------------------- reading */

/* The parsed head (c->req) points into c->in: when the buffer moves while
 * the body is still arriving, those pointers move with it. */
#define REQ_OFF(p) ((size_t)((const char *)(p) - c->in))
static int grow_in(sy_conn *c, size_t need)
{
    if (need <= c->in_cap) return 0;
    size_t limit = atomic_load(&c->w->s->max_head) + (size_t)atomic_load(&c->w->s->max_body) + 65536;
    if (need > limit) return -1;
    size_t n = c->in_cap * 2;
    while (n < need) n *= 2;
    if (n > limit) n = limit;
    int parsed = c->state == C_BODY;
    size_t m = 0, t = 0, pa = 0, hn[SY_HTTP_MAX_HEADERS], hv[SY_HTTP_MAX_HEADERS];
    if (parsed) {
        m = REQ_OFF(c->req.method_str);
        t = REQ_OFF(c->req.target);
        pa = REQ_OFF(c->req.path);
        for (size_t i = 0; i < c->req.n_headers; i++) {
            hn[i] = REQ_OFF(c->req.headers[i].name);
            hv[i] = REQ_OFF(c->req.headers[i].value);
        }
    }
    char *nb = realloc(c->in, n);
    if (!nb) return -1;
    c->in = nb;
    c->in_cap = n;
    if (parsed) {
        c->req.method_str = nb + m;
        c->req.target = nb + t;
        c->req.path = nb + pa;
        for (size_t i = 0; i < c->req.n_headers; i++) {
            c->req.headers[i].name = nb + hn[i];
            c->req.headers[i].value = nb + hv[i];
        }
    }
    return 0;
}
#undef REQ_OFF

static void reject(sy_conn *c, int status, const char *why)
{
    c->keep_alive = 0;
    c->req_bytes = c->in_len;
    const char *code = status == 413 ? "request_too_large"
                       : status == 431 ? "headers_too_large"
                                       : "invalid_request";
    sy_conn_respond_error(c, status, "invalid_request_error", code, NULL, "%s", why);
}

/* No complete request in the buffer: wait for more, or, when the client has
 * shut its sending side, close once what is already answered is written (a
 * half-close with an incomplete request gets no answer). */
static void conn_wait_input(sy_conn *c)
{
    if (!c->peer_eof) return;
    conn_timer(c, 0);
    c->state = C_CLOSING;
    conn_try_write(c);
}

/* Parse and dispatch whatever complete requests the buffer holds. */
static void conn_process(sy_conn *c)
{
    sy_server *s = c->w->s;
    while (!c->dead) {
        if (c->state == C_IDLE) {
            if (c->in_len == 0) {
                conn_wait_input(c);
                return;
            }
            c->state = C_HEAD;
            c->head_seen = 0;
            c->t_first_byte = 0;
            c->status = 0;
            conn_timer(c, atomic_load(&s->header_ms));
        }
        if (c->state == C_HEAD) {
            sy_http_limits lim = {atomic_load(&s->max_head), SY_HTTP_MAX_HEADERS,
                                  atomic_load(&s->max_body)};
            /* A head can only be complete once a new line end arrived: a
             * client sending a byte at a time must not cost a re-parse of
             * the whole head per byte. */
            if (c->head_seen && c->in_len < lim.max_head &&
                !memchr(c->in + c->head_seen, '\n', c->in_len - c->head_seen)) {
                conn_wait_input(c);
                return;
            }
            const char *why = "bad request";
            int r = sy_http_parse_request(c->in, c->in_len, &lim, &c->req, &why);
            if (r == 0) {
                c->head_seen = c->in_len;
                conn_wait_input(c);
                return;
            }
            if (r < 0) {
                reject(c, -r, why);
                return;
            }
            c->keep_alive = c->req.keep_alive;
            c->http10 = c->req.minor_version == 0;
            c->body_len = 0;
            c->dec_in = c->req.head_len;
            if (c->req.chunked) sy_chunked_init(&c->dec, lim.max_body);
            c->state = C_BODY;
            if (c->req.expect_continue && c->in_len == c->req.head_len &&
                (c->req.chunked || c->req.content_length > 0)) {
                evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                conn_try_write(c);
            }
        }
        if (c->state == C_BODY) {
            size_t head = c->req.head_len;
            if (c->req.chunked) {
                size_t consumed = 0, out_len = 0;
                const char *why = "bad chunked body";
                int r = sy_chunked_decode(&c->dec, c->in + c->dec_in, c->in_len - c->dec_in,
                                          &consumed, &out_len, &why);
                if (r < 0) {
                    reject(c, -r, why);
                    return;
                }
                memmove(c->in + head + c->body_len, c->in + c->dec_in, out_len);
                c->body_len += out_len;
                c->dec_in += consumed;
                if (r == 0) {
                    conn_wait_input(c);
                    return;
                }
                c->req_bytes = c->dec_in;
            } else {
                size_t cl = c->req.content_length > 0 ? (size_t)c->req.content_length : 0;
                if (c->in_len - head < cl) {
                    conn_wait_input(c);
                    return;
                }
                c->body_len = cl;
                c->req_bytes = head + cl;
            }
            /* NUL-terminate the body for the JSON parser. The byte after a
             * Content-Length body may be the first of a pipelined request:
             * save it and put it back after the handler. */
            if (grow_in(c, c->in_len + 1) != 0) {
                reject(c, 413, "request too large");
                return;
            }
            size_t nul_at = head + c->body_len, req_bytes = c->req_bytes;
            char saved = c->in[nul_at];
            c->in[nul_at] = '\0';
            c->state = C_HANDLING;
            c->t_req_start = sy_now_ns();
            conn_timer(c, 0);
            c->w->s->o.handler.request(c->w->s->o.handler.ctx, c, &c->req, c->in + head,
                                       c->body_len);
            if (c->dead) return;
            if (c->state == C_HANDLING) {
                /* Answered later; the handler copied what it needs. */
                c->in[nul_at] = saved;
                return;
            }
            /* Answered already: conn_finish dropped the request's bytes. */
            if (nul_at >= req_bytes && nul_at - req_bytes < c->in_len) c->in[nul_at - req_bytes] = saved;
            if (c->state == C_CLOSING) return;
            continue;
        }
        return;
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    sy_conn *c = arg;
    if (c->lingering || c->state == C_CLOSING) {
        /* The answer is final: whatever the client still sends is dropped. */
        char scratch[16384];
        ssize_t n;
        while ((n = recv(fd, scratch, sizeof scratch, 0)) > 0) {}
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) conn_close(c);
        return;
    }
    for (;;) {
        if (c->in_len == c->in_cap && grow_in(c, c->in_len + 4096) != 0) {
            if (c->state == C_HANDLING) {
                /* Pipelined data fills the buffer: stop reading until the
                 * answer in progress is done. */
                event_del(&c->ev_read);
                c->read_armed = 0;
                return;
            }
            reject(c, c->state == C_BODY ? 413 : 431, "request too large");
            return;
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room) break; /* drained the socket */
            continue;
        }
        if (n == 0) {
            /* The client shut its sending side. It may still read (a
             * half-close after a complete request, as HAProxy allows):
             * stop reading, answer what is complete, then close. A client
             * that is really gone shows up as a failed write. */
            c->peer_eof = 1;
            event_del(&c->ev_read);
            c->read_armed = 0;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(c); /* the connection broke */
            return;
        }
        break;
    }
    /* No timer restart here: header_timeout is a deadline for the whole
     * request, head and body, from its first byte. */
    if (c->state != C_HANDLING && c->state != C_CLOSING) conn_process(c);
}

static void conn_new(sy_worker *w, int fd)
{
    sy_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->sink.base.ops = &conn_sink_ops;
    c->sink.c = c;
    c->fd = fd;
    c->in_cap = 4096; /* a chat request head and a small body; grow_in doubles it for more */
    c->in = malloc(c->in_cap);
    c->out = evbuffer_new();
    if (!c->in || !c->out) {
        free(c->in);
        if (c->out) evbuffer_free(c->out);
        free(c);
        close(fd);
        return;
    }
    event_assign(&c->ev_read, w->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    event_assign(&c->ev_write, w->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    event_assign(&c->ev_timer, w->base, -1, 0, on_timeout, c);
    event_assign(&c->ev_defer, w->base, -1, 0, on_defer, c);
    event_assign(&c->ev_flush, w->base, -1, 0, on_flush, c);
    event_add(&c->ev_read, NULL);
    c->read_armed = 1;
    c->state = C_IDLE;
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->n_conns++;
    conn_timer(c, atomic_load(&w->s->header_ms));
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_worker *w = arg;
    if (!w->draining && w->lfd >= 0) event_add(w->ev_accept, NULL);
}

/* accept() failed for want of descriptors or memory: count it, pause this
 * listener for ACCEPT_PAUSE_MS (the connections wait in the backlog) and log
 * at most once per ACCEPT_LOG_INTERVAL_NS, with how many were refused. */
static void accept_pause(sy_worker *w, int err)
{
    sy_metrics_inc_accept_refused();
    w->refused_unlogged++;
    uint64_t now = sy_now_ns();
    if (!w->refused_logged_at || now - w->refused_logged_at >= ACCEPT_LOG_INTERVAL_NS) {
        struct rlimit rl;
        unsigned long long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur : 0;
        sy_log_warn("worker %d: accept: %s (open-file limit %llu, %zu client connections open%s); "
                    "%llu accept%s refused since the last such message; "
                    "pausing accepts for %d ms at a time",
                    w->id, strerror(err), lim, w->n_conns,
                    err == EMFILE ? "; raise the hard limit: ulimit -Hn, systemd LimitNOFILE=" : "",
                    (unsigned long long)w->refused_unlogged, w->refused_unlogged == 1 ? "" : "s",
                    ACCEPT_PAUSE_MS);
        w->refused_logged_at = now;
        w->refused_unlogged = 0;
    }
    event_del(w->ev_accept);
    struct timeval tv;
    tv_from_ms(&tv, ACCEPT_PAUSE_MS);
    evtimer_add(w->ev_accept_resume, &tv);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    sy_worker *w = arg;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(w, errno);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_new(w, fd);
    }
}

/* ------------------------------------------------------------ workers */

static void worker_close_idle(sy_worker *w)
{
    sy_conn *c = w->conns;
    while (c) {
        sy_conn *next = c->next;
        if (((c->state == C_IDLE && c->in_len == 0) && evbuffer_get_length(c->out) == 0) ||
            c->lingering)
            conn_close(c);
        else
            c->keep_alive = 0;
        c = next;
    }
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_worker *w = arg;
    if (w->n_conns) sy_log_warn("worker %d: grace period over, closing %zu connections", w->id, w->n_conns);
    /* Handlers still answering end their answers first (a stream gets an
     * error event and its last chunk); what they write goes out as far as
     * the socket takes it now, then every connection closes. */
    for (sy_conn *c = w->conns, *next; c; c = next) {
        next = c->next; /* a handler's write can only mark c dead, not free it */
        if (c->pending && c->shutdown_fn && !c->dead) {
            void (*fn)(void *) = c->shutdown_fn;
            c->shutdown_fn = NULL;
            fn(c->pctx);
        }
        conn_write_now(c);
    }
    while (w->conns) conn_close(w->conns);
    event_base_loopexit(w->base, NULL);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    sy_worker *w = arg;
    uint64_t v;
    if (read(fd, &v, sizeof v) != sizeof v) return;
    if (w->draining) return;
    w->draining = 1;
    if (w->ev_accept) event_del(w->ev_accept);
    evtimer_del(w->ev_accept_resume);
    if (w->lfd >= 0) {
        close(w->lfd);
        w->lfd = -1;
    }
    worker_close_idle(w);
    struct timeval tv;
    tv_from_ms(&tv, atomic_load(&w->s->grace_ms));
    evtimer_add(w->ev_grace, &tv);
    if (w->n_conns == 0) event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
    sy_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static int parse_listen(const char *spec, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1]) return -1;
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (!strcmp(host, "*")) host[0] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int bind_listener(const char *host, const char *port, char *err, size_t errlen,
                         struct sockaddr_storage *bound, socklen_t *bound_len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address '%s:%s': %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) {
            *bound_len = sizeof *bound;
            getsockname(fd, (struct sockaddr *)bound, bound_len);
            break;
        }
        snprintf(err, errlen, "cannot listen on %s:%s: %s", host[0] ? host : "*", port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

sy_server *sy_server_new(const sy_server_opts *o, char *err, size_t errlen)
{
    sy_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = *o;
    if (s->o.workers < 1) s->o.workers = 1;
    sy_server_set_limits(s, o->max_head, o->max_body, o->idle_timeout_ms, o->header_timeout_ms);
    sy_server_set_shutdown_grace(s, o->shutdown_grace_ms);
    char host[256], port[32];
    if (parse_listen(o->listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "bad listen address '%s' (want HOST:PORT)", o->listen);
        free(s);
        return NULL;
    }
    s->w = calloc((size_t)s->o.workers, sizeof *s->w);
    s->nw = s->o.workers;
    for (int i = 0; i < s->nw; i++) s->w[i].lfd = s->w[i].efd = -1;
    struct sockaddr_storage ss;
    socklen_t sl;
    for (int i = 0; i < s->nw; i++) {
        sy_worker *w = &s->w[i];
        w->s = s;
        w->id = i;
        w->lfd = bind_listener(host, port, err, errlen, &ss, &sl);
        if (w->lfd < 0) goto fail;
        if (i == 0) {
            /* Port 0: every worker binds the port the first one got. */
            char hb[NI_MAXHOST], pb[NI_MAXSERV];
            getnameinfo((struct sockaddr *)&ss, sl, hb, sizeof hb, pb, sizeof pb,
                        NI_NUMERICHOST | NI_NUMERICSERV);
            snprintf(port, sizeof port, "%s", pb);
            snprintf(s->addr, sizeof s->addr, strchr(hb, ':') ? "[%s]:%s" : "%s:%s", hb, pb);
        }
        w->base = event_base_new();
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!w->base || w->efd < 0) {
            snprintf(err, errlen, "cannot create event loop");
            goto fail;
        }
        w->ev_accept = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, on_accept, w);
        w->ev_ctl = event_new(w->base, w->efd, EV_READ | EV_PERSIST, on_ctl, w);
        w->ev_grace = evtimer_new(w->base, on_grace, w);
        w->ev_accept_resume = evtimer_new(w->base, on_accept_resume, w);
        if (o->handler.worker_init) w->hstate = o->handler.worker_init(o->handler.ctx, w, w->base);
        if (!w->ev_accept || !w->ev_ctl || !w->ev_grace || !w->ev_accept_resume ||
            (o->handler.worker_init && !w->hstate)) {
            snprintf(err, errlen, "cannot set up worker %d", i);
            goto fail;
        }
        event_add(w->ev_accept, NULL);
        event_add(w->ev_ctl, NULL);
    }
    return s;
fail:
    sy_server_free(s);
    return NULL;
}

void sy_server_set_limits(sy_server *s, size_t max_head, uint64_t max_body, int64_t idle_ms,
                          int64_t header_ms)
{
    atomic_store(&s->max_head, max_head ? max_head : 16384);
    atomic_store(&s->max_body, max_body);
    atomic_store(&s->idle_ms, idle_ms > 0 ? idle_ms : 60000);
    atomic_store(&s->header_ms, header_ms > 0 ? header_ms : 10000);
}

void sy_server_set_shutdown_grace(sy_server *s, int64_t grace_ms)
{
    atomic_store(&s->grace_ms, grace_ms > 0 ? grace_ms : 0);
}

const char *sy_server_address(const sy_server *s) { return s->addr; }
int sy_server_workers(const sy_server *s) { return s->nw; }

void sy_server_stop(sy_server *s)
{
    atomic_store(&g_draining, 1);
    uint64_t one = 1;
    for (int i = 0; i < s->nw; i++)
        if (s->w[i].efd >= 0 && write(s->w[i].efd, &one, sizeof one) < 0)
            sy_log_warn("cannot signal worker %d", i);
}

void sy_server_set_main(sy_server *s, void (*start)(void *, struct event_base *),
                        void (*stop)(void *), void *ctx)
{
    s->main_start = start;
    s->main_stop = stop;
    s->main_ctx = ctx;
}

void sy_server_set_tick(sy_server *s, void (*tick_fn)(void *), void *ctx, int64_t interval_ms)
{
    s->tick_fn = tick_fn;
    s->tick_ctx = ctx;
    s->tick_ms = interval_ms;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_server *s = arg;
    s->tick_fn(s->tick_ctx);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    sy_server *s = arg;
    if (sig == SIGHUP) {
        if (s->reload_fn) s->reload_fn(s->reload_ctx);
        return;
    }
    if (sy_server_draining()) return;
    sy_log_info("%s: draining (grace %lld ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                (long long)atomic_load(&s->grace_ms));
    sy_server_stop(s);
    event_base_loopexit(s->main_base, NULL);
}

int sy_server_run(sy_server *s, void (*reload_fn)(void *), void *ctx)
{
    s->reload_fn = reload_fn;
    s->reload_ctx = ctx;
    signal(SIGPIPE, SIG_IGN);
    /* Workers never see the signals: the main thread's loop takes them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int started = 0;
    for (int i = 0; i < s->nw; i++) {
        if (pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]) != 0) break;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    s->main_base = event_base_new();
    struct event *sigs[3];
    int signums[3] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(s->main_base, signums[i], on_signal, s);
        event_add(sigs[i], NULL);
    }
    struct event *tick = NULL;
    if (s->tick_fn && s->tick_ms > 0) {
        struct timeval tv;
        tv_from_ms(&tv, s->tick_ms);
        tick = event_new(s->main_base, -1, EV_PERSIST, on_tick, s);
        event_add(tick, &tv);
    }
    if (started == s->nw) {
        sy_log_info("listening on %s (%d worker%s)", s->addr, s->nw, s->nw == 1 ? "" : "s");
        if (s->main_start) s->main_start(s->main_ctx, s->main_base);
        event_base_dispatch(s->main_base);
        if (s->main_stop) s->main_stop(s->main_ctx);
    } else {
        sy_log_error("could not start worker threads");
        sy_server_stop(s);
    }
    for (int i = 0; i < started; i++) pthread_join(s->w[i].thread, NULL);
    for (int i = 0; i < 3; i++) event_free(sigs[i]);
    if (tick) event_free(tick);
    event_base_free(s->main_base);
    s->main_base = NULL;
    return started == s->nw ? 0 : 1;
}

void sy_server_free(sy_server *s)
{
    if (!s) return;
    for (int i = 0; i < s->nw; i++) {
        sy_worker *w = &s->w[i];
        while (w->conns) conn_close(w->conns);
        if (w->hstate && s->o.handler.worker_free) s->o.handler.worker_free(s->o.handler.ctx, w->hstate);
        if (w->ev_accept) event_free(w->ev_accept);
        if (w->ev_ctl) event_free(w->ev_ctl);
        if (w->ev_grace) event_free(w->ev_grace);
        if (w->ev_accept_resume) event_free(w->ev_accept_resume);
        if (w->lfd >= 0) close(w->lfd);
        if (w->efd >= 0) close(w->efd);
        if (w->base) event_base_free(w->base);
    }
    free(s->w);
    free(s);
}
