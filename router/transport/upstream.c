/* upstream.c - libcurl multi-socket on a libevent base (see upstream.h). */
#include "upstream.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "header_store.h"

#define HDR_STORE_FIRST 1024 /* the header store's first allocation (header_store.h) */
#define POOL_MAX 256   /* idle easy handles kept per worker */

/* One upstream socket. Indexed by fd in sy_upstream.socks: curl forgets the
 * pointer assigned to a socket when it goes idle, but we keep the event of a
 * connection registered (want == 0) so reusing the connection costs no
 * epoll_ctl. Only connection sockets may stay: curl opens them through
 * on_open_socket and closes them through on_close_socket, where the event
 * goes. Other descriptors curl asks us to watch (the threaded resolver's
 * socketpair) are closed by curl itself, so they are forgotten as soon as
 * curl stops watching them: an event left on a closed descriptor would sit
 * in libevent's map while the kernel dropped it from epoll, and the next
 * socket given that number - a client connection, say - would never be
 * polled. */
typedef struct sock_ctx {
    sy_upstream *u;
    curl_socket_t fd;
    struct event *ev;
    short registered; /* EV_READ/EV_WRITE flags the event is added with; 0 = not added */
    int want;         /* what curl asked for: CURL_POLL_IN/OUT/INOUT, 0 when idle */
    int conn;         /* a connection socket (on_open_socket): closed via on_close_socket */
} sock_ctx;

struct sy_transfer {
    sy_upstream *u;
    CURL *easy;
    const sy_transfer_cbs *cbs;
    void *ctx;
    sy_transfer *prev, *next;
    struct curl_slist hdr_nodes[SY_MAX_HEADERS + 2];
    /* Allocated on the first header and kept while the struct is pooled:
     * an 8 KiB array in the struct would cost every open stream its pages. */
    sy_hdr_store hdrs;
    size_t hdr_bytes;  /* header bytes of the current response, all of them */
    int hdr_too_large; /* more than SY_HDR_HEAD_MAX: aborted */
    int headers_seen;
    char errbuf[CURL_ERROR_SIZE];
};

struct sy_upstream {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    sy_transfer *active;
    size_t n_active;
    CURL *pool[POOL_MAX];
    size_t n_pool;
    sy_transfer *free_transfers; /* reused structs, with their header store */
    size_t n_free_transfers;
    int proxy_from_env;          /* a *_proxy variable was set at start: let curl read it */
    sock_ctx **socks; /* by fd */
    size_t n_socks;
};

static void check_done(sy_upstream *u);

/* ------------------------------------------------------------ sockets */

static sock_ctx *sock_get(sy_upstream *u, curl_socket_t fd, int create)
{
    if (fd < 0) return NULL;
    if ((size_t)fd >= u->n_socks) {
        if (!create) return NULL;
        size_t n = u->n_socks ? u->n_socks : 64;
        while (n <= (size_t)fd) n *= 2;
        sock_ctx **ns = realloc(u->socks, n * sizeof *ns);
        if (!ns) return NULL;
        memset(ns + u->n_socks, 0, (n - u->n_socks) * sizeof *ns);
        u->socks = ns;
        u->n_socks = n;
    }
    sock_ctx *sc = u->socks[fd];
    if (!sc && create) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return NULL;
        sc->u = u;
        sc->fd = fd;
        u->socks[fd] = sc;
    }
    return sc;
}

static void sock_drop(sy_upstream *u, curl_socket_t fd)
{
    sock_ctx *sc = sock_get(u, fd, 0);
    if (!sc) return;
    if (sc->ev) event_free(sc->ev);
    free(sc);
    u->socks[fd] = NULL;
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    sock_ctx *sc = arg;
    sy_upstream *u = sc->u;
    if (!sc->want) {
        /* An idle cached connection became readable: the peer closed it or
         * sent junk. Stop watching; curl notices when it next uses it. */
        event_del(sc->ev);
        sc->registered = 0;
        return;
    }
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(u->multi, fd, action, &running); /* may free sc */
    check_done(u);
}

