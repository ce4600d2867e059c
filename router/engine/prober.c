/* prober.c - active health checks on a loop and a transport (see prober.h). */
#include "prober.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "loader.h"
#include "log.h"
#include "redact.h"

#define MS_NS 1000000ull

typedef struct probe probe;

struct sy_prober {
    sy_loop *loop;
    sy_transport *tp;
    sy_router *router;
    sy_policy *policy; /* the current one (our reference), or NULL */
    probe **probes;    /* one per endpoint probed */
    size_t n;
};

/* One endpoint's probing. Heap-allocated and moved between policies by
 * pointer, so timers and the transport can keep pointing at it. */
struct probe {
    sy_prober *pr;
    const sy_policy_provider *prov; /* in pr->policy */
    const sy_policy_endpoint *ep;
    sy_endpoint_state *state;       /* the router's: the key across reloads */
    sy_health health;
    sy_timer *tick;                 /* starts the next probe */
    sy_timer *deadline;             /* the timeout of the probe in flight */
    sy_exchange_io *x;              /* the probe in flight, or NULL */
    sy_policy *x_policy;            /* held while x is in flight: http points into its
                                     * plugin instance */
    sy_http_request http;
    uint64_t started_ns;
    int64_t timeout_ms;             /* of the probe in flight */
    int has_started;                /* a probe was started at least once */
    int status;                     /* of the probe in flight, once its headers came */
    int build_failed;               /* the plugin could not build it (logged once) */
    /* Scratch for sy_prober_set_policy: carried into the new set, and where
     * it will point once the new set is committed. */
    int kept;
    const sy_policy_provider *next_prov;
    const sy_policy_endpoint *next_ep;
};

/* ------------------------------------------------------------ building */

