/*
 * cmd_explain.c - `switchyard explain POLICY --model M [...]`: a dry run for
 * one request. Loads the policy as `validate` does, builds the request's
 * sticky key and plan with the planner `serve` uses (sy_sticky_pick,
 * sy_plan_build), and prints the arm, the bucket, the ordered attempts and
 * the retry, deadline and breaker budget. Never prints a secret: not the
 * sticky key's value (it may be a credential), not an expanded ${VAR} (base
 * URLs built from the environment are shown as written), and base URLs
 * without their user-info and query.
 *
 * Routes are numbered from 1 in both outputs (sy_plan_step.route + 1).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "diag.h"
#include "loader.h"
#include "planner.h"
#include "policy.h"
#include "units.h"

#define MAX_KV 64

typedef struct kv {
    char *key;         /* header names lower-cased */
    const char *value; /* borrowed from argv */
} kv;

typedef struct explain_args {
    const char *policy;
    const char *model;
    const char *user;
    kv headers[MAX_KV];
    size_t n_headers;
    kv body[MAX_KV];
    size_t n_body;
    int has_percent;
    double percent;
    int json;
    const char *path;       /* --path: the API path asked (default /v1/chat/completions) */
    int op;                 /* its sy_op */
    const char *users_from; /* --users-from FILE ("-" = stdin): one explain per line */
    /* --latency PROVIDER/ENDPOINT=MS: the peak-EWMA snapshot serve would use
     * for balance: latency (a dry run has no live figures of its own). */
    struct {
        char *provider, *endpoint;
        double ms;
    } latency[MAX_KV];
    size_t n_latency;
} explain_args;

/* The request as explain sees it: headers, and a JSON body. */
typedef struct explain_req {
    const explain_args *a;
    cJSON *body;
} explain_req;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard explain POLICY --model M [--user U] [--header K=V]...\n"
            "                          [--body K=V]... [--body-user U] [--percent P]\n"
            "                          [--path P] [--json]\n"
            "\n"
            "  --model M      the model the request asks for\n"
            "  --user U       the value of the policy's first sticky_by source\n"
            "                 (the header, or the body key, it names)\n"
            "  --header K=V   a request header (repeatable)\n"
            "  --body K=V     a top-level string in the JSON body (repeatable)\n"
            "  --body-user U  same as --body user=U\n"
            "  --percent P    the live rollout percentage (default: the policy's)\n"
            "  --latency PROVIDER/ENDPOINT=MS  a latency figure for balance: latency\n"
            "  --path P       the API path: /v1/chat/completions (default), /v1/completions,\n"
            "                 /v1/embeddings or /v1/responses; a provider whose plugin does\n"
            "                 not serve it is skipped\n"
            "  --json         one JSON object on stdout\n"
            "  --users-from F one user id per line of F (- for stdin) instead of --user;\n"
            "                 with --json, one JSON object per line (JSON Lines)\n"
            "Explicit --header/--body values win over --user.\n");
}

static void args_free(explain_args *a)
{
    for (size_t i = 0; i < a->n_headers; i++) free(a->headers[i].key);
    for (size_t i = 0; i < a->n_body; i++) free(a->body[i].key);
    for (size_t i = 0; i < a->n_latency; i++) {
        free(a->latency[i].provider);
        free(a->latency[i].endpoint);
    }
}

/* "K=V" into list; header names are case-insensitive and kept lower-cased. */
static int add_kv(kv *list, size_t *n, const char *opt, const char *arg, int lower)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "switchyard explain: %s wants K=V, got '%s'\n", opt, arg);
        return -1;
    }
    if (*n == MAX_KV) {
        fprintf(stderr, "switchyard explain: at most %d %s options\n", MAX_KV, opt);
        return -1;
    }
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key) return -1;
    if (lower)
        for (char *c = key; *c; c++) *c = (char)tolower((unsigned char)*c);
    list[*n].key = key;
    list[*n].value = eq + 1;
    (*n)++;
    return 0;
}

