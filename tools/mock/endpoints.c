/* endpoints.c - per-endpoint faults and statistics (see endpoints.h). */
#include "endpoints.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store.h"

typedef struct mock_faults {
    double error_rate;
    long fail_next;
    int error_status;
    char retry_after[64];
    long latency_ms;
    long latency_jitter_ms;
    long truncate_after;      /* -1 = off */
    int hang;
    int malformed;
    int echo_auth;
    long body_bytes;
    long header_bytes;
    int sse_cr;
    int chunked;
    char headers[MOCK_HEADERS_MAX];
} mock_faults;

typedef struct endpoint {
    char name[MOCK_NAME_MAX + 1];
    size_t name_len;
    mock_faults faults;
    uint64_t requests;        /* since the last reset; listed in /_stats when > 0 */
    uint64_t failures;        /* injected failures since the last reset */
    uint64_t not_found;       /* unknown response ids asked for, since the last reset */
    int has_model, has_auth;
    mock_buf path, model, auth, headers; /* each kept NUL-terminated; model as a JSON literal */
} endpoint;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static endpoint **eps;
static size_t n_eps;
static uint64_t total;

static const mock_faults no_faults = {
    .error_status = 500,
    .truncate_after = -1,
};

/* The fault keys, shared by POST /_control and --fault. */
enum ftype { F_RATE, F_COUNT, F_STATUS, F_STRING, F_MS, F_TRUNC, F_BOOL, F_BYTES, F_HEADERS };
static const struct {
    const char *name;
    enum ftype type;
} fault_keys[] = {
    {"error_rate", F_RATE},     {"fail_next", F_COUNT},          {"error_status", F_STATUS},
    {"retry_after", F_STRING},  {"latency_ms", F_MS},            {"latency_jitter_ms", F_MS},
    {"truncate_after", F_TRUNC}, {"hang", F_BOOL},               {"malformed", F_BOOL},
    {"echo_auth", F_BOOL},
    {"body_bytes", F_BYTES},    {"header_bytes", F_BYTES},       {"sse_cr", F_BOOL},
    {"headers", F_HEADERS},      {"chunked", F_BOOL},
};
#define N_FAULT_KEYS (sizeof(fault_keys) / sizeof(fault_keys[0]))
#define MAX_MS (3600L * 1000)
#define MAX_COUNT 1000000000L
#define MAX_BODY_BYTES (1L << 30)  /* body_bytes: the padding is made as it is sent */
#define MAX_HEADER_BYTES (16L << 20)

double mock_rng_unit(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

int mock_endpoint_name_ok(const char *name, size_t len)
{
    if (!len || len > MOCK_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && !strchr("._~/-", c)) return 0;
    }
    return 1;
}

static void keep_str(mock_buf *b, const char *s, size_t n)
{
    b->len = 0;
    mock_buf_reserve(b, n + 1);
    if (n) memcpy(b->data, s, n);
    b->data[n] = '\0';
    b->len = n;
}

/* Find an endpoint, creating it with no faults when create is set and there
 * is room. Caller holds the lock. */
static endpoint *find(const char *name, size_t len, int create)
{
    for (size_t i = 0; i < n_eps; i++)
        if (eps[i]->name_len == len && memcmp(eps[i]->name, name, len) == 0) return eps[i];
    if (!create || n_eps >= MOCK_MAX_ENDPOINTS) return NULL;
    endpoint *e = calloc(1, sizeof(*e));
    endpoint **grown = realloc(eps, (n_eps + 1) * sizeof(*eps));
    if (!e || !grown) mock_oom();
    eps = grown;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->name_len = len;
    e->faults = no_faults;
    eps[n_eps++] = e;
    return e;
}

