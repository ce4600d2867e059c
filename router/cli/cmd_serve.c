/* cmd_serve.c - `switchyard serve -c POLICY [--listen ADDR] [--workers N]`. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "access_log.h"
#include "budget.h"
#include "cli.h"
#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"
#include "observers.h"
#include "prober.h"
#include "rollout_live.h"
#include "routes.h"
#include "transport_curl.h"
#include "upstream.h"
#include "router.h"
#include "runtime.h"
#include "server.h"
#include "shared.h"
#include "response_map.h"
#include "store.h"

/* What the running server was started with, to tell on a reload what
 * changed: the policy's own values (a command-line flag overrides them). */
typedef struct serve_ctx {
    sy_server *server;
    char *listen;       /* server.listen as the policy had it at start */
    int workers;        /* server.workers as the policy had it at start */
    int listen_flag;    /* --listen given: the policy's listen is not used */
    int workers_flag;   /* --workers given */
    char *access_log;   /* the access log target in use */
    sy_access_log *log; /* NULL until opened */
    sy_router *router;  /* the router context: breakers, health, latency, observers */
    sy_store *store;    /* migration.rollback.state_file, or memory only */
    sy_budget *budget;  /* the month's spend (store key "budget") */
    sy_rollout *rollout; /* share, rollback, promotion (store key "rollout") */
    sy_response_map *responses; /* where each stored response lives (Responses API) */
    sy_shared *shared;  /* shared_state: several instances through Redis, or NULL */
    /* Health probes, on the main thread's loop (where reloads run too). */
    sy_loop *probe_loop;
    sy_upstream *probe_up;
    sy_transport *probe_tp;
    sy_prober *prober;
} serve_ctx;

static void probes_stop(void *arg)
{
    serve_ctx *ctx = arg;
    sy_prober_free(ctx->prober);
    if (ctx->probe_tp) sy_transport_curl_free(ctx->probe_tp);
    if (ctx->probe_up) sy_upstream_free(ctx->probe_up);
    if (ctx->probe_loop) sy_loop_event_free(ctx->probe_loop);
    ctx->prober = NULL;
    ctx->probe_tp = NULL;
    ctx->probe_up = NULL;
    ctx->probe_loop = NULL;
}

static void probes_start(void *arg, struct event_base *base)
{
    serve_ctx *ctx = arg;
    ctx->probe_loop = sy_loop_event_new(base);
    ctx->probe_up = sy_upstream_new(base);
    ctx->probe_tp = ctx->probe_up ? sy_transport_curl_new(ctx->probe_up) : NULL;
    ctx->prober = ctx->probe_loop && ctx->probe_tp
                      ? sy_prober_new(ctx->probe_loop, ctx->probe_tp, ctx->router) : NULL;
    sy_policy *p = sy_runtime_acquire();
    if (!ctx->prober || !p || sy_prober_set_policy(ctx->prober, p) != 0) {
        sy_log_error("health checks could not start (out of memory): endpoints count as healthy");
        probes_stop(ctx);
    }
    if (p) sy_policy_unref(p);
}

/* The main thread's loop: the shared state's Redis client, and health probes. */
static void main_start(void *arg, struct event_base *base)
{
    serve_ctx *ctx = arg;
    if (ctx->shared) sy_shared_start(ctx->shared, base);
    probes_start(arg, base);
}

static void main_stop(void *arg)
{
    serve_ctx *ctx = arg;
    probes_stop(arg);
    if (ctx->shared) sy_shared_stop(ctx->shared);
}

static void apply_limits(sy_server *s, const sy_policy *p)
{
    sy_server_set_limits(s, 16384, p->server.max_body, p->server.idle_timeout_ms,
                         p->server.header_timeout_ms);
    sy_server_set_shutdown_grace(s, p->server.shutdown_grace_ms);
}