/* Returns 0, or 2 for a usage error (message printed). */
static int parse_args(int argc, char **argv, explain_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = NULL;
        /* Options taking a value accept "--opt V" and "--opt=V". */
        static const char *const with_value[] = {"--model", "--user", "--header", "--body",
                                                 "--body-user", "--percent", "--users-from",
                                                 "--latency", "--path", NULL};
        size_t optlen = strcspn(opt, "=");
        const char *name = NULL;
        for (size_t k = 0; with_value[k]; k++)
            if (strlen(with_value[k]) == optlen && !strncmp(opt, with_value[k], optlen))
                name = with_value[k];
        if (name) {
            if (opt[optlen] == '=') {
                val = opt + optlen + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "switchyard explain: %s needs a value\n", opt);
                return 2;
            }
        }
        if (name && !strcmp(name, "--model")) {
            if (!*val) {
                fprintf(stderr, "switchyard explain: --model must not be empty\n");
                return 2;
            }
            a->model = val;
        } else if (name && !strcmp(name, "--path")) {
            a->op = 0;
            for (int op = SY_OP_CHAT; op <= SY_OP_RESPONSES; op++) {
                const char *known = sy_op_path(op); /* "/v1/..."; "/..." is accepted too */
                if (!strcmp(val, known) || !strcmp(val, known + 3)) {
                    a->path = known;
                    a->op = op;
                }
            }
            if (!a->op) {
                fprintf(stderr, "switchyard explain: --path '%s': want /v1/chat/completions, "
                                "/v1/completions, /v1/embeddings or /v1/responses\n", val);
                return 2;
            }
        } else if (name && !strcmp(name, "--users-from")) {
            a->users_from = val;
        } else if (name && !strcmp(name, "--user")) {
            a->user = val;
        } else if (name && !strcmp(name, "--header")) {
            if (add_kv(a->headers, &a->n_headers, "--header", val, 1)) return 2;
        } else if (name && !strcmp(name, "--body-user")) {
            if (a->n_body == MAX_KV) {
                fprintf(stderr, "switchyard explain: at most %d --body options\n", MAX_KV);
                return 2;
            }
            a->body[a->n_body].key = strdup("user");
            if (!a->body[a->n_body].key) return 2;
            a->body[a->n_body++].value = val;
        } else if (name && !strcmp(name, "--body")) {
            if (add_kv(a->body, &a->n_body, "--body", val, 0)) return 2;
        } else if (name && !strcmp(name, "--percent")) {
            const char *why = NULL;
            if (sy_parse_percent(val, &a->percent, &why)) {
                fprintf(stderr, "switchyard explain: --percent '%s': %s (want 0..100)\n", val,
                        why ? why : "invalid");
                return 2;
            }
            a->has_percent = 1;
        } else if (name && !strcmp(name, "--latency")) {
            const char *slash = strchr(val, '/'), *eq = strrchr(val, '=');
            char *end = NULL;
            double ms = eq ? strtod(eq + 1, &end) : -1;
            if (!slash || !eq || eq < slash || slash == val || eq == slash + 1 || !end ||
                *end || !(ms >= 0) || a->n_latency == MAX_KV) {
                fprintf(stderr, "switchyard explain: --latency '%s': want PROVIDER/ENDPOINT=MS "
                                "(at most %d)\n", val, MAX_KV);
                return 2;
            }
            a->latency[a->n_latency].provider = strndup(val, (size_t)(slash - val));
            a->latency[a->n_latency].endpoint = strndup(slash + 1, (size_t)(eq - slash - 1));
            a->latency[a->n_latency++].ms = ms;
        } else if (!strcmp(opt, "--json")) {
            a->json = 1;
        } else if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return -1;
        } else if (opt[0] == '-' && opt[1]) {
            fprintf(stderr, "switchyard explain: unknown option '%s'\n", opt);
            return 2;
        } else if (a->policy) {
            fprintf(stderr, "switchyard explain: one policy at a time ('%s' and '%s')\n",
                    a->policy, opt);
            return 2;
        } else {
            a->policy = opt;
        }
    }
    if (!a->policy) {
        fprintf(stderr, "switchyard explain: no policy file given\n");
        return 2;
    }
    if (!a->model) {
        fprintf(stderr, "switchyard explain: --model is required\n");
        return 2;
    }
    return 0;
}

/* Last one given wins, so explicit values (added after --user's) win. */
static const char *req_header(void *ctx, const char *name)
{
    const explain_req *r = ctx;
    for (size_t i = r->a->n_headers; i-- > 0;)
        if (!strcmp(r->a->headers[i].key, name)) return r->a->headers[i].value;
    return NULL;
}

