/* test_access_log.c - JSON access log: valid lines, the expected fields, no
 * interleaving under concurrent writers, escaping, no query strings, rotation. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"

#define MS_NS 1000000ull

static char dir[64];
static char logpath[128];

static void setup(void)
{
    strcpy(dir, "/tmp/sy-access-log-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(logpath, sizeof logpath, "%s/access.log", dir);
}

static void teardown(void)
{
    char p[160];
    snprintf(p, sizeof p, "%s/access.log", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/access.log.1", dir);
    unlink(p);
    rmdir(dir);
}

TestSuite(access_log, .init = setup, .fini = teardown);

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Splits into lines (each must end with '\n'); returns the count. */
static size_t lines_of(char *text, size_t len, char ***out)
{
    size_t n = 0, cap = 64;
    char **lines = malloc(cap * sizeof *lines);
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        cr_assert_not_null(nl, "last line has no newline");
        *nl = '\0';
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[n++] = p;
        p = nl + 1;
    }
    *out = lines;
    return n;
}

static sy_request_event sample_event(void)
{
    sy_request_event ev = {
        .request_id = "req-1", .method = "POST", .path = "/v1/chat/completions",
        .arm = "canary", .provider = "holysheep", .endpoint = "cn-north",
        .model_asked = "gpt-4.1", .model_served = "gpt-4o", .status = 200, .attempts = 2,
        .stream = 1, .client_aborted = 0, .stream_cut = 1,
        .start_ns = 1000 * MS_NS, .ttfb_ns = 1000 * MS_NS + 301002000ull,
        .end_ns = 1000 * MS_NS + 12345678ull + 800 * MS_NS, .upstream_ns = 800100000ull,
        .input_tokens = 120, .output_tokens = -1, .cost_usd = 0.00000225, .error = NULL,
    };
    return ev;
}

static const char *const fields[] = {
    "ts", "request_id", "method", "path", "arm", "provider", "endpoint", "model",
    "model_served", "status", "attempts", "stream", "latency_ms", "ttfb_ms", "upstream_ms",
    "input_tokens", "output_tokens", "cost_usd", "client_aborted", "stream_cut", "error",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Exactly the documented keys, in order: nothing else can leak in. */
static void assert_exact_keys(const cJSON *o)
{
    size_t i = 0;
    for (const cJSON *c = o->child; c; c = c->next, i++) {
        cr_assert_lt(i, NFIELDS, "extra key %s", c->string);
        cr_assert_str_eq(c->string, fields[i]);
    }
    cr_assert_eq(i, NFIELDS);
}

static cJSON *only_line(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    char **lines;
    size_t n = lines_of(text, len, &lines);
    cr_assert_eq(n, 1, "want one line, got %zu", n);
    cJSON *o = cJSON_Parse(lines[0]);
    cr_assert_not_null(o, "not JSON: %s", lines[0]);
    free(lines);
    free(text);
    return o;
}

Test(access_log, one_line_with_expected_fields)
{
    char err[256];
    mode_t old_mask = umask(022);
    sy_access_log *log = sy_access_log_open(logpath, err, sizeof err);
    umask(old_mask);
    cr_assert_not_null(log, "%s", err);
    sy_request_event ev = sample_event();
    time_t before = time(NULL);
    sy_access_log_write(log, &ev);
    sy_access_log_flush(log);

    cJSON *o = only_line(logpath);
    assert_exact_keys(o);
    const char *ts = cJSON_GetObjectItem(o, "ts")->valuestring;
    cr_assert_eq(strlen(ts), 24, "ts %s", ts);
    struct tm tm = {0};
    char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    cr_assert_not_null(rest);
    cr_assert(rest[0] == '.' && rest[4] == 'Z', "ts %s", ts);
    time_t t = timegm(&tm);
    cr_assert(t >= before - 1 && t <= time(NULL) + 1, "ts %s is not now (UTC)", ts);

    cr_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "req-1");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "method")->valuestring, "POST");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "path")->valuestring, "/v1/chat/completions");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "arm")->valuestring, "canary");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "provider")->valuestring, "holysheep");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "endpoint")->valuestring, "cn-north");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "model")->valuestring, "gpt-4.1");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "model_served")->valuestring, "gpt-4o");
    cr_assert_eq(cJSON_GetObjectItem(o, "status")->valueint, 200);
    cr_assert_eq(cJSON_GetObjectItem(o, "attempts")->valueint, 2);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "stream")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "client_aborted")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "stream_cut")));
    cr_assert_float_eq(cJSON_GetObjectItem(o, "latency_ms")->valuedouble, 812.345, 1e-9);
    cr_assert_float_eq(cJSON_GetObjectItem(o, "ttfb_ms")->valuedouble, 301.002, 1e-9);
    cr_assert_float_eq(cJSON_GetObjectItem(o, "upstream_ms")->valuedouble, 800.1, 1e-9);
    cr_assert_eq(cJSON_GetObjectItem(o, "input_tokens")->valueint, 120);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "output_tokens")));
    cr_assert_float_eq(cJSON_GetObjectItem(o, "cost_usd")->valuedouble, 0.00000225, 1e-15);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
    cJSON_Delete(o);
    sy_access_log_close(log);

    struct stat st;
    cr_assert_eq(stat(logpath, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
}

Test(access_log, nulls_and_no_ttfb)
{
    sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
    cr_assert_not_null(log);
    sy_request_event ev = {.status = 401, .input_tokens = -1, .output_tokens = -1,
                           .cost_usd = -1};
    sy_access_log_write(log, &ev);
    sy_access_log_close(log); /* close flushes */
    cJSON *o = only_line(logpath);
    assert_exact_keys(o);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "cost_usd")));
    cr_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "model_served")->valuestring, "");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "ttfb_ms")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "input_tokens")));
    cr_assert_float_eq(cJSON_GetObjectItem(o, "latency_ms")->valuedouble, 0, 1e-12);
    cJSON_Delete(o);
}

