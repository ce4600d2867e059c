/* tls_relay.c - rediss:// through a private Unix socket (see tls_relay.h). */
#include "tls_relay.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct pair {
    struct sy_tls_relay *t;
    struct bufferevent *client, *tls;
    struct pair *prev, *next;
} pair;

struct sy_tls_relay {
    struct event_base *base;
    SSL_CTX *ctx;
    char host[256];
    int port;
    int64_t timeout_ms;
    int listen_fd;
    struct event *ev_accept;
    char dir[64], path[100]; /* fits sockaddr_un.sun_path */
    char error[600];
    pair *pairs;
};

static void pair_free(pair *p)
{
    if (p->prev) p->prev->next = p->next; else p->t->pairs = p->next;
    if (p->next) p->next->prev = p->prev;
    if (p->client) bufferevent_free(p->client);
    if (p->tls) bufferevent_free(p->tls);
    free(p);
}

static void note_tls_error(sy_tls_relay *t, struct bufferevent *bev, short what)
{
    unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;
    if (!e) e = ERR_get_error();
    if (e) {
        char buf[200];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(t->error, sizeof t->error, "TLS to %s:%d: %s", t->host, t->port, buf);
    } else if (what & BEV_EVENT_TIMEOUT) {
        snprintf(t->error, sizeof t->error, "TLS to %s:%d: timed out", t->host, t->port);
    } else if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        snprintf(t->error, sizeof t->error, "TLS to %s:%d: %s", t->host, t->port,
                 err ? evutil_socket_error_to_string(err) : "connection failed");
    }
    ERR_clear_error();
}

/* Whatever one side sent goes to the other. */
static void on_client_read(struct bufferevent *bev, void *arg)
{
    pair *p = arg;
    bufferevent_write_buffer(p->tls, bufferevent_get_input(bev));
}

static void on_tls_read(struct bufferevent *bev, void *arg)
{
    pair *p = arg;
    bufferevent_write_buffer(p->client, bufferevent_get_input(bev));
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
    pair *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        p->t->error[0] = '\0';
        bufferevent_set_timeouts(bev, NULL, NULL); /* a connection may stay quiet */
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) note_tls_error(p->t, bev, what);
    pair_free(p); /* the client sees its connection close: hiredis reconnects */
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) pair_free(arg);
}

static int start_tls(sy_tls_relay *t, pair *p)
{
    char port[16];
    snprintf(port, sizeof port, "%d", t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(t->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(t->error, sizeof t->error, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return -1;
    }
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl) {
        freeaddrinfo(ai);
        snprintf(t->error, sizeof t->error, "out of memory");
        return -1;
    }
    SSL_set_tlsext_host_name(ssl, t->host);
    /* The certificate must name the host: an IP address as such, else the name. */
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1) SSL_set1_host(ssl, t->host);
    p->tls = bufferevent_openssl_socket_new(t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!p->tls) {
        SSL_free(ssl);
        freeaddrinfo(ai);
        snprintf(t->error, sizeof t->error, "out of memory");
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(p->tls, 1);
    bufferevent_setcb(p->tls, on_tls_read, NULL, on_tls_event, p);
    struct timeval tv = {(time_t)(t->timeout_ms / 1000), (suseconds_t)(t->timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(p->tls, &tv, &tv);
    rc = bufferevent_socket_connect(p->tls, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0) {
        note_tls_error(t, p->tls, BEV_EVENT_ERROR);
        return -1;
    }
    bufferevent_enable(p->tls, EV_READ | EV_WRITE);
    return 0;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_tls_relay *t = arg;
    int c = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    pair *p = calloc(1, sizeof *p);
    if (!p) {
        close(c);
        return;
    }
    p->t = t;
    p->next = t->pairs;
    if (t->pairs) t->pairs->prev = p;
    t->pairs = p;
    p->client = bufferevent_socket_new(t->base, c, BEV_OPT_CLOSE_ON_FREE);
    if (!p->client) {
        close(c);
        pair_free(p);
        return;
    }
    bufferevent_setcb(p->client, on_client_read, NULL, on_client_event, p);
    if (start_tls(t, p) != 0) {
        pair_free(p);
        return;
    }
    bufferevent_enable(p->client, EV_READ | EV_WRITE);
}

sy_tls_relay *sy_tls_relay_new(struct event_base *base, const char *host, int port,
                               int64_t connect_timeout_ms, char *err, size_t errlen)
{
    sy_tls_relay *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->base = base;
    t->port = port;
    t->listen_fd = -1;
    t->timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 1000;
    snprintf(t->host, sizeof t->host, "%s", host);
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        free(t);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(t->ctx); /* SSL_CERT_FILE / SSL_CERT_DIR too */
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);

    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/switchyard-redis-XXXXXX",
             tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(t->dir)) { /* mode 0700: only this user reaches the socket */
        snprintf(err, errlen, "cannot make a private folder for the TLS relay: %s", strerror(errno));
        t->dir[0] = '\0';
        sy_tls_relay_free(t);
        return NULL;
    }
    snprintf(t->path, sizeof t->path, "%s/redis.sock", t->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", t->path);
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(t->listen_fd, 8) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", t->path, strerror(errno));
        sy_tls_relay_free(t);
        return NULL;
    }
    t->ev_accept = event_new(base, t->listen_fd, EV_READ | EV_PERSIST, on_accept, t);
    if (!t->ev_accept || event_add(t->ev_accept, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        sy_tls_relay_free(t);
        return NULL;
    }
    return t;
}

const char *sy_tls_relay_path(const sy_tls_relay *t) { return t->path; }
const char *sy_tls_relay_error(const sy_tls_relay *t) { return t->error; }

void sy_tls_relay_free(sy_tls_relay *t)
{
    if (!t) return;
    while (t->pairs) pair_free(t->pairs);
    if (t->ev_accept) event_free(t->ev_accept);
    if (t->listen_fd >= 0) close(t->listen_fd);
    if (t->path[0]) unlink(t->path);
    if (t->dir[0]) rmdir(t->dir);
    if (t->ctx) SSL_CTX_free(t->ctx);
    free(t);
}