static const char *req_body_value(void *ctx, const char *key)
{
    const explain_req *r = ctx;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --user: the value of the policy's first sticky source. It goes before
 * every explicit --header/--body, which therefore win. */
static int apply_user(const sy_policy *p, explain_args *a)
{
    if (!a->user) return 0;
    const sy_sticky_source *s = p->migration.n_sticky ? &p->migration.sticky[0] : NULL;
    int header = s ? s->kind == SY_STICKY_HEADER : 1; /* planner default: header:x-user-id */
    const char *name = s ? s->name : "x-user-id";
    kv *list = header ? a->headers : a->body;
    size_t *n = header ? &a->n_headers : &a->n_body;
    if (*n == MAX_KV) return -1;
    memmove(list + 1, list, *n * sizeof *list);
    list[0].key = strdup(name);
    if (!list[0].key) {
        memmove(list, list + 1, *n * sizeof *list);
        return -1;
    }
    list[0].value = a->user;
    (*n)++;
    return 0;
}

/* Take back what apply_user added (for the next --users-from line). */
static void unapply_user(const sy_policy *p, explain_args *a)
{
    if (!a->user) return;
    const sy_sticky_source *s = p->migration.n_sticky ? &p->migration.sticky[0] : NULL;
    int header = s ? s->kind == SY_STICKY_HEADER : 1;
    kv *list = header ? a->headers : a->body;
    size_t *n = header ? &a->n_headers : &a->n_body;
    free(list[0].key);
    memmove(list, list + 1, (*n - 1) * sizeof *list);
    (*n)--;
}

/* The body a client would send: {"model": M, ...--body keys}. */
static cJSON *build_body(const explain_args *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "model", a->model)) goto fail;
    for (size_t i = 0; i < a->n_body; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, a->body[i].key); /* last wins */
        if (!cJSON_AddStringToObject(o, a->body[i].key, a->body[i].value)) goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* An endpoint's base URL as it may be printed: the policy's raw text when
 * it came from the environment (an expanded ${VAR} is never printed), and
 * without user-info ("https://u:p@host") or query ("?key=..."), either of
 * which may carry a credential. */
static void safe_url(const sy_policy_endpoint *ep, char *buf, size_t cap)
{
    const char *url = ep->base_url_raw ? ep->base_url_raw : ep->base_url;
    if (!url) url = "";
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t authority = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority);
    const char *rest = at ? at + 1 : host;
    size_t keep = strcspn(rest, "?#");
    snprintf(buf, cap, "%.*s%s%.*s%s", (int)(host - url), url, at ? "***@" : "", (int)keep,
             rest, rest[keep] ? "?***" : "");
}

static const char *jitter_name(sy_jitter j)
{
    return j == SY_JITTER_FULL ? "full" : j == SY_JITTER_EQUAL ? "equal" : "none";
}

/* "connect_error, timeout, 408, 429" into buf. */
static void retry_on_text(const sy_retry_conf *rc, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
#define APPEND(...)                                                          \
    do {                                                                     \
        if (n < cap) {                                                       \
            int w = snprintf(buf + n, cap - n, __VA_ARGS__);                 \
            if (w > 0) n += (size_t)w;                                       \
        }                                                                    \
    } while (0)
    if (rc->on_flags & SY_RETRY_ON_CONNECT_ERROR) APPEND("%sconnect_error", n ? ", " : "");
    if (rc->on_flags & SY_RETRY_ON_TIMEOUT) APPEND("%stimeout", n ? ", " : "");
    for (size_t i = 0; i < rc->n_on_status && i < 32; i++)
        APPEND("%s%d", n ? ", " : "", rc->on_status[i]);
    if (!n) APPEND("nothing");
#undef APPEND
}

/* "header:x-user-id" for one sticky source. */
static const char *source_text(const sy_sticky_source *s, char *buf, size_t cap)
{
    if (s->label) return s->label;
    snprintf(buf, cap, "%s:%s", s->kind == SY_STICKY_HEADER ? "header" : "body",
             s->name ? s->name : "");
    return buf;
}

static void print_sources(const sy_policy *p, FILE *out)
{
    const sy_migration_conf *m = &p->migration;
    char buf[300];
    if (!m->n_sticky) {
        fputs("header:x-user-id, body:user", out); /* the planner's default */
        return;
    }
    for (size_t i = 0; i < m->n_sticky; i++)
        fprintf(out, "%s%s", i ? ", " : "", source_text(&m->sticky[i], buf, sizeof buf));
}