int mock_endpoints_admit(const char *name, size_t len, const mock_seen *seen, uint64_t *rng,
                         mock_decision *d)
{
    pthread_mutex_lock(&lock);
    endpoint *e = find(name, len, 1);
    if (!e) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    total++;
    e->requests++;
    keep_str(&e->path, seen->path, seen->path_len);
    e->has_model = seen->model != NULL;
    if (seen->model) keep_str(&e->model, seen->model, seen->model_len);
    e->has_auth = seen->auth != NULL;
    if (seen->auth) keep_str(&e->auth, seen->auth, seen->auth_len);
    keep_str(&e->headers, seen->headers, seen->headers_len);

    mock_faults *f = &e->faults;
    memset(d, 0, sizeof(*d));
    d->delay_ms = f->latency_ms;
    if (f->latency_jitter_ms > 0)
        d->delay_ms += (long)(mock_rng_unit(rng) * (double)(f->latency_jitter_ms + 1));
    d->truncate_after = f->truncate_after;
    d->body_bytes = f->body_bytes;
    d->header_bytes = f->header_bytes;
    d->sse_cr = f->sse_cr;
    d->chunked = f->chunked;
    memcpy(d->headers, f->headers, strlen(f->headers) + 1);
    d->status = f->error_status;
    memcpy(d->retry_after, f->retry_after, sizeof(d->retry_after));
    if (f->echo_auth && seen->auth) {
        size_t n = seen->auth_len < sizeof(d->echo_auth) - 1 ? seen->auth_len : sizeof(d->echo_auth) - 1;
        memcpy(d->echo_auth, seen->auth, n);
        d->echo_auth[n] = '\0';
    }
    if (f->fail_next > 0) {
        f->fail_next--;
        d->action = MOCK_ACT_FAIL;
    } else if (f->error_rate > 0 && mock_rng_unit(rng) < f->error_rate) {
        d->action = MOCK_ACT_FAIL;
    } else if (f->hang) {
        d->action = MOCK_ACT_HANG;
    } else if (f->malformed) {
        d->action = MOCK_ACT_MALFORMED;
    } else {
        d->action = MOCK_ACT_ANSWER;
    }
    if (d->action == MOCK_ACT_FAIL) e->failures++;
    pthread_mutex_unlock(&lock);
    return 0;
}

void mock_endpoints_note_not_found(const char *name, size_t len)
{
    pthread_mutex_lock(&lock);
    endpoint *e = find(name, len, 0);
    if (e) e->not_found++;
    pthread_mutex_unlock(&lock);
}

static int key_index(const char *key)
{
    for (size_t i = 0; i < N_FAULT_KEYS; i++)
        if (!strcmp(fault_keys[i].name, key)) return (int)i;
    return -1;
}

static void unknown_key(const char *key, char *err, size_t errlen)
{
    int n = snprintf(err, errlen, "unknown fault '%s'; valid keys:", key);
    for (size_t i = 0; i < N_FAULT_KEYS && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, "%s %s", i ? "," : "", fault_keys[i].name);
}

/* Set one fault. For F_STRING str is the value (num unused when str != NULL);
 * for the others num is the value. */
static int apply(mock_faults *f, int k, double num, const char *str, char *err, size_t errlen)
{
    const char *name = fault_keys[k].name;
    enum ftype t = fault_keys[k].type;
    if (t == F_STRING) {
        char tmp[64];
        if (!str) {
            if (!(num >= 0 && num <= 1e9)) goto range;
            snprintf(tmp, sizeof(tmp), "%.0f", floor(num));
            str = tmp;
        }
        size_t n = strlen(str);
        if (n >= sizeof(f->retry_after)) goto range;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)str[i] < 0x20 || (unsigned char)str[i] >= 0x7f) {
                snprintf(err, errlen, "fault '%s' must be printable ASCII", name);
                return -1;
            }
        memcpy(f->retry_after, str, n + 1);
        return 0;
    }
    if (str) {
        snprintf(err, errlen, "fault '%s' must be %s", name,
                 t == F_BOOL ? "true or false" : "a number");
        return -1;
    }
    if (t != F_RATE && t != F_BOOL && num != floor(num)) {
        snprintf(err, errlen, "fault '%s' must be a whole number", name);
        return -1;
    }
    switch (t) {
    case F_RATE:
        if (!(num >= 0 && num <= 1)) goto range;
        f->error_rate = num;
        return 0;
    case F_COUNT:
        if (!(num >= 0 && num <= MAX_COUNT)) goto range;
        f->fail_next = (long)num;
        return 0;
    case F_STATUS:
        if (!(num >= 400 && num <= 599)) goto range;
        f->error_status = (int)num;
        return 0;
    case F_MS:
        if (!(num >= 0 && num <= MAX_MS)) goto range;
        if (!strcmp(name, "latency_ms")) f->latency_ms = (long)num;
        else f->latency_jitter_ms = (long)num;
        return 0;
    case F_TRUNC:
        if (!(num >= -1 && num <= MAX_COUNT)) goto range;
        f->truncate_after = (long)num;
        return 0;
    case F_BOOL:
        if (num != 0 && num != 1) goto range;
        if (!strcmp(name, "hang")) f->hang = (int)num;
        else if (!strcmp(name, "sse_cr")) f->sse_cr = (int)num;
        else if (!strcmp(name, "chunked")) f->chunked = (int)num;
        else if (!strcmp(name, "malformed")) f->malformed = (int)num;
        else f->echo_auth = (int)num;
        return 0;
    case F_BYTES:
        if (!(num >= 0 && num <= (!strcmp(name, "body_bytes") ? MAX_BODY_BYTES : MAX_HEADER_BYTES)))
            goto range;
        if (!strcmp(name, "body_bytes")) f->body_bytes = (long)num;
        else f->header_bytes = (long)num;
        return 0;
    case F_STRING:
    case F_HEADERS:
        break;
    }