/* Worker threads the policy asks for: server.workers, or 0 = one per core. */
static int policy_workers(const sy_policy *p)
{
    if (p->server.workers > 0) return p->server.workers;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

static const char *access_log_target(const sy_policy *p)
{
    return p->server.access_log ? p->server.access_log : "stdout";
}

/* Switch the access log to a changed target, or reopen the same file (log
 * rotation). */
static void reload_access_log(serve_ctx *ctx, const sy_policy *p)
{
    char err[512];
    const char *target = access_log_target(p);
    if (strcmp(target, ctx->access_log) != 0) {
        char *copy = strdup(target);
        if (!copy || sy_access_log_retarget(ctx->log, target, err, sizeof err) != 0) {
            sy_log_warn("server.access_log changed but could not be switched (%s); "
                        "the old target stays in use", copy ? err : "out of memory");
            free(copy);
            return;
        }
        free(ctx->access_log);
        ctx->access_log = copy;
        sy_log_info("server.access_log: switched to the new target");
        return;
    }
    if (sy_access_log_reopen(ctx->log, err, sizeof err) != 0)
        sy_log_warn("access log: %s", err);
}

/* Keys the running server cannot change: say so, key by key. */
static void warn_restart_keys(const serve_ctx *ctx, const sy_policy *p)
{
    const char *addr = sy_server_address(ctx->server);
    if (strcmp(p->server.listen ? p->server.listen : "", ctx->listen) != 0) {
        if (ctx->listen_flag)
            sy_log_info("server.listen changed in the policy; `serve --listen` sets the address "
                        "(still listening on %s)", addr);
        else
            sy_log_warn("server.listen changed: not applied, a restart is needed "
                        "(still listening on %s)", addr);
    }
    int n = sy_server_workers(ctx->server);
    if (ctx->workers_flag && p->server.workers != ctx->workers)
        sy_log_info("server.workers changed in the policy; `serve --workers` sets it "
                    "(still %d worker%s)", n, n == 1 ? "" : "s");
    else if (!ctx->workers_flag && policy_workers(p) != n)
        sy_log_warn("server.workers changed: not applied, a restart is needed "
                    "(still %d worker%s)", n, n == 1 ? "" : "s");
}

static void on_reload(void *arg)
{
    serve_ctx *ctx = arg;
    sy_log_info("SIGHUP: reloading the policy");
    if (sy_runtime_reload() != 0) return;
    sy_policy *p = sy_runtime_acquire();
    if (!p) return;
    /* State of new endpoints; existing ones keep theirs (keyed by names). */
    if (sy_router_bind(ctx->router, p) != 0) sy_log_error("out of memory binding the new policy");
    if (ctx->prober && sy_prober_set_policy(ctx->prober, p) != 0)
        sy_log_error("out of memory: health checks keep the old policy's endpoints");
    apply_limits(ctx->server, p); /* body and time limits, shutdown_grace */
    sy_budget_configure(ctx->budget, &p->budget);
    sy_response_map_configure(ctx->responses, (size_t)p->responses.map_size, p->responses.map_ttl_ms);
    if (sy_rollout_apply_policy(ctx->rollout, p) != 0) sy_log_error("rollout: out of memory");
    if (ctx->shared) sy_shared_apply_policy(ctx->shared, p);
    else if (p->shared_state.enabled)
        sy_log_warn("shared_state was added to the policy: not applied, a restart is needed "
                    "(this instance still runs on its own)");
    if (ctx->log) reload_access_log(ctx, p);
    warn_restart_keys(ctx, p);
    sy_policy_unref(p);
}

/* Many idle clients need many descriptors: take all the hard limit allows,
 * and say once what it is (nginx's worker_rlimit_nofile, done for you). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        /* An unlimited hard limit cannot be the soft one for files: use nr_open. */
        if (want.rlim_cur == RLIM_INFINITY) {
            FILE *f = fopen("/proc/sys/fs/nr_open", "r");
            unsigned long long nr = 0;
            if (f) {
                if (fscanf(f, "%llu", &nr) != 1) nr = 0;
                fclose(f);
            }
            want.rlim_cur = nr ? (rlim_t)nr : 1048576;
        }
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = want.rlim_cur;
        else
            sy_log_warn("cannot raise the open-file limit from %llu: %s",
                        (unsigned long long)before, strerror(errno));
    }
    if (rl.rlim_cur != before)
        sy_log_info("open-file limit: %llu (raised from %llu)", (unsigned long long)rl.rlim_cur,
                    (unsigned long long)before);
    else
        sy_log_info("open-file limit: %llu", (unsigned long long)rl.rlim_cur);
}

/* Durable state goes to disk here, off the request path. */
static void flush_store(serve_ctx *ctx)
{
    char err[512];
    if (ctx->store && sy_store_flush(ctx->store, err, sizeof err) != 0)
        sy_log_error("state: %s (will try again)", err);
}

static void on_tick(void *arg)
{
    serve_ctx *ctx = arg;
    if (ctx->log) sy_access_log_flush(ctx->log);
    sy_budget_tick(ctx->budget, sy_wall_s()); /* before the flush: the spend goes with it */
    sy_rollout_tick(ctx->rollout); /* rollback or promotion; before the flush too */
    if (ctx->shared) sy_shared_tick(ctx->shared); /* the fleet: after both, so it sends their news */
    flush_store(ctx);
}

static int usage(void)
{
    fprintf(stderr, "usage: switchyard serve -c POLICY [--listen HOST:PORT] [--workers N] [--verbose]\n");
    return 2;
}