/* Cost is written to the nano-dollar as a plain decimal: exact to the cent
 * (and far below) for any sum a reader makes of the lines. */
Test(access_log, cost_is_a_plain_decimal)
{
    static const struct {
        double usd;
        const char *text;
    } cases[] = {
        {0, "\"cost_usd\":0,"},          {1.5, "\"cost_usd\":1.5,"},
        {0.00000225, "\"cost_usd\":0.00000225,"}, {12.000000001, "\"cost_usd\":12.000000001,"},
        {0.03, "\"cost_usd\":0.03,"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
        cr_assert_not_null(log);
        sy_request_event ev = sample_event();
        ev.cost_usd = cases[i].usd;
        sy_access_log_write(log, &ev);
        sy_access_log_close(log);
        size_t len;
        char *text = slurp(logpath, &len);
        cr_assert_not_null(strstr(text, cases[i].text), "%g: %s", cases[i].usd, text);
        free(text);
        unlink(logpath);
    }
}

Test(access_log, error_is_escaped_and_query_string_never_logged)
{
    sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
    cr_assert_not_null(log);
    sy_request_event ev = sample_event();
    ev.error = "upstream said \"no\"\nline2\t\x01\\ \xff end \xe4\xb8\xad";
    ev.path = "/v1/chat/completions?api_key=sk-SECRET-123";
    ev.request_id = "id\"with\nnewline";
    sy_access_log_write(log, &ev);
    sy_access_log_close(log);

    size_t len;
    char *raw = slurp(logpath, &len);
    cr_assert_null(strstr(raw, "sk-SECRET"), "query string leaked: %s", raw);
    free(raw);
    cJSON *o = only_line(logpath);
    assert_exact_keys(o);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "error")->valuestring,
                     "upstream said \"no\"\nline2\t\x01\\ \xef\xbf\xbd end \xe4\xb8\xad");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "path")->valuestring, "/v1/chat/completions");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "id\"with\nnewline");
    cJSON_Delete(o);
}