range:
    switch (t) {
    case F_RATE: snprintf(err, errlen, "fault '%s' must be between 0 and 1", name); break;
    case F_STATUS: snprintf(err, errlen, "fault '%s' must be a status 400..599", name); break;
    case F_STRING: snprintf(err, errlen, "fault '%s' must be a short string", name); break;
    case F_BOOL: snprintf(err, errlen, "fault '%s' must be true or false", name); break;
    case F_TRUNC: snprintf(err, errlen, "fault '%s' must be -1 (off) or a count", name); break;
    default: snprintf(err, errlen, "fault '%s' is out of range", name); break;
    }
    return -1;
}

static int token_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The `headers` fault: a JSON object of header name -> string value, kept as
 * "Name: value\r\n" lines. Values may hold any byte but CR, LF and NUL (so
 * tests can send odd ones); names are HTTP tokens. */
static int apply_headers(mock_faults *f, const cJSON *obj, char *err, size_t errlen)
{
    mock_buf b = {0};
    int rc = -1;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "fault 'headers' must be an object of name: string value");
        goto out;
    }
    for (const cJSON *h = obj->child; h; h = h->next) {
        size_t nl = strlen(h->string);
        int ok = nl > 0 && nl <= 64 && cJSON_IsString(h);
        for (size_t i = 0; ok && i < nl; i++) ok = token_char((unsigned char)h->string[i]);
        if (!ok) {
            snprintf(err, errlen, "fault 'headers': '%s' needs a token name and a string value",
                     h->string);
            goto out;
        }
        if (strpbrk(h->valuestring, "\r\n")) {
            snprintf(err, errlen, "fault 'headers': the value of '%s' has a line break", h->string);
            goto out;
        }
        mock_buf_printf(&b, "%s: %s\r\n", h->string, h->valuestring);
    }
    if (b.len >= sizeof(f->headers)) {
        snprintf(err, errlen, "fault 'headers' is too long (at most %d bytes)", MOCK_HEADERS_MAX - 1);
        goto out;
    }
    if (b.len) memcpy(f->headers, b.data, b.len);
    f->headers[b.len] = '\0';
    rc = 0;
out:
    mock_buf_free(&b);
    return rc;
}

static void faults_json(const mock_faults *f, mock_buf *out)
{
    mock_buf_printf(out, "{\"error_rate\":%g,\"fail_next\":%ld,\"error_status\":%d,\"retry_after\":",
                    f->error_rate, f->fail_next, f->error_status);
    if (f->retry_after[0]) mock_buf_json_string(out, f->retry_after, strlen(f->retry_after));
    else mock_buf_puts(out, "null");
    mock_buf_printf(out, ",\"latency_ms\":%ld,\"latency_jitter_ms\":%ld,\"truncate_after\":",
                    f->latency_ms, f->latency_jitter_ms);
    if (f->truncate_after >= 0) mock_buf_printf(out, "%ld", f->truncate_after);
    else mock_buf_puts(out, "null");
    mock_buf_printf(out, ",\"body_bytes\":%ld,\"header_bytes\":%ld,\"sse_cr\":%s,\"chunked\":%s,"
                         "\"headers\":",
                    f->body_bytes, f->header_bytes, f->sse_cr ? "true" : "false",
                    f->chunked ? "true" : "false");
    mock_buf_json_string(out, f->headers, strlen(f->headers));
    mock_buf_printf(out, ",\"hang\":%s,\"malformed\":%s,\"echo_auth\":%s}", f->hang ? "true" : "false",
                    f->malformed ? "true" : "false", f->echo_auth ? "true" : "false");
}

