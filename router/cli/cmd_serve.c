/* cmd_serve.c - `switchyard serve -c POLICY [--listen ADDR] [--workers N]`. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access_log.h"
#include "cli.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "server.h"

extern sy_access_log *sy_proxy_access_log;

typedef struct serve_ctx {
    sy_server *server;
} serve_ctx;

static void apply_limits(sy_server *s, const sy_policy *p)
{
    sy_server_set_limits(s, 16384, p->server.max_body, p->server.idle_timeout_ms,
                         p->server.header_timeout_ms);
}

static void on_reload(void *arg)
{
    serve_ctx *ctx = arg;
    sy_log_info("SIGHUP: reloading the policy");
    if (sy_runtime_reload() != 0) return;
    sy_policy *p = sy_runtime_acquire();
    if (p) {
        apply_limits(ctx->server, p);
        sy_policy_unref(p);
    }
    char err[256];
    if (sy_proxy_access_log && sy_access_log_reopen(sy_proxy_access_log, err, sizeof err) != 0)
        sy_log_warn("access log: %s", err);
}

static void on_tick(void *arg)
{
    (void)arg;
    if (sy_proxy_access_log) sy_access_log_flush(sy_proxy_access_log);
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
    if (sy_runtime_init(policy_path) != 0) {
        fprintf(stderr, "switchyard serve: %s is not valid; not starting\n", policy_path);
        goto out;
    }
    sy_policy *p = sy_runtime_acquire();
    if (p->server.n_client_keys == 0)
        sy_log_warn("server.client_keys is not set: any client may use this router");
    if (!p->server.admin_key) sy_log_warn("server.admin_key is not set: the admin endpoints are off");

    const char *target = p->server.access_log ? p->server.access_log : "stdout";
    char err[256];
    sy_proxy_access_log = sy_access_log_open(target, err, sizeof err);
    if (!sy_proxy_access_log) {
        sy_log_error("access log: %s", err);
        sy_policy_unref(p);
        goto out;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sy_server_opts o = {
        .listen = listen ? listen : p->server.listen,
        .workers = workers > 0 ? workers : p->server.workers > 0 ? p->server.workers : (int)(cores > 0 ? cores : 1),
        .max_head = 16384,
        .max_body = p->server.max_body,
        .idle_timeout_ms = p->server.idle_timeout_ms,
        .header_timeout_ms = p->server.header_timeout_ms,
        .shutdown_grace_ms = p->server.shutdown_grace_ms,
    };
    server = sy_server_new(&o, err, sizeof err);
    sy_policy_unref(p);
    if (!server) {
        sy_log_error("%s", err);
        goto out;
    }
    serve_ctx ctx = {server};
    sy_server_set_tick(server, on_tick, NULL, 200);
    rc = sy_server_run(server, on_reload, &ctx);
    sy_log_info("stopped");
out:
    sy_server_free(server);
    if (sy_proxy_access_log) {
        sy_access_log_flush(sy_proxy_access_log);
        sy_access_log_close(sy_proxy_access_log);
        sy_proxy_access_log = NULL;
    }
    sy_runtime_shutdown();
    curl_global_cleanup();
    return rc;
}
