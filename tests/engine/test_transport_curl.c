/*
 * test_transport_curl.c - the network transport's methods: a health probe
 * (an exchange without a canonical request) goes out as a GET with the
 * plugin's headers and no body, and an attempt as a POST, also on an easy
 * handle that the pool hands back after a GET and the other way round.
 *
 * A real libevent loop and libcurl against a tiny HTTP/1.1 server on a
 * loopback port in a thread of this test, which records each request's
 * method, path, Authorization and body length.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"
#include "transport_curl.h"
#include "upstream.h"

/* ------------------------------------------------------------ the server */

typedef struct seen_req {
    char method[16], path[128], auth[128];
    long content_length; /* -1: no Content-Length header */
} seen_req;

typedef struct server {
    int fd;
    int port;
    int expect; /* requests to answer before the thread ends */
    seen_req seen[8];
    int n;
    pthread_t thread;
} server;

/* The value of header name in head (one line), into out; 0 when absent. */
static int header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *line = l + 2;
        if (strncasecmp(line, name, nl) != 0 || line[nl] != ':') continue;
        const char *v = line + nl + 1;
        while (*v == ' ') v++;
        const char *end = strstr(v, "\r\n");
        size_t len = end ? (size_t)(end - v) : strlen(v);
        if (len >= cap) len = cap - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

static void *serve(void *arg)
{
    server *s = arg;
    char buf[16384];
    while (s->n < s->expect) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) break;
        size_t len = 0;
        while (s->n < s->expect) {
            char *end = NULL;
            while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
                ssize_t r = read(c, buf + len, sizeof buf - 1 - len);
                if (r <= 0) goto closed;
                len += (size_t)r;
            }
            size_t head_len = (size_t)(end - buf) + 4;
            char head[8192];
            memcpy(head, buf, head_len < sizeof head ? head_len : sizeof head - 1);
            head[head_len < sizeof head ? head_len : sizeof head - 1] = '\0';
            seen_req *q = &s->seen[s->n];
            sscanf(head, "%15s %127s", q->method, q->path);
            char v[128];
            q->content_length = header_value(head, "Content-Length", v, sizeof v) ? atol(v) : -1;
            if (!header_value(head, "Authorization", q->auth, sizeof q->auth)) q->auth[0] = '\0';
            size_t need = head_len + (size_t)(q->content_length > 0 ? q->content_length : 0);
            while (len < need) {
                ssize_t r = read(c, buf + len, sizeof buf - 1 - len);
                if (r <= 0) goto closed;
                len += (size_t)r;
            }
            memmove(buf, buf + need, len - need);
            len -= need;
            s->n++;
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 27\r\n\r\n{\"object\":\"list\",\"data\":[]}";
            if (write(c, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) break;
        }
    closed:
        close(c);
    }
    return NULL;
}

static void server_start(server *s, int expect)
{
    memset(s, 0, sizeof *s);
    s->expect = expect;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->fd, 8), 0);
    socklen_t al = sizeof a;
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* ------------------------------------------------------------ the client */

typedef struct exchange_result {
    struct event_base *base;
    int done, status, headers_status;
    sy_io_error err;
    size_t body;
} exchange_result;

static void on_headers(void *ctx, int status) { ((exchange_result *)ctx)->headers_status = status; }
static size_t on_data(void *ctx, const char *p, size_t n)
{
    (void)p;
    ((exchange_result *)ctx)->body += n;
    return n;
}
static void on_done(void *ctx, sy_io_error err, int status, const char *msg)
{
    (void)msg;
    exchange_result *r = ctx;
    r->done = 1;
    r->err = err;
    r->status = status;
    event_base_loopbreak(r->base);
}
static const sy_io_cbs cbs = {on_headers, on_data, on_done};

static void on_give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run one exchange to its end (at most 10 s). */
static exchange_result run_one(struct event_base *base, sy_transport *tp, const sy_io_request *io)
{
    exchange_result r = {.base = base};
    char msg[256] = "";
    sy_exchange_io *x = tp->ops->start(tp, io, &cbs, &r, msg, sizeof msg);
    cr_assert_not_null(x, "start: %s", msg);
    struct event *t = evtimer_new(base, on_give_up, base);
    struct timeval tv = {10, 0};
    evtimer_add(t, &tv);
    event_base_dispatch(base);
    event_free(t);
    cr_assert(r.done, "the exchange did not end within 10 s");
    return r;
}

Test(transport_curl, probes_are_gets_and_attempts_posts_on_pooled_handles)
{
    static const char *const proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                          "all_proxy",  "ALL_PROXY",   NULL};
    for (size_t i = 0; proxies[i]; i++) unsetenv(proxies[i]);
    server s;
    server_start(&s, 3);
    struct event_base *base = event_base_new();
    sy_upstream *up = sy_upstream_new(base);
    sy_transport *tp = sy_transport_curl_new(up);
    cr_assert(base && up && tp);

    sy_endpoint ep = {.provider = "p", .name = "e1"};
    sy_http_request probe = {.n_headers = 1, .headers = {"Authorization: Bearer sk-probe-key"}};
    snprintf(probe.url, sizeof probe.url, "http://127.0.0.1:%d/v1/models", s.port);
    /* A stray body on a probe must not be sent: a GET has none. */
    probe.body = "{\"model\":\"x\"}";
    probe.body_len = strlen(probe.body);
    sy_io_request probe_io = {.endpoint = &ep, .req = NULL, .http = &probe,
                              .connect_timeout_ms = 2000};

    const char *body = "{\"model\":\"gpt-4o\",\"messages\":[]}";
    sy_request req = {.op = SY_OP_CHAT, .model = "gpt-4o", .client_model = "gpt-4o",
                      .body = body, .body_len = strlen(body)};
    sy_http_request post = {.n_headers = 2,
                            .headers = {"Authorization: Bearer sk-probe-key",
                                        "Content-Type: application/json"},
                            .body = body, .body_len = strlen(body)};
    snprintf(post.url, sizeof post.url, "http://127.0.0.1:%d/v1/chat/completions", s.port);
    sy_io_request post_io = {.endpoint = &ep, .req = &req, .http = &post,
                             .connect_timeout_ms = 2000};

    exchange_result r1 = run_one(base, tp, &probe_io);
    exchange_result r2 = run_one(base, tp, &post_io);  /* the handle the GET used */
    exchange_result r3 = run_one(base, tp, &probe_io); /* the handle the POST used */
    const exchange_result *rs[] = {&r1, &r2, &r3};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(rs[i]->err, SY_IO_OK, "exchange %d", i);
        cr_assert_eq(rs[i]->status, 200, "exchange %d", i);
        cr_assert_eq(rs[i]->headers_status, 200);
        cr_assert_eq(rs[i]->body, 27);
    }
    sy_transport_curl_free(tp);
    sy_upstream_free(up);
    event_base_free(base);
    server_stop(&s);

    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.seen[0].method, "GET");
    cr_assert_str_eq(s.seen[0].path, "/v1/models");
    cr_assert_str_eq(s.seen[0].auth, "Bearer sk-probe-key", "the plugin's key goes with the probe");
    cr_assert_leq(s.seen[0].content_length, 0, "a probe sends no body");
    cr_assert_str_eq(s.seen[1].method, "POST");
    cr_assert_str_eq(s.seen[1].path, "/v1/chat/completions");
    cr_assert_eq(s.seen[1].content_length, (long)strlen(body));
    cr_assert_str_eq(s.seen[2].method, "GET");
    cr_assert_leq(s.seen[2].content_length, 0);
}
