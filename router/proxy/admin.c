/* admin.c - admin status and rollout actions (see admin.h). */
#include "admin.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "response_map.h"
#include "rollout_live.h"
#include "router.h"
#include "runtime.h"
#include "transport_h1.h"

/* Who sends an endpoint's requests (server.http_client, transport_h1.h). A
 * plugin that answers itself needs no client. base_url is the URL the engine
 * sends to, the plugin's own when it derives one (holysheep's region). */
static const char *endpoint_client(const sy_policy *p, const sy_policy_provider *pr,
                                   const sy_policy_endpoint *ep)
{
    if (pr->plugin && pr->plugin->local_reply) return "local";
    int builtin = p->server.http_client == SY_HTTP_CLIENT_BUILTIN && ep->base_url &&
                  sy_transport_h1_serves(ep->base_url);
    return builtin ? "builtin" : "curl";
}

/* One endpoint's live state: the breaker's under its mutex, the EWMA's without. */
static void endpoint_state(cJSON *e, sy_router *r, const sy_policy *p,
                           const sy_policy_provider *pr, const sy_policy_endpoint *ep)
{
    sy_endpoint_state *st = sy_router_endpoint(r, pr, ep);
    if (!st) {
        cJSON_AddStringToObject(e, "breaker", "closed");
        cJSON_AddStringToObject(e, "health", sy_policy_health_probed(pr) ? "unknown" : "unchecked");
        return;
    }
    uint64_t now = sy_now_ns();
    pthread_mutex_lock(&st->mu);
    sy_breaker b = st->breaker;
    uint64_t cool = sy_cooldown_latest(&st->cool, now);
    int healthy = st->healthy;
    unsigned checks = st->checks;
    pthread_mutex_unlock(&st->mu);
    sy_ewma w;
    sy_endpoint_ewma(st, &w);
    /* As switchyard_breaker_state has it; an open breaker whose open_for is
     * over turns half-open when the next call for it arrives. */
    cJSON_AddStringToObject(e, "breaker", sy_breaker_state_name(b.state));
    if (b.state == SY_BREAKER_OPEN) cJSON_AddBoolToObject(e, "probe_due", now >= b.open_until);
    cJSON_AddNumberToObject(e, "consecutive_failures", b.failures);
    cJSON_AddNumberToObject(e, "breaker_opens", (double)b.opens);
    if (b.state == SY_BREAKER_OPEN && b.open_until > now)
        cJSON_AddNumberToObject(e, "open_for_ms", (double)((b.open_until - now) / 1000000u));
    if (cool) /* some model on it is rate-limited (429 Retry-After) */
        cJSON_AddNumberToObject(e, "cooling_for_ms", (double)((cool - now) / 1000000u));
    cJSON_AddStringToObject(e, "health", !sy_policy_health_probed(pr) ? "unchecked"
                                         : !checks ? "unknown"
                                         : healthy ? "healthy" : "unhealthy");
    if (w.samples) cJSON_AddNumberToObject(e, "latency_ewma_ms", w.value_ns / 1e6);
    else cJSON_AddNullToObject(e, "latency_ewma_ms");
    cJSON_AddNumberToObject(e, "in_flight", w.in_flight);
    (void)p;
}