int mock_endpoints_control(const char *name, size_t len, const char *json, size_t json_len,
                           mock_buf *reply, char *err, size_t errlen)
{
    mock_faults f = no_faults;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    int rc = -1;
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "the body must be a JSON object of faults");
        goto out;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        int k = key_index(it->string);
        if (k < 0) {
            unknown_key(it->string, err, errlen);
            goto out;
        }
        if (fault_keys[k].type == F_HEADERS) {
            if (!cJSON_IsNull(it) && apply_headers(&f, it, err, errlen) < 0) goto out;
            continue;
        }
        if (cJSON_IsNull(it) && (fault_keys[k].type == F_STRING || fault_keys[k].type == F_TRUNC)) {
            if (fault_keys[k].type == F_STRING) f.retry_after[0] = '\0';
            else f.truncate_after = -1;
            continue;
        }
        if (cJSON_IsBool(it)) {
            if (fault_keys[k].type != F_BOOL) {
                snprintf(err, errlen, "fault '%s' must be a number", it->string);
                goto out;
            }
            if (apply(&f, k, cJSON_IsTrue(it) ? 1 : 0, NULL, err, errlen) < 0) goto out;
        } else if (cJSON_IsNumber(it)) {
            if (apply(&f, k, it->valuedouble, NULL, err, errlen) < 0) goto out;
        } else if (cJSON_IsString(it) && fault_keys[k].type == F_STRING) {
            if (apply(&f, k, 0, it->valuestring, err, errlen) < 0) goto out;
        } else {
            snprintf(err, errlen, "fault '%s' has the wrong type", it->string);
            goto out;
        }
    }
    pthread_mutex_lock(&lock);
    endpoint *e = find(name, len, 1);
    if (e) e->faults = f;
    pthread_mutex_unlock(&lock);
    if (!e) {
        snprintf(err, errlen, "too many endpoints (at most %d)", MOCK_MAX_ENDPOINTS);
        goto out;
    }
    faults_json(&f, reply);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

void mock_endpoints_show(const char *name, size_t len, mock_buf *reply)
{
    pthread_mutex_lock(&lock);
    endpoint *e = find(name, len, 0);
    mock_faults f = e ? e->faults : no_faults;
    pthread_mutex_unlock(&lock);
    faults_json(&f, reply);
}

int mock_endpoints_fault_arg(const char *arg, char *err, size_t errlen)
{
    const char *colon = strchr(arg, ':');
    if (!colon || !mock_endpoint_name_ok(arg, (size_t)(colon - arg))) {
        snprintf(err, errlen, "--fault wants ENDPOINT:key=value,... with a valid endpoint name");
        return -1;
    }
    size_t name_len = (size_t)(colon - arg);
    pthread_mutex_lock(&lock);
    endpoint *e = find(arg, name_len, 1);
    mock_faults f = e ? e->faults : no_faults;
    pthread_mutex_unlock(&lock);
    if (!e) {
        snprintf(err, errlen, "too many endpoints");
        return -1;
    }
    char *copy = strdup(colon + 1), *save = NULL;
    if (!copy) mock_oom();
    int rc = -1;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "--fault: '%s' is not key=value", kv);
            goto out;
        }
        *eq = '\0';
        const char *val = eq + 1;
        int k = key_index(kv);
        if (k < 0) {
            unknown_key(kv, err, errlen);
            goto out;
        }
        if (fault_keys[k].type == F_STRING) {
            if (apply(&f, k, 0, val, err, errlen) < 0) goto out;
            continue;
        }
        if (fault_keys[k].type == F_HEADERS) {
            snprintf(err, errlen, "--fault: 'headers' is set with POST /_control only");
            goto out;
        }
        double num;
        char *end;
        if (fault_keys[k].type == F_BOOL && !strcmp(val, "true")) num = 1;
        else if (fault_keys[k].type == F_BOOL && !strcmp(val, "false")) num = 0;
        else {
            num = strtod(val, &end);
            if (!*val || *end) {
                snprintf(err, errlen, "--fault: '%s' wants a number, not '%s'", kv, val);
                goto out;
            }
        }
        if (apply(&f, k, num, NULL, err, errlen) < 0) goto out;
    }
    pthread_mutex_lock(&lock);
    e->faults = f;
    pthread_mutex_unlock(&lock);
    rc = 0;