static void sock_register(sock_ctx *sc, short flags)
{
    if (sc->registered == flags) return;
    if (!sc->ev) {
        sc->ev = event_new(sc->u->base, sc->fd, flags | EV_PERSIST, on_sock_event, sc);
        if (!sc->ev) return;
    } else {
        if (sc->registered) event_del(sc->ev);
        event_assign(sc->ev, sc->u->base, sc->fd, flags | EV_PERSIST, on_sock_event, sc);
    }
    if (flags) event_add(sc->ev, NULL);
    sc->registered = flags;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    sy_upstream *u = userp;
    sock_ctx *sc = sock_get(u, fd, what != CURL_POLL_REMOVE);
    if (!sc) return 0;
    if (what == CURL_POLL_REMOVE) {
        if (!sc->conn) {
            sock_drop(u, fd); /* curl closes it without telling us */
            return 0;
        }
        /* Idle: keep watching for reads only (cheap to keep, and no
         * epoll_ctl when the connection is reused). */
        sc->want = 0;
        if (sc->registered & EV_WRITE) sock_register(sc, EV_READ);
        return 0;
    }
    sc->want = what;
    short flags = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    sock_register(sc, flags);
    return 0;
}

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *a)
{
    (void)purpose;
    sy_upstream *u = clientp;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    sock_drop(u, fd); /* whatever had this number before is gone */
    sock_ctx *sc = sock_get(u, fd, 1);
    if (!sc) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    sc->conn = 1;
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    sy_upstream *u = clientp;
    sock_drop(u, fd);
    return close(fd);
}

/* ------------------------------------------------------------- timer */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sy_upstream *u = arg;
    int running;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    sy_upstream *u = userp;
    if (timeout_ms < 0) {
        evtimer_del(u->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(u->timer, &tv);
    return 0;
}

/* --------------------------------------------------------- transfers */

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    sy_transfer *t = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        sy_hdr_store_clear(&t->hdrs); /* a new response (after 100 Continue): forget the old */
        t->hdr_bytes = 0;
    }
    t->hdr_bytes += n;
    if (t->hdr_bytes > SY_HDR_HEAD_MAX) {
        t->hdr_too_large = 1;
        return 0; /* abort: curl reports a write error */
    }
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) return n;
    const char *colon = memchr(p, ':', n);
    if (!colon) return n;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t vl = (size_t)(end - v);
    sy_hdr_store_add(&t->hdrs, p, nl, v, vl, HDR_STORE_FIRST);
    return n;
}

static void headers_in(sy_transfer *t)
{
    if (t->headers_seen) return;
    t->headers_seen = 1;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (t->cbs->on_headers) t->cbs->on_headers(t->ctx, t, (int)status);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    sy_transfer *t = ud;
    size_t n = size * nmemb;
    headers_in(t);
    size_t r = t->cbs->on_data(t->ctx, t, p, n);
    if (r == SY_XFER_PAUSE) return CURL_WRITEFUNC_PAUSE;
    return r;
}

const char *sy_transfer_header(const sy_transfer *t, const char *name)
{
    return sy_hdr_store_get(&t->hdrs, name);
}

static void transfer_free(sy_transfer *t)
{
    sy_hdr_store_free(&t->hdrs);
    free(t);
}

static void unlink_transfer(sy_transfer *t)
{
    sy_upstream *u = t->u;
    if (t->prev) t->prev->next = t->next;
    else u->active = t->next;
    if (t->next) t->next->prev = t->prev;
    u->n_active--;
}

