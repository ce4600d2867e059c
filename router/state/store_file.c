/* store_file.c - the file and memory stores (see store.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define MAX_STATE_FILE (1u << 20) /* a state file is a few hundred bytes */

typedef struct file_store {
    sy_store base;
    pthread_mutex_t mu;
    char *path;     /* NULL: the memory store */
    cJSON *doc;     /* the object as it will be written */
    int dirty;
} file_store;

static const sy_store_ops file_ops;

static int fs_get(sy_store *b, const char *key, char **value)
{
    file_store *s = (file_store *)b;
    pthread_mutex_lock(&s->mu);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->doc, key);
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!v) return 1;
    if (!text) return -1;
    *value = text;
    return 0;
}

static int fs_put(sy_store *b, const char *key, const char *value)
{
    file_store *s = (file_store *)b;
    cJSON *v = cJSON_Parse(value);
    if (!v) return -1;
    pthread_mutex_lock(&s->mu);
    cJSON_DeleteItemFromObjectCaseSensitive(s->doc, key);
    int ok = cJSON_AddItemToObject(s->doc, key, v);
    if (ok) s->dirty = 1;
    pthread_mutex_unlock(&s->mu);
    if (!ok) cJSON_Delete(v);
    return ok ? 0 : -1;
}

/* Write text to path atomically: a temporary file beside it, fsync, rename,
 * then fsync the folder so the rename itself is durable. */
static int write_atomic(const char *path, const char *text, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, n + 16, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

static int fs_flush(sy_store *b, char *err, size_t errlen)
{
    file_store *s = (file_store *)b;
    pthread_mutex_lock(&s->mu);
    if (!s->dirty || !s->path) {
        s->dirty = 0;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    char *text = cJSON_Print(s->doc);
    s->dirty = 0;
    pthread_mutex_unlock(&s->mu);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        s->dirty = 1;
        return -1;
    }
    int rc = write_atomic(s->path, text, err, errlen);
    free(text);
    if (rc != 0) {
        pthread_mutex_lock(&s->mu);
        s->dirty = 1; /* try again at the next flush */
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

static void fs_free(sy_store *b)
{
    file_store *s = (file_store *)b;
    pthread_mutex_destroy(&s->mu);
    cJSON_Delete(s->doc);
    free(s->path);
    free(s);
}

static const sy_store_ops file_ops = {fs_get, fs_put, fs_flush, fs_free};

static file_store *store_new(void)
{
    file_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &file_ops;
    pthread_mutex_init(&s->mu, NULL);
    s->doc = cJSON_CreateObject();
    if (!s->doc) {
        fs_free(&s->base);
        return NULL;
    }
    return s;
}

sy_store *sy_store_memory_new(void)
{
    file_store *s = store_new();
    return s ? &s->base : NULL;
}

sy_store *sy_store_file_open(const char *path, char *err, size_t errlen)
{
    file_store *s = store_new();
    if (!s || !(s->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        if (s) fs_free(&s->base);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return &s->base; /* a first start */
        snprintf(err, errlen, "cannot read the state file %s: %s", path, strerror(errno));
        fs_free(&s->base);
        return NULL;
    }
    char *buf = malloc(MAX_STATE_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_STATE_FILE + 1, f) : 0;
    int read_err = ferror(f);
    fclose(f);
    cJSON *doc = NULL;
    if (buf && !read_err && n <= MAX_STATE_FILE) {
        buf[n] = '\0';
        doc = cJSON_ParseWithLength(buf, n);
    }
    free(buf);
    if (!doc || !cJSON_IsObject(doc)) {
        snprintf(err, errlen,
                 "the state file %s is %s; fix or remove it (removing it forgets the rollout "
                 "state and the month's spend)",
                 path, read_err ? "unreadable" : n > MAX_STATE_FILE ? "too large" : "not a JSON object");
        cJSON_Delete(doc);
        fs_free(&s->base);
        return NULL;
    }
    cJSON_Delete(s->doc);
    s->doc = doc;
    return &s->base;
}