Test(access_log, long_fields_are_cut_on_a_character_boundary)
{
    sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
    cr_assert_not_null(log);
    size_t big = 100000;
    char *s = malloc(big + 1);
    for (size_t i = 0; i + 3 <= big; i += 3)
        memcpy(s + i, "\xe4\xb8\xad", 3); /* 中 */
    s[big - big % 3] = '\0';
    char *ctl = malloc(big + 1);
    memset(ctl, 0x01, big);
    ctl[big] = '\0';
    sy_request_event ev = sample_event();
    ev.request_id = s;
    ev.model_asked = s;
    ev.path = s;
    ev.error = ctl; /* escapes to 6 bytes each */
    sy_access_log_write(log, &ev);
    sy_access_log_close(log);
    cJSON *o = only_line(logpath);
    const char *rid = cJSON_GetObjectItem(o, "request_id")->valuestring;
    cr_assert_gt(strlen(rid), 0);
    cr_assert_leq(strlen(rid), 256);
    cr_assert_eq(strlen(rid) % 3, 0, "cut inside a character");
    cr_assert_gt(strlen(cJSON_GetObjectItem(o, "error")->valuestring), 0);
    cr_assert_lt(strlen(cJSON_GetObjectItem(o, "error")->valuestring), 4096);
    cJSON_Delete(o);
    free(s);
    free(ctl);
}

/* ---- concurrency ------------------------------------------------------- */

#define WRITERS 8
#define LINES 5000

static sy_access_log *shared_log;
static atomic_bool writing_done;

static void *log_writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    char err[301], rid[32];
    memset(err, 'a' + t, 300); /* one letter per thread: interleaving shows up */
    err[300] = '\0';
    for (int i = 0; i < LINES; i++) {
        sy_request_event ev = sample_event();
        snprintf(rid, sizeof rid, "%d-%d", t, i);
        ev.request_id = rid;
        ev.error = err;
        ev.attempts = t;
        sy_access_log_write(shared_log, &ev);
    }
    return NULL;
}

static void *log_flusher(void *arg)
{
    (void)arg;
    while (!atomic_load(&writing_done)) {
        sy_access_log_flush(shared_log);
        usleep(200);
    }
    return NULL;
}

Test(access_log, concurrent_writers_never_interleave)
{
    char err[256];
    shared_log = sy_access_log_open(logpath, err, sizeof err);
    cr_assert_not_null(shared_log, "%s", err);
    pthread_t th[WRITERS], fl;
    atomic_store(&writing_done, false);
    cr_assert_eq(pthread_create(&fl, NULL, log_flusher, NULL), 0);
    for (int t = 0; t < WRITERS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, log_writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < WRITERS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&writing_done, true);
    pthread_join(fl, NULL);
    cr_assert_eq(sy_access_log_dropped(shared_log), 0);
    sy_access_log_close(shared_log);

    size_t len;
    char *text = slurp(logpath, &len);
    char **lines;
    size_t n = lines_of(text, len, &lines);
    cr_assert_eq(n, (size_t)WRITERS * LINES);
    static unsigned char seen[WRITERS][LINES];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(lines[i]);
        cr_assert_not_null(o, "line %zu not JSON: %.200s", i, lines[i]);
        int t, k;
        cr_assert_eq(sscanf(cJSON_GetObjectItem(o, "request_id")->valuestring, "%d-%d", &t, &k), 2);
        cr_assert(t >= 0 && t < WRITERS && k >= 0 && k < LINES);
        cr_assert_eq(cJSON_GetObjectItem(o, "attempts")->valueint, t);
        const char *e = cJSON_GetObjectItem(o, "error")->valuestring;
        cr_assert_eq(strlen(e), 300);
        cr_assert_eq(strspn(e, (char[]){(char)('a' + t), 0}), 300, "mixed line %zu", i);
        cr_assert_eq(seen[t][k], 0, "duplicate %d-%d", t, k);
        seen[t][k] = 1;
        cJSON_Delete(o);
    }
    free(lines);
    free(text);
}

static void *short_lived(void *arg)
{
    sy_request_event ev = sample_event();
    for (int i = 0; i < 3; i++)
        sy_access_log_write(arg, &ev);
    return NULL;
}