int cmd_serve(int argc, char **argv)
{
    const char *policy_path = NULL, *listen = NULL;
    int workers = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--policy")) && i + 1 < argc)
            policy_path = argv[++i];
        else if (!strcmp(a, "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(a, "--workers") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "switchyard serve: --workers wants a number from 1 to 256\n");
                return 2;
            }
            workers = (int)n;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
            sy_log_set_level(SY_LOG_LVL_DEBUG);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "switchyard serve: unknown option '%s'\n", a);
            return usage();
        }
    }
    if (!policy_path) return usage();

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "switchyard serve: libcurl failed to initialise\n");
        return 1;
    }
    int rc = 1;
    sy_server *server = NULL;
    serve_ctx ctx = {0};
    if (sy_runtime_init(policy_path) != 0) {
        fprintf(stderr, "switchyard serve: %s is not valid; not starting\n", policy_path);
        goto out;
    }
    sy_policy *p = sy_runtime_acquire();
    if (p->server.n_client_keys == 0)
        sy_log_warn("server.client_keys is not set: any client may use this router");
    if (!p->server.admin_key) sy_log_warn("server.admin_key is not set: the admin endpoints are off");

    const char *target = access_log_target(p);
    char err[256];
    ctx.access_log = strdup(target);
    ctx.listen = strdup(p->server.listen ? p->server.listen : "");
    ctx.workers = p->server.workers;
    ctx.listen_flag = listen != NULL;
    ctx.workers_flag = workers > 0;
    if (!ctx.access_log || !ctx.listen) {
        sy_log_error("out of memory");
        sy_policy_unref(p);
        goto out;
    }
    ctx.log = sy_access_log_open(target, err, sizeof err);
    if (!ctx.log) {
        sy_log_error("access log: %s", err);
        sy_policy_unref(p);
        goto out;
    }
    const char *state_file = p->migration.rollback.state_file;
    ctx.store = state_file ? sy_store_file_open(state_file, err, sizeof err) : sy_store_memory_new();
    if (!ctx.store) {
        sy_log_error("%s", state_file ? err : "out of memory");
        sy_policy_unref(p);
        goto out;
    }
    if (p->shared_state.enabled) {
        /* The fleet's rollout and month's spend, before they are read below. */
        ctx.shared = sy_shared_new(p, err, sizeof err);
        if (!ctx.shared) {
            sy_log_error("%s", err);
            sy_policy_unref(p);
            goto out;
        }
        sy_shared_preload(ctx.shared, p, ctx.store);
    }
    ctx.router = sy_router_new();
    ctx.responses = sy_response_map_new((size_t)p->responses.map_size, p->responses.map_ttl_ms);
    if (ctx.router) sy_router_set_store(ctx.router, ctx.store);
    if (ctx.router) sy_router_set_responses(ctx.router, ctx.responses);
    if (!ctx.router || !ctx.responses || sy_observers_install(ctx.router, ctx.log) != 0 ||
        sy_router_bind(ctx.router, p) != 0) {
        sy_log_error("out of memory");
        sy_policy_unref(p);
        goto out;
    }
    ctx.budget = sy_budget_new(ctx.store, sy_wall_s(), err, sizeof err);
    if (!ctx.budget || sy_budget_observe(ctx.budget, ctx.router) != 0) {
        sy_log_error("budget: %s", ctx.budget ? "out of memory" : err);
        sy_policy_unref(p);
        goto out;
    }
    sy_budget_configure(ctx.budget, &p->budget);
    /* The share from the state file, before the first request is taken. */
    ctx.rollout = sy_rollout_new(ctx.store);
    if (!ctx.rollout || sy_rollout_observe(ctx.rollout, ctx.router) != 0 ||
        (ctx.shared && sy_shared_attach(ctx.shared, p, ctx.router, ctx.rollout, ctx.budget,
                                        ctx.responses) != 0) ||
        sy_rollout_apply_policy(ctx.rollout, p) != 0) {
        sy_log_error("out of memory");
        sy_policy_unref(p);
        goto out;
    }
    sy_gateway gateway = {ctx.router, ctx.budget};
    raise_fd_limit();
    sy_server_opts o = {
        .listen = listen ? listen : p->server.listen,
        .workers = workers > 0 ? workers : policy_workers(p),
        .max_head = 16384,
        .max_body = p->server.max_body,
        .idle_timeout_ms = p->server.idle_timeout_ms,
        .header_timeout_ms = p->server.header_timeout_ms,
        .shutdown_grace_ms = p->server.shutdown_grace_ms,
        .handler = {sy_route_request, sy_gateway_worker_init, sy_gateway_worker_free, &gateway},
    };
    server = sy_server_new(&o, err, sizeof err);
    sy_policy_unref(p);
    if (!server) {
        sy_log_error("%s", err);
        goto out;
    }
    ctx.server = server;
    sy_server_set_tick(server, on_tick, &ctx, 200);
    sy_server_set_main(server, main_start, main_stop, &ctx);
    rc = sy_server_run(server, on_reload, &ctx);
    sy_log_info("stopped");
out:
    sy_server_free(server);
    if (ctx.log) {
        sy_access_log_flush(ctx.log);
        sy_access_log_close(ctx.log);
    }
    if (ctx.budget) sy_budget_tick(ctx.budget, sy_wall_s()); /* the last requests' spend */
    sy_shared_free(ctx.shared); /* before what it is hooked into: router, map, budget, rollout */
    sy_router_free(ctx.router);
    sy_response_map_free(ctx.responses);
    sy_budget_free(ctx.budget);
    sy_rollout_free(ctx.rollout);
    if (ctx.store) {
        flush_store(&ctx);
        sy_store_free(ctx.store);
    }
    sy_runtime_shutdown();
    curl_global_cleanup();
    free(ctx.access_log);
    free(ctx.listen);
    return rc;
}