static void print_human(const sy_policy *p, const explain_args *a, double percent,
                        const sy_plan *plan, FILE *out)
{
    const sy_migration_conf *m = &p->migration;
    const sy_policy_provider *stable =
        m->stable < p->n_providers ? &p->providers[m->stable] : NULL;
    char d1[32], d2[32];
    uint32_t thr = sy_canary_threshold(percent);

    fprintf(out, "policy:   %s\n", a->policy);
    fprintf(out, "request:  model %s on %s\n", a->model, a->path);
    const sy_fallback_chain *chain = sy_policy_fallbacks(p, a->model);
    if (chain && chain->n_to) {
        fputs("fallback: ", out);
        for (size_t i = 0; i < chain->n_to; i++) fprintf(out, "%s%s", i ? ", " : "", chain->to[i]);
        fprintf(out, " (%s's own chain, in order)\n", a->model);
    } else {
        fprintf(out, "fallback: none (the policy gives %s no fallback chain)\n", a->model);
    }
    if (m->enabled && m->canary < p->n_providers) {
        fprintf(out, "rollout:  %s: %g%% of users on canary %s, the rest on stable %s\n",
                sy_rollout_id(p), percent, p->providers[m->canary].name,
                stable ? stable->name : "?");
    } else {
        fprintf(out, "rollout:  none (no canary); every request goes to stable %s\n",
                stable ? stable->name : "?");
    }
    if (plan->has_key) {
        fprintf(out, "sticky:   %s\n", plan->sticky_source ? plan->sticky_source : "?");
        if (m->enabled)
            fprintf(out, "bucket:   %u < %u? %s -> %s\n", plan->bucket, thr,
                    plan->bucket < thr ? "yes" : "no", sy_arm_name(plan->arm));
        else
            fprintf(out, "bucket:   %u (no rollout) -> %s\n", plan->bucket,
                    sy_arm_name(plan->arm));
    } else {
        fputs("sticky:   none of ", out);
        print_sources(p, out);
        fputs(" was given\n", out);
        fprintf(out, "bucket:   none -> %s (a request without a sticky key goes to stable)\n",
                sy_arm_name(plan->arm));
    }
    fprintf(out, "arm:      %s\n\n", sy_arm_name(plan->arm));

    /* The attempt table, columns as wide as their widest cell. */
    int wp = 8, we = 8, wm = 5;
    for (size_t i = 0; i < plan->n_steps; i++) {
        const sy_plan_step *s = &plan->steps[i];
        int l;
        if ((l = (int)strlen(s->provider->name)) > wp) wp = l;
        if ((l = (int)strlen(s->endpoint->name)) > we) we = l;
        if ((l = (int)strlen(s->model)) > wm) wm = l;
    }
    fprintf(out, "plan:     %zu endpoint%s over %u route%s, in this order%s\n", plan->n_steps,
            plan->n_steps == 1 ? "" : "s", plan->n_routes, plan->n_routes == 1 ? "" : "s",
            plan->truncated ? " (truncated: the plan holds at most 64 steps)" : "");
    fprintf(out, "  %3s  %5s  %-6s  %-*s  %-*s  %-*s  %s\n", "#", "route", "arm", wp, "provider",
            we, "endpoint", wm, "model", "base_url");
    int latency_used = 0;
    for (size_t i = 0; i < plan->n_steps; i++) {
        const sy_plan_step *s = &plan->steps[i];
        char url[SY_URL_MAX + 16], lat[48] = "";
        safe_url(s->endpoint, url, sizeof url);
        if (s->provider->balance == SY_BALANCE_LATENCY) {
            latency_used = 1;
            if (s->latency_ms >= 0) snprintf(lat, sizeof lat, "  (latency %g ms)", s->latency_ms);
            else snprintf(lat, sizeof lat, "  (latency: no sample)");
        }
        fprintf(out, "  %3zu  %5u  %-6s  %-*s  %-*s  %-*s  %s%s\n", i + 1, s->route + 1,
                sy_arm_name(s->arm), wp, s->provider->name, we, s->endpoint->name, wm, s->model,
                url, lat);
    }
    if (latency_used)
        fputs("          balance: latency orders endpoints of equal priority by peak-EWMA latency,\n"
              "          lowest first (no sample counts as 0); serve uses live figures, explain\n"
              "          the ones given with --latency PROVIDER/ENDPOINT=MS\n", out);
    if (!plan->n_steps) fputs("  (nothing to try)\n", out);
    for (size_t i = 0; i < plan->n_unserved; i++)
        fprintf(out, "  skipped: provider %s: its plugin (%s) does not serve %s\n",
                plan->unserved[i]->name, plan->unserved[i]->plugin_name, a->path);
    if (a->op == SY_OP_RESPONSES)
        fputs("          a request that names a previous_response_id goes instead to the endpoint\n"
              "          that created that response, whatever this plan says (an id the router\n"
              "          does not know: to stable); docs/responses.md\n", out);

    const sy_retry_conf *rc = &p->retry;
    char on[256];
    retry_on_text(rc, on, sizeof on);
    fprintf(out, "\nretry:    up to %d tr%s per route (the first included), at most %lld in all\n",
            rc->max_attempts, rc->max_attempts == 1 ? "y" : "ies",
            (long long)rc->max_attempts * plan->n_routes);
    fprintf(out, "          on %s\n", on);
    fprintf(out, "          backoff from %s doubling up to %s, %s jitter\n",
            sy_format_duration(rc->backoff_base_ms, d1, sizeof d1),
            sy_format_duration(rc->backoff_max_ms, d2, sizeof d2), jitter_name(rc->jitter));
    if (rc->retry_after_honor)
        fprintf(out, "          Retry-After honored, up to %s\n",
                sy_format_duration(rc->retry_after_max_ms, d1, sizeof d1));
    else
        fputs("          Retry-After ignored\n", out);
    fprintf(out, "          retry budget: retries add at most %g%% load (at least %g/s)\n",
            rc->budget_ratio * 100, rc->budget_min_per_second);
    fprintf(out, "deadline: %s up to the commit point (every attempt, backoff and fallback);\n"
                 "          then a stream is cut after %s with no upstream byte\n",
            sy_format_duration(p->server.request_timeout_ms, d1, sizeof d1),
            sy_format_duration(p->server.stream_idle_timeout_ms, d2, sizeof d2));
    for (size_t i = 0; i < p->n_providers; i++) {
        const sy_policy_provider *pr = &p->providers[i];
        fprintf(out, "attempts: %s: connect within %s, first byte %s%s\n", pr->name,
                sy_format_duration(pr->connect_timeout_ms, d1, sizeof d1),
                pr->first_byte_timeout_ms > 0 ? "within " : "bounded by the deadline only",
                pr->first_byte_timeout_ms > 0
                    ? sy_format_duration(pr->first_byte_timeout_ms, d2, sizeof d2) : "");
    }
    const sy_breaker_conf *b = &p->breaker;
    fprintf(out,
            "breaker:  per endpoint: opens after %d failures and stays open %s;\n"
            "          then lets %d trial call%s through and closes after %d successes\n",
            b->failure_threshold, sy_format_duration(b->open_for_ms, d1, sizeof d1),
            b->half_open_max_calls, b->half_open_max_calls == 1 ? "" : "s",
            b->success_threshold);
}