static void release_transfer(sy_transfer *t)
{
    sy_upstream *u = t->u;
    curl_multi_remove_handle(u->multi, t->easy);
    unlink_transfer(t);
    /* Pooled easy handles keep their options: every transfer sets the same
     * ones again, so no curl_easy_reset (it clears a large struct). */
    if (u->n_pool < POOL_MAX) u->pool[u->n_pool++] = t->easy;
    else curl_easy_cleanup(t->easy);
    if (u->n_free_transfers < POOL_MAX) {
        t->next = u->free_transfers;
        u->free_transfers = t;
        u->n_free_transfers++;
    } else {
        transfer_free(t);
    }
}

/* A new easy handle with the options that never change. */
static CURL *easy_new(sy_upstream *u)
{
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, u);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
    /* Without a proxy in the environment at start, tell curl so: it would
     * otherwise read the *_proxy variables on every transfer. */
    if (!u->proxy_from_env) curl_easy_setopt(e, CURLOPT_PROXY, "");
    return e;
}

static sy_xfer_error map_error(CURLcode c)
{
    switch (c) {
    case CURLE_OK: return SY_XFER_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return SY_XFER_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return SY_XFER_TIMEOUT;
    case CURLE_WRITE_ERROR: return SY_XFER_ABORTED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return SY_XFER_IO;
    default: return SY_XFER_OTHER;
    }
}

/* The transfer failed on its response headers being too large: ours (over
 * SY_HDR_HEAD_MAX), or curl's own limit on one header line (100 KiB), which curl
 * before 8.6 reports as "Out of memory" and later as CURLE_TOO_LARGE. */
static int header_too_large(const sy_transfer *t, CURLcode code)
{
    if (t->hdr_too_large) return 1;
    if (t->headers_seen) return 0;
#if LIBCURL_VERSION_NUM >= 0x080600
    if (code == CURLE_TOO_LARGE) return 1;
#endif
    return code == CURLE_OUT_OF_MEMORY;
}

static void check_done(sy_upstream *u)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        sy_transfer *t = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (!t) continue;
        CURLcode code = m->data.result;
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        if (code == CURLE_OK) headers_in(t);
        char msg[CURL_ERROR_SIZE + 64];
        msg[0] = '\0';
        sy_xfer_error err = map_error(code);
        if (header_too_large(t, code)) {
            err = SY_XFER_IO;
            snprintf(msg, sizeof msg, "%s", SY_HDR_TOO_LARGE);
        } else if (code != CURLE_OK) {
            snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
        }
        /* Detach before the callback: it may start the next attempt. */
        curl_multi_remove_handle(u->multi, t->easy);
        t->cbs->on_done(t->ctx, t, err, (int)status, msg);
        release_transfer(t);
    }
}

/* Start a POST of hr's body, or a GET (get = 1: hr's body is not sent). */
static sy_transfer *start_transfer(sy_upstream *u, int get, const sy_http_request *hr,
                                   int64_t timeout_ms, int64_t connect_timeout_ms,
                                   const sy_transfer_cbs *cbs, void *ctx, char *msg, size_t msglen)
{
    sy_transfer *t = u->free_transfers;
    if (t) {
        u->free_transfers = t->next;
        u->n_free_transfers--;
    } else if ((t = malloc(sizeof *t)) != NULL) {
        t->hdrs = (sy_hdr_store){0};
    } else {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    CURL *e = u->n_pool ? u->pool[--u->n_pool] : easy_new(u);
    if (!e) {
        transfer_free(t);
        snprintf(msg, msglen, "curl_easy_init failed");
        return NULL;
    }
    t->u = u;
    t->easy = e;
    t->cbs = cbs;
    t->ctx = ctx;
    t->prev = t->next = NULL;
    sy_hdr_store_clear(&t->hdrs);
    t->hdr_bytes = 0;
    t->hdr_too_large = 0;
    t->headers_seen = 0;
    t->errbuf[0] = '\0';

    /* Headers: the plugin's lines plus "Expect:" (curl would otherwise wait
     * for a 100 Continue on bodies over 1 KiB). Nodes live in the transfer. */
    unsigned n = 0;
    for (unsigned i = 0; i < hr->n_headers && i < SY_MAX_HEADERS; i++)
        t->hdr_nodes[n++].data = (char *)hr->headers[i];
    t->hdr_nodes[n++].data = (char *)"Expect:";
    for (unsigned i = 0; i < n; i++) t->hdr_nodes[i].next = i + 1 < n ? &t->hdr_nodes[i + 1] : NULL;

    curl_easy_setopt(e, CURLOPT_URL, hr->url);
    /* Plugin ABI 1.3: a method of the plugin's choosing (the Responses API
     * reads and deletes stored responses). GET and DELETE send no body. */
    int del = hr->method && !strcmp(hr->method, "DELETE");
    if (hr->method && !strcmp(hr->method, "GET")) get = 1;
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, del ? "DELETE" : NULL); /* pooled handles keep it */
    if (get || del) {
        /* Pooled handles keep their options: HTTPGET turns a handle last used
         * for a POST back to GET, and POSTFIELDS below turns it to POST again. */
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, hr->body ? hr->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)hr->body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdr_nodes);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout_ms > 0 ? connect_timeout_ms : 10000));

    t->next = u->active;
    if (u->active) u->active->prev = t;
    u->active = t;
    u->n_active++;
    CURLMcode mc = curl_multi_add_handle(u->multi, e);
    if (mc != CURLM_OK) {
        snprintf(msg, msglen, "could not start transfer: %s", curl_multi_strerror(mc));
        unlink_transfer(t);
        curl_easy_cleanup(e);
        transfer_free(t);
        return NULL;
    }
    return t;
}