out:
    free(copy);
    return rc;
}

/* Turn raw header lines into {"lower-name": "value"}; repeats joined by ", ". */
static cJSON *headers_object(const char *p, size_t len)
{
    cJSON *obj = cJSON_CreateObject();
    const char *end = p + len;
    mock_buf name = {0}, val = {0};
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *le = lf ? lf : end;
        const char *next = lf ? lf + 1 : end;
        if (le > p && le[-1] == '\r') le--;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t')) v++;
            keep_str(&name, p, (size_t)(colon - p));
            for (size_t i = 0; i < name.len; i++) name.data[i] = (char)tolower((unsigned char)name.data[i]);
            cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, name.data);
            if (old && cJSON_IsString(old)) {
                keep_str(&val, old->valuestring, strlen(old->valuestring));
                mock_buf_append(&val, ", ", 2);
            } else {
                val.len = 0;
            }
            mock_buf_append(&val, v, (size_t)(le - v));
            mock_buf_append(&val, "", 1);
            if (old) cJSON_ReplaceItemInObjectCaseSensitive(obj, name.data, cJSON_CreateString(val.data));
            else cJSON_AddStringToObject(obj, name.data, val.data);
        }
        p = next;
    }
    mock_buf_free(&name);
    mock_buf_free(&val);
    return obj;
}

void mock_endpoints_stats(mock_buf *out)
{
    cJSON *root = cJSON_CreateObject();
    pthread_mutex_lock(&lock);
    cJSON_AddNumberToObject(root, "total", (double)total);
    cJSON *all = cJSON_AddObjectToObject(root, "endpoints");
    for (size_t i = 0; i < n_eps; i++) {
        endpoint *e = eps[i];
        if (!e->requests) continue;
        cJSON *o = cJSON_AddObjectToObject(all, e->name);
        cJSON_AddNumberToObject(o, "requests", (double)e->requests);
        cJSON_AddNumberToObject(o, "failures", (double)e->failures);
        cJSON_AddNumberToObject(o, "not_found", (double)e->not_found);
        cJSON_AddNumberToObject(o, "stored", (double)mock_store_count(e->name, e->name_len));
        if (e->has_auth) cJSON_AddStringToObject(o, "last_authorization", e->auth.data);
        else cJSON_AddNullToObject(o, "last_authorization");
        cJSON *model = e->has_model ? cJSON_ParseWithLength(e->model.data, e->model.len) : NULL;
        if (model) cJSON_AddItemToObject(o, "last_model", model);
        else cJSON_AddNullToObject(o, "last_model");
        cJSON_AddStringToObject(o, "last_path", e->path.data ? e->path.data : "");
        cJSON_AddItemToObject(o, "last_headers", headers_object(e->headers.data, e->headers.len));
    }
    pthread_mutex_unlock(&lock);
    char *s = cJSON_PrintUnformatted(root);
    if (!s) mock_oom();
    mock_buf_puts(out, s);
    cJSON_free(s);
    cJSON_Delete(root);
}

void mock_endpoints_reset_stats(void)
{
    pthread_mutex_lock(&lock);
    total = 0;
    for (size_t i = 0; i < n_eps; i++) {
        endpoint *e = eps[i];
        e->requests = e->failures = e->not_found = 0;
        e->has_model = e->has_auth = 0;
        e->path.len = e->model.len = e->auth.len = e->headers.len = 0;
    }
    pthread_mutex_unlock(&lock);
}

void mock_endpoints_free(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_eps; i++) {
        mock_buf_free(&eps[i]->path);
        mock_buf_free(&eps[i]->model);
        mock_buf_free(&eps[i]->auth);
        mock_buf_free(&eps[i]->headers);
        free(eps[i]);
    }
    free(eps);
    eps = NULL;
    n_eps = 0;
    pthread_mutex_unlock(&lock);
}