static cJSON *sources_json(const sy_policy *p)
{
    cJSON *arr = cJSON_CreateArray();
    const sy_migration_conf *m = &p->migration;
    char buf[300];
    for (size_t i = 0; arr && i < m->n_sticky; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(source_text(&m->sticky[i], buf, sizeof buf)));
    return arr;
}

static char *render_json(const sy_policy *p, const explain_args *a, double percent,
                         const sy_plan *plan)
{
    const sy_migration_conf *m = &p->migration;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "policy", a->policy);
    cJSON_AddStringToObject(o, "model", a->model);
    cJSON_AddStringToObject(o, "path", a->path);
    cJSON_AddStringToObject(o, "arm", sy_arm_name(plan->arm));
    if (plan->has_key)
        cJSON_AddNumberToObject(o, "bucket", plan->bucket);
    else
        cJSON_AddNullToObject(o, "bucket");
    cJSON_AddNumberToObject(o, "buckets", SY_BUCKETS);
    cJSON_AddNumberToObject(o, "threshold", m->enabled ? sy_canary_threshold(percent) : 0);
    if (plan->sticky_source)
        cJSON_AddStringToObject(o, "sticky_source", plan->sticky_source);
    else
        cJSON_AddNullToObject(o, "sticky_source");
    cJSON_AddItemToObject(o, "sticky_by", sources_json(p));
    cJSON_AddBoolToObject(o, "migration", m->enabled);
    cJSON_AddStringToObject(o, "rollout_id", sy_rollout_id(p));
    cJSON_AddNumberToObject(o, "percent", percent);
    if (m->stable < p->n_providers)
        cJSON_AddStringToObject(o, "stable", p->providers[m->stable].name);
    if (m->enabled && m->canary < p->n_providers)
        cJSON_AddStringToObject(o, "canary", p->providers[m->canary].name);

    cJSON *arr = cJSON_AddArrayToObject(o, "plan");
    for (size_t i = 0; arr && i < plan->n_steps; i++) {
        const sy_plan_step *s = &plan->steps[i];
        char url[SY_URL_MAX + 16];
        safe_url(s->endpoint, url, sizeof url);
        cJSON *st = cJSON_CreateObject();
        if (!st) break;
        cJSON_AddStringToObject(st, "provider", s->provider->name);
        cJSON_AddStringToObject(st, "endpoint", s->endpoint->name);
        cJSON_AddStringToObject(st, "model", s->model);
        cJSON_AddNumberToObject(st, "route", s->route + 1);
        cJSON_AddStringToObject(st, "arm", sy_arm_name(s->arm));
        cJSON_AddStringToObject(st, "base_url", url);
        if (s->provider->balance == SY_BALANCE_LATENCY) {
            if (s->latency_ms >= 0) cJSON_AddNumberToObject(st, "latency_ms", s->latency_ms);
            else cJSON_AddNullToObject(st, "latency_ms");
        }
        cJSON_AddItemToArray(arr, st);
    }
    cJSON_AddNumberToObject(o, "routes", plan->n_routes);
    cJSON *skipped = cJSON_AddArrayToObject(o, "skipped");
    for (size_t i = 0; skipped && i < plan->n_unserved; i++) {
        cJSON *sk = cJSON_CreateObject();
        if (!sk) break;
        cJSON_AddStringToObject(sk, "provider", plan->unserved[i]->name);
        cJSON_AddStringToObject(sk, "plugin", plan->unserved[i]->plugin_name);
        cJSON_AddStringToObject(sk, "reason", "the plugin does not serve this path");
        cJSON_AddItemToArray(skipped, sk);
    }
    cJSON_AddBoolToObject(o, "truncated", plan->truncated);

    const sy_retry_conf *rc = &p->retry;
    cJSON *r = cJSON_AddObjectToObject(o, "retry");
    if (r) {
        cJSON_AddNumberToObject(r, "max_attempts", rc->max_attempts);
        cJSON_AddNumberToObject(r, "max_tries_total", (double)rc->max_attempts * plan->n_routes);
        cJSON *on = cJSON_AddArrayToObject(r, "on");
        if (on && (rc->on_flags & SY_RETRY_ON_CONNECT_ERROR))
            cJSON_AddItemToArray(on, cJSON_CreateString("connect_error"));
        if (on && (rc->on_flags & SY_RETRY_ON_TIMEOUT))
            cJSON_AddItemToArray(on, cJSON_CreateString("timeout"));
        for (size_t i = 0; on && i < rc->n_on_status && i < 32; i++)
            cJSON_AddItemToArray(on, cJSON_CreateNumber(rc->on_status[i]));
        cJSON *bo = cJSON_AddObjectToObject(r, "backoff");
        if (bo) {
            cJSON_AddNumberToObject(bo, "base_ms", (double)rc->backoff_base_ms);
            cJSON_AddNumberToObject(bo, "max_ms", (double)rc->backoff_max_ms);
            cJSON_AddStringToObject(bo, "jitter", jitter_name(rc->jitter));
        }
        cJSON *ra = cJSON_AddObjectToObject(r, "retry_after");
        if (ra) {
            cJSON_AddBoolToObject(ra, "honor", rc->retry_after_honor);
            cJSON_AddNumberToObject(ra, "max_ms", (double)rc->retry_after_max_ms);
        }
        cJSON *bu = cJSON_AddObjectToObject(r, "budget");
        if (bu) {
            cJSON_AddNumberToObject(bu, "ratio", rc->budget_ratio);
            cJSON_AddNumberToObject(bu, "min_per_second", rc->budget_min_per_second);
        }
    }
    cJSON_AddNumberToObject(o, "deadline_ms", (double)p->server.request_timeout_ms);
    cJSON *b = cJSON_AddObjectToObject(o, "breaker");
    if (b) {
        cJSON_AddNumberToObject(b, "failure_threshold", p->breaker.failure_threshold);
        cJSON_AddNumberToObject(b, "success_threshold", p->breaker.success_threshold);
        cJSON_AddNumberToObject(b, "open_for_ms", (double)p->breaker.open_for_ms);
        cJSON_AddNumberToObject(b, "half_open_max_calls", p->breaker.half_open_max_calls);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* balance: latency: the figures given with --latency; -1 (no sample) for
 * the others, as serve has before an endpoint's first answer. */
static double given_latency(void *ctx, const sy_policy_provider *prov, const sy_policy_endpoint *ep)
{
    const explain_args *a = ctx;
    for (size_t i = 0; i < a->n_latency; i++)
        if (!strcmp(a->latency[i].provider, prov->name) && !strcmp(a->latency[i].endpoint, ep->name))
            return a->latency[i].ms;
    return -1;
}

/* Plan and print one request: the same two calls the server makes. */
static int explain_one(const sy_policy *p, explain_args *a)
{
    int rc = 0;
    if (apply_user(p, a)) {
        fprintf(stderr, "switchyard explain: too many options\n");
        return 2;
    }
    cJSON *body = build_body(a);
    if (!body) {
        fprintf(stderr, "switchyard explain: out of memory\n");
        unapply_user(p, a);
        return 1;
    }
    explain_req req = {.a = a, .body = body};
    sy_route_input in = {.model = a->model, .latency_ms = given_latency, .latency_ctx = a,
                         .op = a->op};
    in.percent = a->has_percent ? a->percent : p->migration.percent;
    in.sticky_key = sy_sticky_pick(p, req_header, req_body_value, &req, &in.sticky_source);
    in.sticky_key_len = in.sticky_key ? strlen(in.sticky_key) : 0;
    sy_plan plan;
    sy_plan_build(p, &in, &plan);

    if (a->json) {
        char *text = render_json(p, a, in.percent, &plan);
        if (!text) {
            fprintf(stderr, "switchyard explain: out of memory\n");
            rc = 1;
        } else {
            puts(text);
            cJSON_free(text);
        }
    } else {
        print_human(p, a, in.percent, &plan, stdout);
    }
    if (rc == 0 && fflush(stdout)) {
        fprintf(stderr, "switchyard explain: writing the output: %s\n", strerror(errno));
        rc = 1;
    }
    cJSON_Delete(body);
    unapply_user(p, a);
    return rc;
}

int cmd_explain(int argc, char **argv)
{
    explain_args a;
    memset(&a, 0, sizeof a);
    a.path = "/v1/chat/completions";
    a.op = SY_OP_CHAT;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        if (rc == 2) usage(stderr);
        args_free(&a);
        return rc < 0 ? 0 : rc;
    }

    sy_diags d;
    sy_diags_init(&d);
    sy_plugin_registry reg;
    sy_plugin_registry_init(&reg, NULL, 0);
    sy_policy *p = sy_policy_load(a.policy, SY_LOAD_VALIDATE, &reg, &d);
    if (!p) {
        sy_diags_print(&d, stderr);
        fprintf(stderr, "%s: invalid (%zu error%s); nothing to explain\n", a.policy, d.n_errors,
                d.n_errors == 1 ? "" : "s");
        rc = 1;
        goto out;
    }
    /* Warnings (an unset ${VAR}, ...) are validate's business: one line to
     * stderr, so stdout stays clean for --json. */
    if (d.n_warnings)
        fprintf(stderr, "%s: %zu warning%s; `switchyard validate %s` shows them\n", a.policy,
                d.n_warnings, d.n_warnings == 1 ? "" : "s", a.policy);
    if (a.users_from) {
        FILE *in = strcmp(a.users_from, "-") ? fopen(a.users_from, "r") : stdin;
        if (!in) {
            fprintf(stderr, "switchyard explain: --users-from %s: %s\n", a.users_from, strerror(errno));
            rc = 2;
            goto out;
        }
        char line[1024];
        while (rc == 0 && fgets(line, sizeof line, in)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!line[0]) continue;
            a.user = line;
            rc = explain_one(p, &a);
        }
        if (in != stdin) fclose(in);
    } else {
        rc = explain_one(p, &a);
    }
out:
    if (p) sy_policy_unref(p); /* destroys plugin instances before the plugins unload */
    sy_plugin_registry_free(&reg);
    sy_diags_free(&d);
    args_free(&a);
    return rc;
}
