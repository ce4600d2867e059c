/* replay.c - an access log's traffic shape (see replay.h). */
#include "replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct builder {
    sy_replay *r;
    size_t cap_items, cap_models;
    int64_t first_ms;       /* smallest arrival so far (absolute), INT64_MAX none */
} builder;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t sy_replay_parse_ts(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff...]Z */
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3) ms = ms * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 3; n++) ms *= 10;
    }
    if (*p != 'Z' || p[1]) return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    return (int64_t)t * 1000 + ms;
}

static int op_of(const char *path)
{
    if (!strcmp(path, "/v1/chat/completions")) return SY_OP_CHAT;
    if (!strcmp(path, "/v1/completions")) return SY_OP_COMPLETIONS;
    if (!strcmp(path, "/v1/embeddings")) return SY_OP_EMBEDDINGS;
    return 0;
}

static long model_index(builder *b, const char *name)
{
    sy_replay *r = b->r;
    for (size_t i = 0; i < r->n_models; i++)
        if (!strcmp(r->models[i], name)) return (long)i;
    if (r->n_models == b->cap_models) {
        size_t cap = b->cap_models ? b->cap_models * 2 : 16;
        char **nm = realloc(r->models, cap * sizeof *nm);
        if (!nm) return -1;
        r->models = nm;
        b->cap_models = cap;
    }
    if (!(r->models[r->n_models] = strdup(name))) return -1;
    return (long)r->n_models++;
}

static void bad_line(sy_replay *r, size_t lineno)
{
    r->skipped++;
    r->unreadable++;
    if (!r->first_bad_line) r->first_bad_line = lineno;
}

/* One line of the log; -1 only when out of memory. */
static int add_line(builder *b, const char *line, size_t len, size_t lineno)
{
    sy_replay *r = b->r;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i == len) return 0; /* blank */
    r->lines++;
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        bad_line(r, lineno);
        return 0;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(j, "path");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(j, "stream");
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(j, "latency_ms");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(j, "request_id");
    int64_t end_ms = cJSON_IsString(ts) ? sy_replay_parse_ts(ts->valuestring) : -1;
    if (end_ms < 0 || !cJSON_IsString(path)) {
        cJSON_Delete(j);
        bad_line(r, lineno);
        return 0;
    }
    int op = op_of(path->valuestring);
    if (!op || !cJSON_IsString(model) || !model->valuestring[0]) {
        cJSON_Delete(j); /* not a proxied request: /v1/models, /admin, ... */
        r->skipped++;
        return 0;
    }
    int64_t at = end_ms;
    if (cJSON_IsNumber(lat) && lat->valuedouble > 0 && isfinite(lat->valuedouble))
        at -= (int64_t)llround(lat->valuedouble);
    long mi = model_index(b, model->valuestring);
    if (mi < 0) {
        cJSON_Delete(j);
        return -1;
    }
    if (r->n_items == b->cap_items) {
        size_t cap = b->cap_items ? b->cap_items * 2 : 1024;
        sy_replay_item *ni = realloc(r->items, cap * sizeof *ni);
        if (!ni) {
            cJSON_Delete(j);
            return -1;
        }
        r->items = ni;
        b->cap_items = cap;
    }
    char num[32];
    const char *id = cJSON_IsString(rid) && rid->valuestring[0] ? rid->valuestring : NULL;
    if (!id) {
        snprintf(num, sizeof num, "line-%zu", lineno);
        id = num;
    }
    r->items[r->n_items++] = (sy_replay_item){
        .at_ms = at, .model = (uint32_t)mi, .stream = cJSON_IsTrue(stream) && op != SY_OP_EMBEDDINGS,
        .op = (uint8_t)op, .user_hash = fnv1a(id, strlen(id)), .seq = r->n_items,
    };
    if (at < b->first_ms) b->first_ms = at;
    cJSON_Delete(j);
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const sy_replay_item *x = a, *y = b;
    if (x->at_ms != y->at_ms) return x->at_ms < y->at_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort and count from the first arrival; NULL with err when empty. */
static sy_replay *finish(builder *b, char *err, size_t errlen)
{
    sy_replay *r = b->r;
    if (!r->n_items) {
        snprintf(err, errlen,
                 "no request to replay: %zu line%s read, none a proxied request (%zu unreadable)",
                 r->lines, r->lines == 1 ? "" : "s", r->unreadable);
        sy_replay_free(r);
        return NULL;
    }
    qsort(r->items, r->n_items, sizeof *r->items, by_time);
    for (size_t i = 0; i < r->n_items; i++) r->items[i].at_ms -= b->first_ms;
    r->span_ms = r->items[r->n_items - 1].at_ms;
    return r;
}

sy_replay *sy_replay_parse(const char *text, size_t len, char *err, size_t errlen)
{
    builder b = {.r = calloc(1, sizeof(sy_replay)), .first_ms = INT64_MAX};
    if (!b.r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (add_line(&b, text + i, n, ++lineno) != 0) {
            snprintf(err, errlen, "out of memory");
            sy_replay_free(b.r);
            return NULL;
        }
        i += n + 1;
    }
    return finish(&b, err, errlen);
}

sy_replay *sy_replay_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    builder b = {.r = calloc(1, sizeof(sy_replay)), .first_ms = INT64_MAX};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int oom = !b.r;
    while (!oom && (n = getline(&line, &cap, f)) >= 0)
        if (add_line(&b, line, (size_t)n, ++lineno) != 0) oom = 1;
    int read_err = ferror(f);
    free(line);
    fclose(f);
    if (oom || read_err) {
        snprintf(err, errlen, oom ? "out of memory reading %s" : "cannot read %s", path);
        sy_replay_free(b.r);
        return NULL;
    }
    return finish(&b, err, errlen);
}

void sy_replay_free(sy_replay *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_models; i++) free(r->models[i]);
    free(r->models);
    free(r->items);
    free(r);
}
