/* transport_h1.c - the built-in HTTP/1.1 client (see transport_h1.h). */
#include "transport_h1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "h1_response.h"
#include "strbuf.h"

#define SCRATCH_SIZE (32 * 1024) /* one read; shared by a worker's exchanges */
#define IDLE_MAX 4096            /* idle connections kept per host */
#define FREE_MAX 256             /* exchange structs kept for reuse */
#define AUTHORITY_MAX 300

typedef struct h1_tp h1_tp;
typedef struct h1_conn h1_conn;

/* One upstream address (the URL's host:port as written) and its idle
 * connections, most recently used first. */
typedef struct h1_host {
    struct h1_host *next;
    char authority[AUTHORITY_MAX];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char label[AUTHORITY_MAX + 16]; /* "HOST port N" for messages */
    h1_conn *idle;
    size_t n_idle;
} h1_host;

/* One TCP connection. Its event stays registered while it is idle (for
 * reads: the server closing it), so a reused connection costs no epoll_ctl. */
struct h1_conn {
    h1_tp *tp;
    h1_host *host;
    int fd;
    struct event *ev;
    short ev_flags;        /* what ev is added with; 0 = not added */
    struct event *timer;   /* the connect timeout */
    int connected;
    int in_idle;           /* on its host's idle list */
    unsigned served;       /* answers read on it */
    sy_exchange_io *x;     /* the exchange on it; NULL when idle */
    h1_conn *idle_prev, *idle_next;
    h1_conn *all_prev, *all_next;
};

struct sy_exchange_io {
    h1_tp *tp;
    h1_host *host;
    h1_conn *c;
    const sy_io_cbs *cbs;
    void *ctx;
    /* the request: head (built here) and body (the plugin's) */
    char *head;
    size_t head_len, head_cap;
    const char *body;
    size_t body_len;
    size_t sent;
    int64_t connect_timeout_ms;
    /* the answer */
    sy_h1_resp resp;
    char *pend;            /* bytes read and not yet used (a partial head or chunk line, or paused) */
    size_t pend_len, pend_cap;
    int got_bytes;         /* an answer byte came on this connection */
    int headers_told, paused, kick;
    int in_cb, cancelled, ending;
    int resent;            /* sent again on a new connection once */
    sy_exchange_io *next_free;
};

struct h1_tp {
    sy_transport base;
    struct event_base *evbase;
    h1_host *hosts;
    h1_conn *all;
    size_t n_conns;
    sy_exchange_io *free_x;
    size_t n_free_x;
    int proxy_in_env;
    char scratch[SCRATCH_SIZE];
};

enum { P_MORE, P_PAUSED, P_GONE }; /* after using bytes: wait for more, paused, exchange over */

/* ------------------------------------------------------------ targets */

/* http://AUTHORITY[/path...]: the authority and the path (with query). */
static int split_url(const char *url, const char **auth, size_t *auth_len, const char **path)
{
    if (strncasecmp(url, "http://", 7) != 0) return -1;
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    if (n == 0 || n >= AUTHORITY_MAX || memchr(a, '@', n)) return -1;
    *auth = a;
    *auth_len = n;
    *path = a + n;
    return 0;
}

/* The authority's address: an IPv4 or [IPv6] literal, or localhost. */
static int resolve_literal(h1_host *h)
{
    char host[AUTHORITY_MAX];
    const char *a = h->authority, *port = NULL;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close) return -1;
        memcpy(host, a + 1, (size_t)(close - a - 1));
        host[close - a - 1] = '\0';
        if (close[1] == ':') port = close + 2;
        else if (close[1]) return -1;
    } else {
        const char *colon = strchr(a, ':');
        size_t hl = colon ? (size_t)(colon - a) : strlen(a);
        memcpy(host, a, hl);
        host[hl] = '\0';
        if (colon) port = colon + 1;
    }
    long p = 80;
    if (port) {
        if (!*port) return -1;
        char *end;
        p = strtol(port, &end, 10);
        if (*end || p <= 0 || p > 65535) return -1;
    }
    memset(&h->addr, 0, sizeof h->addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&h->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&h->addr;
    if (!strcasecmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        h->addr_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        h->addr_len = sizeof *v6;
    } else {
        return -1; /* a name to resolve: libcurl's */
    }
    snprintf(h->label, sizeof h->label, "%s port %ld", host, p);
    return 0;
}