Test(access_log, exiting_thread_flushes_its_buffer)
{
    sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
    cr_assert_not_null(log);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, short_lived, log), 0);
    pthread_join(th, NULL);
    size_t len;
    char *text = slurp(logpath, &len); /* before any flush or close */
    char **lines;
    cr_assert_eq(lines_of(text, len, &lines), 3);
    free(lines);
    free(text);
    sy_access_log_close(log);
}

Test(access_log, buffered_until_flush)
{
    sy_access_log *log = sy_access_log_open(logpath, NULL, 0);
    cr_assert_not_null(log);
    sy_request_event ev = sample_event();
    sy_access_log_write(log, &ev);
    size_t len;
    free(slurp(logpath, &len));
    cr_assert_eq(len, 0, "a single line should stay buffered");
    /* past 32 KiB the writer flushes by itself */
    for (int i = 0; i < 200; i++)
        sy_access_log_write(log, &ev);
    free(slurp(logpath, &len));
    cr_assert_gt(len, 0);
    sy_access_log_close(log);
    char *text = slurp(logpath, &len);
    char **lines;
    cr_assert_eq(lines_of(text, len, &lines), 201);
    free(lines);
    free(text);
}

/* ---- targets ----------------------------------------------------------- */

Test(access_log, off_and_null_are_no_ops)
{
    char err[256];
    sy_access_log *log = sy_access_log_open("off", err, sizeof err);
    cr_assert_not_null(log);
    sy_request_event ev = sample_event();
    sy_access_log_write(log, &ev);
    sy_access_log_flush(log);
    cr_assert_eq(sy_access_log_reopen(log, err, sizeof err), 0);
    sy_access_log_close(log);
    sy_access_log_write(NULL, &ev);
    sy_access_log_flush(NULL);
    sy_access_log_close(NULL);
}

Test(access_log, bad_targets_give_clear_errors)
{
    char err[256] = "";
    cr_assert_null(sy_access_log_open("/nonexistent-dir/sub/access.log", err, sizeof err));
    cr_assert(strstr(err, "cannot open /nonexistent-dir/sub/access.log"), "err: %s", err);
    cr_assert_null(sy_access_log_open("", err, sizeof err));
    cr_assert(strstr(err, "empty"), "err: %s", err);
    cr_assert_null(sy_access_log_open(dir, err, sizeof err)); /* a directory */
    cr_assert(strstr(err, "cannot open"), "err: %s", err);
}

Test(access_log, stdout_target_writes_lines)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *f = fopen(logpath, "w");
    cr_assert_not_null(f);
    dup2(fileno(f), STDOUT_FILENO);
    sy_access_log *log = sy_access_log_open("stdout", NULL, 0);
    cr_assert_not_null(log);
    sy_request_event ev = sample_event();
    sy_access_log_write(log, &ev);
    sy_access_log_close(log); /* must not close stdout */
    cr_assert_neq(fcntl(STDOUT_FILENO, F_GETFD), -1);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(f);
    cJSON *o = only_line(logpath);
    assert_exact_keys(o);
    cJSON_Delete(o);
}

Test(access_log, reopen_moves_to_the_new_file)
{
    char err[256], rotated[160];
    snprintf(rotated, sizeof rotated, "%s/access.log.1", dir);
    sy_access_log *log = sy_access_log_open(logpath, err, sizeof err);
    cr_assert_not_null(log);
    sy_request_event ev = sample_event();
    ev.request_id = "before";
    sy_access_log_write(log, &ev); /* still buffered at rotation time */
    cr_assert_eq(rename(logpath, rotated), 0);
    cr_assert_eq(sy_access_log_reopen(log, err, sizeof err), 0, "%s", err);
    ev.request_id = "after";
    sy_access_log_write(log, &ev);
    sy_access_log_close(log);

    cJSON *o = only_line(rotated);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "before");
    cJSON_Delete(o);
    o = only_line(logpath);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "after");
    cJSON_Delete(o);
}
