/* admin.c - admin status and rollout actions (see admin.h). */
#include "admin.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

void sy_admin_status(sy_conn *c, const sy_policy *p)
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
    cJSON_AddStringToObject(ro, "state", sy_rollout_state_name(sy_runtime_rollout_state()));

    cJSON *eps = cJSON_AddArrayToObject(root, "endpoints");
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *pr = &p->providers[i];
        for (size_t j = 0; j < pr->n_endpoints; j++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "provider", pr->name);
            cJSON_AddStringToObject(e, "endpoint", pr->endpoints[j].name);
            cJSON_AddStringToObject(e, "base_url", pr->endpoints[j].base_url ? pr->endpoints[j].base_url : "");
            cJSON_AddNumberToObject(e, "priority", pr->endpoints[j].priority);
            /* Breakers and health checks are not in this build yet. */
            cJSON_AddStringToObject(e, "breaker", "closed");
            cJSON_AddStringToObject(e, "health", pr->health.enabled ? "unknown" : "unchecked");
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

void sy_admin_rollout(sy_conn *c, const sy_policy *p, const char *body, size_t len)
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
    char err[160];
    if (sy_runtime_rollout_action(action->valuestring, cJSON_IsNumber(percent) ? percent->valuedouble : 0,
                                  err, sizeof err) != 0) {
        cJSON_Delete(j);
        sy_conn_respond_error(c, 400, "invalid_request_error", "invalid_action", NULL, "%s", err);
        return;
    }
    cJSON_Delete(j);
    char out[160];
    int n = snprintf(out, sizeof out, "{\"percent\":%.2f,\"state\":\"%s\"}\n", sy_runtime_percent(),
                     sy_rollout_state_name(sy_runtime_rollout_state()));
    sy_conn_respond(c, 200, "application/json", NULL, out, (size_t)n);
}