/* The host for a URL's authority, made on first sight; NULL when this client
 * does not serve it. Hosts that cannot be served are remembered too. */
static h1_host *host_for(h1_tp *tp, const char *auth, size_t len)
{
    for (h1_host *h = tp->hosts; h; h = h->next)
        if (strlen(h->authority) == len && memcmp(h->authority, auth, len) == 0)
            return h->addr_len ? h : NULL;
    h1_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    memcpy(h->authority, auth, len);
    h->authority[len] = '\0';
    if (resolve_literal(h) != 0) h->addr_len = 0;
    h->next = tp->hosts;
    tp->hosts = h;
    return h->addr_len ? h : NULL;
}

/* A proxy set in the environment: libcurl honours it, this client does not. */
static int proxy_in_env(void)
{
    static const char *const vars[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    for (size_t i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

int sy_transport_h1_serves(const char *url)
{
    const char *auth, *path;
    size_t alen;
    if (!url || proxy_in_env() || split_url(url, &auth, &alen, &path) != 0) return 0;
    h1_host h;
    memset(&h, 0, sizeof h);
    memcpy(h.authority, auth, alen);
    return resolve_literal(&h) == 0;
}

static int h1_accepts(sy_transport *t, const char *url)
{
    h1_tp *tp = (h1_tp *)t;
    const char *auth, *path;
    size_t alen;
    if (tp->proxy_in_env || split_url(url, &auth, &alen, &path) != 0) return 0;
    return host_for(tp, auth, alen) != NULL;
}

/* -------------------------------------------------------- connections */

static void on_conn_event(evutil_socket_t fd, short what, void *arg);

static void conn_watch(h1_conn *c, short flags)
{
    if (c->ev_flags == flags) return;
    if (c->ev_flags) event_del(c->ev);
    event_assign(c->ev, c->tp->evbase, c->fd, (short)(flags | EV_PERSIST), on_conn_event, c);
    if (flags) event_add(c->ev, NULL);
    c->ev_flags = flags;
}

static void idle_unlink(h1_conn *c)
{
    h1_host *h = c->host;
    if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
    else h->idle = c->idle_next;
    if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->in_idle = 0;
    h->n_idle--;
}

static void conn_close(h1_conn *c)
{
    h1_tp *tp = c->tp;
    if (c->in_idle) idle_unlink(c);
    if (c->all_prev) c->all_prev->all_next = c->all_next;
    else tp->all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    tp->n_conns--;
    event_free(c->ev);
    if (c->timer) event_free(c->timer);
    close(c->fd);
    free(c);
}

/* Back to its host's idle list, at the front (reused first). */
static void conn_park(h1_conn *c)
{
    h1_host *h = c->host;
    c->x = NULL;
    c->served++;
    if (h->n_idle >= IDLE_MAX) {
        conn_close(c);
        return;
    }
    c->idle_prev = NULL;
    c->idle_next = h->idle;
    if (h->idle) h->idle->idle_prev = c;
    h->idle = c;
    h->n_idle++;
    c->in_idle = 1;
    conn_watch(c, EV_READ);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg);

/* A new non-blocking connection to h, connecting. NULL with msg on failure. */
static h1_conn *conn_open(h1_tp *tp, h1_host *h, int64_t connect_timeout_ms, char *msg,
                          size_t msglen)
{
    int fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msglen, "Failed to connect to %s: %s", h->label, strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&h->addr, h->addr_len) != 0 && errno != EINPROGRESS) {
        snprintf(msg, msglen, "Failed to connect to %s: %s", h->label, strerror(errno));
        close(fd);
        return NULL;
    }
    h1_conn *c = calloc(1, sizeof *c);
    if (c) c->ev = event_new(tp->evbase, fd, EV_PERSIST, on_conn_event, c);
    if (c && c->ev && connect_timeout_ms > 0) c->timer = evtimer_new(tp->evbase, on_connect_timeout, c);
    if (!c || !c->ev || (connect_timeout_ms > 0 && !c->timer)) {
        if (c && c->ev) event_free(c->ev);
        free(c);
        close(fd);
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    c->tp = tp;
    c->host = h;
    c->fd = fd;
    c->all_next = tp->all;
    if (tp->all) tp->all->all_prev = c;
    tp->all = c;
    tp->n_conns++;
    if (c->timer) {
        struct timeval tv = {connect_timeout_ms / 1000, (connect_timeout_ms % 1000) * 1000};
        evtimer_add(c->timer, &tv);
    }
    return c;
}

/* ---------------------------------------------------------- exchanges */

static void x_release(sy_exchange_io *x)
{
    h1_tp *tp = x->tp;
    if (tp->n_free_x < FREE_MAX) {
        x->next_free = tp->free_x;
        tp->free_x = x;
        tp->n_free_x++;
        return;
    }
    sy_h1_free(&x->resp);
    free(x->head);
    free(x->pend);
    free(x);
}


/* The exchange is over: its connection parked (keep) or closed, on_done
 * told, the exchange released. */
static void x_end(sy_exchange_io *x, sy_io_error err, const char *msg, int keep)
{
    h1_conn *c = x->c;
    x->c = NULL;
    if (c) {
        c->x = NULL;
        if (keep) conn_park(c);
        else conn_close(c);
    }
    x->ending = 1;
    x->in_cb = 1;
    x->cbs->on_done(x->ctx, err, x->resp.head_done ? x->resp.status : 0, msg);
    x_release(x);
}

/* Cancelled (or the transport going away): no callback. */
static void x_abandon(sy_exchange_io *x)
{
    if (x->c) {
        x->c->x = NULL;
        conn_close(x->c);
        x->c = NULL;
    }
    x_release(x);
}

static int pend_put(sy_exchange_io *x, const char *p, size_t n)
{
    if (x->pend_len + n > x->pend_cap) {
        size_t cap = x->pend_cap ? x->pend_cap : 1024;
        while (cap < x->pend_len + n) cap *= 2;
        char *nb = realloc(x->pend, cap);
        if (!nb) return -1;
        x->pend = nb;
        x->pend_cap = cap;
    }
    memcpy(x->pend + x->pend_len, p, n);
    x->pend_len += n;
    return 0;
}

/* Use the answer's bytes in buf: the head, then body data handed to the
 * engine. *used: how many were used (when the exchange goes on). */
static int process(sy_exchange_io *x, const char *buf, size_t len, size_t *used)
{
    size_t off = 0;
    while (!x->resp.head_done) {
        ssize_t h = sy_h1_head(&x->resp, buf + off, len - off);
        if (h < 0) {
            x_end(x, SY_IO_BROKEN, x->resp.error, 0);
            return P_GONE;
        }
        if (h == 0) {
            *used = off;
            return P_MORE;
        }
        off += (size_t)h;
    }
    if (!x->headers_told) {
        x->headers_told = 1;
        x->in_cb = 1;
        x->cbs->on_headers(x->ctx, x->resp.status);
        x->in_cb = 0;
        if (x->cancelled) {
            x_abandon(x);
            return P_GONE;
        }
    }
    while (!x->resp.complete) {
        size_t framing;
        ssize_t d = sy_h1_body_next(&x->resp, buf + off, len - off, &framing);
        if (d < 0) {
            x_end(x, SY_IO_BROKEN, x->resp.error, 0);
            return P_GONE;
        }
        off += framing;
        if (d == 0) {
            if (x->resp.complete) break;
            *used = off;
            return P_MORE;
        }
        x->in_cb = 1;
        size_t took = x->cbs->on_data(x->ctx, buf + off, (size_t)d);
        x->in_cb = 0;
        if (x->cancelled) {
            x_abandon(x);
            return P_GONE;
        }
        if (took == SY_IO_PAUSE) {
            x->paused = 1;
            conn_watch(x->c, 0);
            *used = off;
            return P_PAUSED;
        }
        if (took != (size_t)d) {
            x_end(x, SY_IO_TOO_LARGE, "the answer is too large", 0);
            return P_GONE;
        }
        sy_h1_body_took(&x->resp, (size_t)d);
        off += (size_t)d;
    }
    /* Whole: the connection serves again if nothing else came on it, all of
     * the request went out, and the server did not say close. */
    int keep = x->resp.keep_alive && off == len && x->sent == x->head_len + x->body_len;
    x_end(x, SY_IO_OK, NULL, keep);
    return P_GONE;
}

/* New bytes p[0..n) (n may be 0: use what is pending, after a resume). */
static int consume(sy_exchange_io *x, const char *p, size_t n)
{
    size_t used = 0;
    if (x->pend_len) {
        if (n && pend_put(x, p, n) != 0) {
            x_end(x, SY_IO_OTHER, "out of memory", 0);
            return P_GONE;
        }
        int rc = process(x, x->pend, x->pend_len, &used);
        if (rc != P_GONE) {
            memmove(x->pend, x->pend + used, x->pend_len - used);
            x->pend_len -= used;
        }
        return rc;
    }
    if (!n) return P_MORE;
    int rc = process(x, p, n, &used);
    if (rc != P_GONE && used < n && pend_put(x, p + used, n - used) != 0) {
        x_end(x, SY_IO_OTHER, "out of memory", 0);
        return P_GONE;
    }
    return rc;
}

/* Send what is left of the request: 0 all out, 1 wait for room, -1 error (errno). */
static int x_send(sy_exchange_io *x)
{
    size_t total = x->head_len + x->body_len;
    while (x->sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (x->sent < x->head_len) {
            iov[n].iov_base = x->head + x->sent;
            iov[n++].iov_len = x->head_len - x->sent;
            if (x->body_len) {
                iov[n].iov_base = (void *)x->body;
                iov[n++].iov_len = x->body_len;
            }
        } else {
            size_t b = x->sent - x->head_len;
            iov[n].iov_base = (void *)(x->body + b);
            iov[n++].iov_len = x->body_len - b;
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(x->c->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            return -1;
        }
        x->sent += (size_t)w;
    }
    return 0;
}

/* Put x on connection c and start sending: 0 on its way, -1 when c failed
 * before any byte went out (errno). */
static int x_attach(sy_exchange_io *x, h1_conn *c)
{
    x->c = c;
    c->x = x;
    x->sent = 0;
    if (!c->connected) {
        conn_watch(c, EV_WRITE);
        return 0;
    }
    int rc = x_send(x);
    if (rc < 0) {
        c->x = NULL;
        x->c = NULL;
        return -1;
    }
    conn_watch(c, rc ? (short)(EV_READ | EV_WRITE) : EV_READ);
    return 0;
}

/* A reused connection died before any answer byte: the server had closed it
 * (an idle timeout racing our request). Send once more on a new one. */
static int x_resend(sy_exchange_io *x)
{
    if (x->resent || x->got_bytes || !x->c || x->c->served == 0) return 0;
    x->resent = 1;
    h1_conn *old = x->c;
    old->x = NULL;
    conn_close(old);
    x->c = NULL;
    char msg[256];
    h1_conn *c = conn_open(x->tp, x->host, x->connect_timeout_ms, msg, sizeof msg);
    if (!c) {
        x_end(x, SY_IO_CONNECT, msg, 0);
        return 1;
    }
    x_attach(x, c); /* not connected yet: cannot fail */
    return 1;
}

static void x_read(sy_exchange_io *x)
{
    h1_tp *tp = x->tp;
    ssize_t n = recv(x->c->fd, tp->scratch, sizeof tp->scratch, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        int e = errno;
        if (x_resend(x)) return;
        char msg[160];
        snprintf(msg, sizeof msg, "Recv failure: %s", strerror(e));
        x_end(x, SY_IO_BROKEN, msg, 0);
        return;
    }
    if (n == 0) {
        if (x_resend(x)) return;
        if (x->resp.head_done && sy_h1_eof(&x->resp)) {
            x_end(x, SY_IO_OK, NULL, 0); /* framed by the close */
        } else if (!x->got_bytes) {
            x_end(x, SY_IO_BROKEN, "Empty reply from server", 0);
        } else if (!x->resp.head_done) {
            x_end(x, SY_IO_BROKEN, "the upstream closed the connection inside the answer's head", 0);
        } else {
            x_end(x, SY_IO_BROKEN, "the upstream closed the connection before the answer's end", 0);
        }
        return;
    }
    x->got_bytes = 1;
    consume(x, tp->scratch, (size_t)n);
}

static void on_conn_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    h1_conn *c = arg;
    sy_exchange_io *x = c->x;
    if (!x) { /* idle and readable: closed by the server, or junk */
        conn_close(c);
        return;
    }
    if (!c->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err) {
            char msg[400];
            snprintf(msg, sizeof msg, "Failed to connect to %s: %s", c->host->label, strerror(err));
            x_end(x, SY_IO_CONNECT, msg, 0);
            return;
        }
        c->connected = 1;
        if (c->timer) evtimer_del(c->timer);
        what = EV_WRITE;
    }
    if (x->kick) { /* resumed: what is pending first */
        x->kick = 0;
        if (consume(x, NULL, 0) != P_MORE) return;
    }
    if ((what & EV_WRITE) && x->sent < x->head_len + x->body_len) {
        int rc = x_send(x);
        if (rc < 0) {
            int e = errno;
            if (x_resend(x)) return;
            char msg[160];
            snprintf(msg, sizeof msg, "Send failure: %s", strerror(e));
            x_end(x, SY_IO_BROKEN, msg, 0);
            return;
        }
        conn_watch(c, rc ? (short)(EV_READ | EV_WRITE) : EV_READ);
    }
    if ((what & EV_READ) && !x->paused) x_read(x);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    h1_conn *c = arg;
    if (!c->x || c->connected) return;
    char msg[160];
    snprintf(msg, sizeof msg, "Connection timed out after %lld milliseconds",
             (long long)c->x->connect_timeout_ms);
    x_end(c->x, SY_IO_TIMEOUT, msg, 0);
}

/* ------------------------------------------------------------- the ops */

static int put(sy_exchange_io *x, size_t *off, const char *s, size_t n)
{
    if (*off + n > x->head_cap) {
        size_t cap = x->head_cap ? x->head_cap : 1024;
        while (cap < *off + n) cap *= 2;
        char *nb = realloc(x->head, cap);
        if (!nb) return -1;
        x->head = nb;
        x->head_cap = cap;
    }
    memcpy(x->head + *off, s, n);
    *off += n;
    return 0;
}

/* The request head: the request line, Host, the plugin's header lines (one
 * with an empty value only removes, as in libcurl; none may hold a line
 * break), Content-Length. */
static int build_head(sy_exchange_io *x, const sy_http_request *hr, const char *method,
                      const char *auth, size_t alen, const char *path, int with_body)
{
    size_t off = 0;
    int ok = put(x, &off, method, strlen(method)) == 0 && put(x, &off, " ", 1) == 0;
    size_t pl = strcspn(path, "#");
    ok = ok && (pl ? put(x, &off, path, pl) : put(x, &off, "/", 1)) == 0;
    ok = ok && put(x, &off, " HTTP/1.1\r\n", 11) == 0;
    int own_host = 0;
    for (unsigned i = 0; ok && i < hr->n_headers && i < SY_MAX_HEADERS; i++) {
        const char *h = hr->headers[i];
        if (!h || strpbrk(h, "\r\n")) continue;
        const char *colon = strchr(h, ':');
        if (!colon) continue;
        const char *v = colon + 1;
        while (*v == ' ') v++;
        size_t nl = (size_t)(colon - h);
        if ((nl == 14 && !strncasecmp(h, "content-length", 14)) ||
            (nl == 17 && !strncasecmp(h, "transfer-encoding", 17)) ||
            (nl == 10 && !strncasecmp(h, "connection", 10)))
            continue; /* ours to set */
        if (nl == 4 && !strncasecmp(h, "host", 4)) own_host = 1;
        if (!*v) continue;
        ok = put(x, &off, h, strlen(h)) == 0 && put(x, &off, "\r\n", 2) == 0;
    }
    if (ok && !own_host)
        ok = put(x, &off, "Host: ", 6) == 0 && put(x, &off, auth, alen) == 0 &&
             put(x, &off, "\r\n", 2) == 0;
    if (ok && with_body) {
        char cl[48];
        sy_strbuf sb = sy_sb(cl, sizeof cl); /* by hand, not snprintf: on every request */
        SY_SB_LIT(&sb, "Content-Length: ");
        sy_sb_u64(&sb, hr->body_len);
        SY_SB_LIT(&sb, "\r\n");
        ok = put(x, &off, cl, sb.n) == 0;
    }
    ok = ok && put(x, &off, "\r\n", 2) == 0;
    x->head_len = off;
    return ok ? 0 : -1;
}

static sy_exchange_io *x_get(h1_tp *tp)
{
    sy_exchange_io *x = tp->free_x;
    if (x) {
        tp->free_x = x->next_free;
        tp->n_free_x--;
    } else if ((x = calloc(1, sizeof *x)) != NULL) {
        sy_h1_init(&x->resp);
    } else {
        return NULL;
    }
    char *head = x->head, *pend = x->pend;
    size_t head_cap = x->head_cap, pend_cap = x->pend_cap;
    sy_h1_resp resp = x->resp;
    memset(x, 0, sizeof *x);
    x->head = head;
    x->head_cap = head_cap;
    x->pend = pend;
    x->pend_cap = pend_cap;
    x->resp = resp;
    sy_h1_reset(&x->resp);
    x->tp = tp;
    return x;
}

static sy_exchange_io *h1_start(sy_transport *t, const sy_io_request *r, const sy_io_cbs *cbs,
                                void *ctx, char *msg, size_t msglen)
{
    h1_tp *tp = (h1_tp *)t;
    const sy_http_request *hr = r->http;
    const char *auth, *path;
    size_t alen;
    h1_host *h = NULL;
    if (!hr || split_url(hr->url, &auth, &alen, &path) != 0 ||
        (h = host_for(tp, auth, alen)) == NULL) {
        snprintf(msg, msglen, "the built-in HTTP client cannot reach this URL");
        return NULL;
    }
    /* A probe (no canonical request) is a GET; ABI 1.3 plugins choose. */
    const char *method = hr->method ? hr->method : r->req ? "POST" : "GET";
    int with_body = strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0;
    sy_exchange_io *x = x_get(tp);
    if (!x || build_head(x, hr, method, auth, alen, path, with_body) != 0) {
        if (x) x_release(x);
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    x->host = h;
    x->cbs = cbs;
    x->ctx = ctx;
    x->body = with_body && hr->body ? hr->body : "";
    x->body_len = with_body && hr->body ? hr->body_len : 0;
    x->connect_timeout_ms = r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 10000;
    /* A reused connection first; one that fails at once was closed by the
     * server: the next, then a new one. */
    while (h->idle) {
        h1_conn *c = h->idle;
        idle_unlink(c);
        if (x_attach(x, c) == 0) return x;
        conn_close(c);
    }
    h1_conn *c = conn_open(tp, h, x->connect_timeout_ms, msg, msglen);
    if (!c) {
        x_release(x);
        return NULL;
    }
    x_attach(x, c);
    return x;
}

static void h1_resume(sy_exchange_io *x)
{
    if (!x->paused || !x->c) return;
    x->paused = 0;
    x->kick = 1; /* the loop hands on what is pending, never this call */
    conn_watch(x->c, EV_READ);
    event_active(x->c->ev, EV_READ, 1);
}

static void h1_cancel(sy_exchange_io *x)
{
    if (x->ending) return; /* inside on_done: released right after */
    if (x->in_cb) {
        x->cancelled = 1;
        return;
    }
    x_abandon(x);
}

static const char *h1_header(sy_exchange_io *x, const char *name)
{
    return x->resp.head_done ? sy_h1_header(&x->resp, name) : NULL;
}

static const sy_transport_ops h1_ops = {h1_start, h1_resume, h1_cancel, h1_header, NULL,
                                        h1_accepts};

sy_transport *sy_transport_h1_new(struct event_base *base)
{
    h1_tp *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    tp->base.ops = &h1_ops;
    tp->evbase = base;
    tp->proxy_in_env = proxy_in_env(); /* read once: the environment does not change */
    return &tp->base;
}

void sy_transport_h1_free(sy_transport *t)
{
    if (!t) return;
    h1_tp *tp = (h1_tp *)t;
    while (tp->all) {
        h1_conn *c = tp->all;
        if (c->x) {
            sy_exchange_io *x = c->x;
            x_abandon(x);
        } else {
            conn_close(c);
        }
    }
    while (tp->free_x) {
        sy_exchange_io *x = tp->free_x;
        tp->free_x = x->next_free;
        sy_h1_free(&x->resp);
        free(x->head);
        free(x->pend);
        free(x);
    }
    while (tp->hosts) {
        h1_host *h = tp->hosts;
        tp->hosts = h->next;
        free(h);
    }
    free(tp);
}

size_t sy_transport_h1_connections(sy_transport *t) { return ((h1_tp *)t)->n_conns; }