sy_transfer *sy_upstream_post(sy_upstream *u, const sy_http_request *hr, int64_t timeout_ms,
                              int64_t connect_timeout_ms, const sy_transfer_cbs *cbs, void *ctx,
                              char *msg, size_t msglen)
{
    return start_transfer(u, 0, hr, timeout_ms, connect_timeout_ms, cbs, ctx, msg, msglen);
}

sy_transfer *sy_upstream_get(sy_upstream *u, const sy_http_request *hr, int64_t timeout_ms,
                             int64_t connect_timeout_ms, const sy_transfer_cbs *cbs, void *ctx,
                             char *msg, size_t msglen)
{
    return start_transfer(u, 1, hr, timeout_ms, connect_timeout_ms, cbs, ctx, msg, msglen);
}

void sy_transfer_cancel(sy_transfer *t)
{
    if (t) release_transfer(t);
}

void sy_transfer_resume(sy_transfer *t)
{
    curl_easy_pause(t->easy, CURLPAUSE_CONT);
}

size_t sy_upstream_active(const sy_upstream *u) { return u->n_active; }

sy_upstream *sy_upstream_new(struct event_base *base)
{
    sy_upstream *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->base = base;
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy", "ALL_PROXY", NULL};
    for (size_t i = 0; proxy_vars[i]; i++)
        if (getenv(proxy_vars[i])) u->proxy_from_env = 1;
    u->multi = curl_multi_init();
    u->timer = evtimer_new(base, on_timer, u);
    if (!u->multi || !u->timer) {
        sy_upstream_free(u);
        return NULL;
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    /* Never close a reusable upstream connection for want of cache room. */
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 4096L);
    return u;
}

void sy_upstream_free(sy_upstream *u)
{
    if (!u) return;
    while (u->active) release_transfer(u->active);
    if (u->multi) curl_multi_cleanup(u->multi); /* closes cached connections via on_close_socket */
    for (size_t i = 0; i < u->n_pool; i++) curl_easy_cleanup(u->pool[i]);
    while (u->free_transfers) {
        sy_transfer *t = u->free_transfers;
        u->free_transfers = t->next;
        transfer_free(t);
    }
    for (size_t i = 0; i < u->n_socks; i++)
        if (u->socks[i]) {
            if (u->socks[i]->ev) event_free(u->socks[i]->ev);
            free(u->socks[i]);
        }
    free(u->socks);
    if (u->timer) event_free(u->timer);
    free(u);
}