void sy_admin_status(sy_conn *c, const sy_policy *p, sy_router *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *pol = cJSON_AddObjectToObject(root, "policy");
    cJSON_AddStringToObject(pol, "file", p->file ? p->file : "");
    cJSON_AddNumberToObject(pol, "version", p->version);
    cJSON_AddNumberToObject(pol, "generation", (double)sy_runtime_generation());
    cJSON_AddNumberToObject(pol, "loaded_at", (double)sy_runtime_loaded_at());

    cJSON *ro = cJSON_AddObjectToObject(root, "rollout");
    const sy_migration_conf *m = &p->migration;
    cJSON_AddStringToObject(ro, "stable", p->n_providers ? p->providers[m->stable].name : "");
    if (m->enabled) cJSON_AddStringToObject(ro, "canary", p->providers[m->canary].name);
    else cJSON_AddNullToObject(ro, "canary");
    cJSON_AddNumberToObject(ro, "percent", sy_runtime_percent());
    cJSON_AddNumberToObject(ro, "policy_percent", m->enabled ? m->percent : 0);
    sy_rollout *rollout = sy_router_rollout(r);
    if (rollout) sy_rollout_status(rollout, ro); /* state, last change, windows, ... */
    else cJSON_AddStringToObject(ro, "state", "progressing");

    /* "shared_state": the fleet's Redis (router/shared/, through the hook), or null */
    if (!sy_router_status_hook(r, root)) cJSON_AddNullToObject(root, "shared_state");

    /* The Responses API's map: how many stored responses it knows the home of. */
    cJSON *rs = cJSON_AddObjectToObject(root, "responses");
    sy_response_map *rm = sy_router_responses(r);
    cJSON_AddNumberToObject(rs, "ids", rm ? (double)sy_response_map_count(rm) : 0);
    cJSON_AddNumberToObject(rs, "map_size", p->responses.map_size);
    cJSON_AddNumberToObject(rs, "map_ttl_ms", (double)p->responses.map_ttl_ms);

    cJSON *eps = cJSON_AddArrayToObject(root, "endpoints");
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *pr = &p->providers[i];
        for (size_t j = 0; j < pr->n_endpoints; j++) {
            const sy_policy_endpoint *ep = &pr->endpoints[j];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "provider", pr->name);
            cJSON_AddStringToObject(e, "endpoint", ep->name);
            /* As written when it used ${VAR}: environment values are never printed. */
            const char *url = ep->base_url_raw ? ep->base_url_raw : ep->base_url;
            cJSON_AddStringToObject(e, "base_url", url ? url : "");
            cJSON_AddStringToObject(e, "http_client", endpoint_client(p, pr, ep));
            cJSON_AddNumberToObject(e, "priority", ep->priority);
            endpoint_state(e, r, p, pr, ep);
            cJSON_AddItemToArray(eps, e);
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) {
        sy_conn_respond_error(c, 503, "service_unavailable", "out_of_memory", NULL, "out of memory");
        return;
    }
    sy_conn_respond(c, 200, "application/json", NULL, text, strlen(text));
    free(text);
}

void sy_admin_rollout(sy_conn *c, const sy_policy *p, sy_router *r, const char *body, size_t len)
{
    (void)p;
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
    const cJSON *percent = cJSON_GetObjectItemCaseSensitive(j, "percent");
    if (!cJSON_IsString(action)) {
        cJSON_Delete(j);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_json", NULL,
                              "want {\"action\": \"rollback\"|\"pause\"|\"resume\"|\"set\", \"percent\": N}");
        return;
    }
    if (!strcmp(action->valuestring, "set") && !cJSON_IsNumber(percent)) {
        cJSON_Delete(j);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_percent", NULL,
                              "action \"set\" needs a numeric \"percent\"");
        return;
    }
    char err[200] = "no rollout in this process";
    sy_rollout *rollout = sy_router_rollout(r);
    int rc = rollout ? sy_rollout_action(rollout, action->valuestring,
                                         cJSON_IsNumber(percent) ? percent->valuedouble : 0, err,
                                         sizeof err)
                     : -2;
    cJSON_Delete(j);
    if (rc == -3) {
        sy_conn_respond_error(c, 503, "service_unavailable", "shared_state_unavailable", NULL, "%s",
                              err);
        return;
    }
    if (rc == -2) {
        sy_conn_respond_error(c, 409, "invalid_request_error", "rollout_conflict", NULL, "%s", err);
        return;
    }
    if (rc != 0) {
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_action", NULL, "%s", err);
        return;
    }
    /* Persisted: the main thread's next tick (200 ms) writes it to state_file. */
    char out[160];
    int n = snprintf(out, sizeof out, "{\"percent\":%.2f,\"state\":\"%s\"}\n", sy_runtime_percent(),
                     sy_rollout_state(rollout));
    sy_conn_respond(c, 200, "application/json", NULL, out, (size_t)n);
}