int sy_prober_build_request(const sy_policy_provider *prov, const sy_policy_endpoint *ep,
                            sy_http_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    const char *path = prov->health.path ? prov->health.path : "/models";
    sy_plugin_health_fn fn = sy_plugin_health_request(prov->plugin);
    if (fn) {
        if (fn(prov->instance, &ep->view, path, out, err, errlen) == 0) return 0;
        if (err && errlen && !err[0])
            snprintf(err, errlen, "plugin %s could not build the health check", prov->plugin->name);
        return -1;
    }
    /* A plugin without health_request (or built before ABI 1.2): a bare GET. */
    int n = snprintf(out->url, sizeof out->url, "%s%s", ep->base_url ? ep->base_url : "", path);
    if (n < 0 || (size_t)n >= sizeof out->url) {
        out->url[0] = '\0';
        snprintf(err, errlen, "the health check URL of endpoint '%s' is too long", ep->name);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ publishing */

/* Set the endpoint's published health and tell the observers. */
static void publish(sy_prober *pr, sy_endpoint_state *s, int up)
{
    sy_endpoint_set_healthy(s, up, sy_router_endpoint_changed, pr->router);
}

/* One probe's result is in: the first one makes the health known (until
 * then it is assumed, and /admin/status and /metrics say so). */
static void count_check(sy_prober *pr, sy_endpoint_state *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->checks++ == 0) sy_router_emit_endpoint(pr->router, s);
    pthread_mutex_unlock(&s->mu);
}

static void log_change(const probe *p, const char *why)
{
    const sy_health_check *hc = &p->prov->health;
    if (p->health.up)
        sy_log_info("health check: %s/%s is up again after %d good check%s in a row; "
                    "requests go to it again",
                    p->prov->name, p->ep->name, hc->healthy_after,
                    hc->healthy_after == 1 ? "" : "s");
    else
        sy_log_warn("health check: %s/%s is down after %d failed check%s in a row (last: %s); "
                    "no requests go to it until %d check%s pass",
                    p->prov->name, p->ep->name, hc->unhealthy_after,
                    hc->unhealthy_after == 1 ? "" : "s", why, hc->healthy_after,
                    hc->healthy_after == 1 ? "" : "s");
}

/* ------------------------------------------------------------ probing */

static int64_t interval_ms(const probe *p)
{
    return p->prov->health.interval_ms > 0 ? p->prov->health.interval_ms : 1;
}

/* Arm the next probe: interval after the last one started (at once when that
 * is past, or when none has started yet). */
static void schedule_next(probe *p)
{
    uint64_t now = sy_loop_now(p->pr->loop);
    uint64_t due = p->has_started ? p->started_ns + (uint64_t)interval_ms(p) * MS_NS : now;
    sy_timer_arm_ns(p->tick, due > now ? due - now : 0);
}

/* The probe in flight is over (x already ended or cancelled). */
static void release_exchange(probe *p)
{
    p->x = NULL;
    if (p->http.body_owned) sy_host_api_get()->free(p->http.body_owned);
    p->http.body_owned = NULL;
    sy_policy_unref(p->x_policy);
    p->x_policy = NULL;
}

static void finish(probe *p, int ok, const char *why)
{
    sy_timer_cancel(p->deadline);
    const sy_health_check *hc = &p->prov->health;
    count_check(p->pr, p->state);
    if (sy_health_record(&p->health, ok, hc->unhealthy_after, hc->healthy_after)) {
        publish(p->pr, p->state, p->health.up);
        log_change(p, why);
    } else {
        sy_log_debug("health check: %s/%s %s (%s)", p->prov->name, p->ep->name,
                     ok ? "passed" : "failed", why);
    }
    schedule_next(p);
}

static void on_headers(void *ctx, int status) { ((probe *)ctx)->status = status; }

/* The body is not looked at: the status says it all. */
static size_t on_data(void *ctx, const char *data, size_t n)
{
    (void)ctx;
    (void)data;
    return n;
}

static const char *io_error_name(sy_io_error e)
{
    switch (e) {
    case SY_IO_OK: return "ok";
    case SY_IO_CONNECT: return "connect error";
    case SY_IO_TIMEOUT: return "connect timeout";
    case SY_IO_BROKEN: return "connection broken";
    case SY_IO_TOO_LARGE: return "answer refused";
    case SY_IO_OTHER: break;
    }
    return "transport error";
}

static void on_done(void *ctx, sy_io_error err, int status, const char *msg)
{
    probe *p = ctx;
    if (!status) status = p->status;
    int ok = err == SY_IO_OK && status >= 200 && status < 300;
    char why[256];
    if (err == SY_IO_OK)
        snprintf(why, sizeof why, "HTTP %d", status);
    else
        snprintf(why, sizeof why, "%s%s%s", io_error_name(err), msg && *msg ? ": " : "",
                 msg ? msg : "");
    sy_redact_str(p->x_policy->redactor, why, sizeof why);
    release_exchange(p); /* the transport frees x when we return */
    finish(p, ok, why);
}

static const sy_io_cbs probe_cbs = {on_headers, on_data, on_done};

static void on_deadline(void *arg)
{
    probe *p = arg;
    if (!p->x) return;
    p->pr->tp->ops->cancel(p->x);
    release_exchange(p);
    char why[64];
    snprintf(why, sizeof why, "no answer within %lld ms", (long long)p->timeout_ms);
    finish(p, 0, why);
}

static void on_tick(void *arg)
{
    probe *p = arg;
    sy_prober *pr = p->pr;
    if (p->x) return; /* one probe at a time */
    p->started_ns = sy_loop_now(pr->loop);
    p->has_started = 1;
    p->status = 0;

    char err[256];
    if (sy_prober_build_request(p->prov, p->ep, &p->http, err, sizeof err) != 0) {
        /* Not the endpoint's fault: no verdict, and one log line until it works. */
        if (!p->build_failed) {
            sy_redact_str(pr->policy->redactor, err, sizeof err);
            sy_log_warn("health check of %s/%s not sent: %s", p->prov->name, p->ep->name, err);
        }
        p->build_failed = 1;
        if (p->http.body_owned) sy_host_api_get()->free(p->http.body_owned);
        p->http.body_owned = NULL;
        schedule_next(p);
        return;
    }
    p->build_failed = 0;

    int64_t timeout = p->prov->health.timeout_ms > 0 ? p->prov->health.timeout_ms : 1;
    int64_t connect = p->ep->connect_timeout_ms ? p->ep->connect_timeout_ms
                                                : p->prov->connect_timeout_ms;
    sy_io_request io = {
        .plugin = p->prov->plugin,
        .instance = p->prov->instance,
        .endpoint = &p->ep->view,
        .req = NULL, /* a probe: sent as a GET (transport.h) */
        .http = &p->http,
        .connect_timeout_ms = connect > 0 && connect < timeout ? connect : timeout,
    };
    p->x_policy = sy_policy_ref(pr->policy);
    char msg[256] = "";
    p->x = pr->tp->ops->start(pr->tp, &io, &probe_cbs, p, msg, sizeof msg);
    if (!p->x) {
        char why[300];
        snprintf(why, sizeof why, "connect error: %s", msg[0] ? msg : "could not start");
        sy_redact_str(pr->policy->redactor, why, sizeof why);
        release_exchange(p);
        finish(p, 0, why);
        return;
    }
    p->timeout_ms = timeout;
    sy_timer_arm_ms(p->deadline, timeout);
}

/* ------------------------------------------------------------ the set */

static void probe_free(probe *p)
{
    if (!p) return;
    if (p->x) {
        p->pr->tp->ops->cancel(p->x);
        release_exchange(p);
    }
    sy_timer_free(p->tick);
    sy_timer_free(p->deadline);
    free(p);
}

static probe *probe_new(sy_prober *pr, sy_endpoint_state *s)
{
    probe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->pr = pr;
    p->state = s;
    p->tick = sy_timer_new(pr->loop, on_tick, p);
    p->deadline = sy_timer_new(pr->loop, on_deadline, p);
    if (!p->tick || !p->deadline) {
        probe_free(p);
        return NULL;
    }
    /* Start from the health the endpoint has (up, unless an earlier prober
     * left it down), so the machine and the published flag agree. */
    sy_health_init(&p->health);
    pthread_mutex_lock(&s->mu);
    p->health.up = s->healthy != 0;
    pthread_mutex_unlock(&s->mu);
    return p;
}

static probe *find_probe(probe *const *set, size_t n, const sy_endpoint_state *s)
{
    for (size_t i = 0; i < n; i++)
        if (set[i]->state == s) return set[i];
    return NULL;
}

/* Does the prober probe this provider's endpoints? (A provider whose plugin
 * did not load has nothing to build a probe with.) */
static int probes_provider(const sy_policy_provider *prov)
{
    return prov->plugin && sy_policy_health_probed(prov);
}

/* An endpoint that is no longer probed: stop, and count it healthy again. */
static void drop(sy_prober *pr, probe *p)
{
    pthread_mutex_lock(&p->state->mu);
    p->state->checks = 0; /* no longer measured */
    pthread_mutex_unlock(&p->state->mu);
    if (!p->health.up) {
        publish(pr, p->state, 1);
        sy_log_info("health check: %s/%s is no longer checked; counted healthy again",
                    p->state->provider, p->state->endpoint);
    }
    probe_free(p);
}

sy_prober *sy_prober_new(sy_loop *loop, sy_transport *transport, sy_router *router)
{
    sy_prober *pr = calloc(1, sizeof *pr);
    if (!pr) return NULL;
    pr->loop = loop;
    pr->tp = transport;
    pr->router = router;
    return pr;
}

int sy_prober_set_policy(sy_prober *pr, sy_policy *pol)
{
    size_t want = 0;
    for (size_t i = 0; pol && i < pol->n_providers; i++)
        if (probes_provider(&pol->providers[i])) want += pol->providers[i].n_endpoints;
    probe **next = calloc(want ? want : 1, sizeof *next);
    if (!next) return -1;

    /* Every endpoint to probe: its probe carried over by its state (so by
     * provider and endpoint name), or a new one. Nothing changes until all
     * of them exist, so running out of memory leaves the old set running. */
    size_t n = 0;
    for (size_t i = 0; pol && i < pol->n_providers; i++) {
        const sy_policy_provider *prov = &pol->providers[i];
        if (!probes_provider(prov)) continue;
        for (size_t j = 0; j < prov->n_endpoints; j++) {
            sy_endpoint_state *s = sy_router_endpoint(pr->router, prov, &prov->endpoints[j]);
            if (!s || find_probe(next, n, s)) continue; /* not bound; or seen already */
            probe *p = find_probe(pr->probes, pr->n, s);
            if (p) {
                p->kept = 1;
            } else if (!(p = probe_new(pr, s))) {
                for (size_t k = 0; k < n; k++) {
                    if (next[k]->kept) next[k]->kept = 0;
                    else probe_free(next[k]);
                }
                free(next);
                return -1;
            }
            p->next_prov = prov;
            p->next_ep = &prov->endpoints[j];
            next[n++] = p;
        }
    }

    for (size_t i = 0; i < pr->n; i++)
        if (!pr->probes[i]->kept) drop(pr, pr->probes[i]);
    free(pr->probes);
    pr->probes = next;
    pr->n = n;
    if (pol) sy_policy_ref(pol);
    sy_policy_unref(pr->policy);
    pr->policy = pol;

    for (size_t i = 0; i < n; i++) {
        probe *p = next[i];
        p->prov = p->next_prov;
        p->ep = p->next_ep;
        /* New: the first probe at once. Kept and idle: the next one at the
         * new interval. Kept and in flight: it ends on the timeout it has. */
        if (!p->kept || !p->x) schedule_next(p);
        p->kept = 0;
    }
    return 0;
}

void sy_prober_free(sy_prober *pr)
{
    if (!pr) return;
    for (size_t i = 0; i < pr->n; i++) probe_free(pr->probes[i]);
    free(pr->probes);
    sy_policy_unref(pr->policy);
    free(pr);
}

size_t sy_prober_count(const sy_prober *pr) { return pr->n; }
