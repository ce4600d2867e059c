/* store.c - the responses each endpoint created (see store.h). */
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints.h"

#define ID_MAX 128

typedef struct stored {
    char id[ID_MAX + 1];
    mock_buf object, items;
} stored;

typedef struct ep_store {
    char name[MOCK_NAME_MAX + 1];
    size_t name_len;
    stored **list; /* oldest first */
    size_t n;
    size_t bytes;
} ep_store;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ep_store **stores;
static size_t n_stores;

/* The endpoint's store; created when create is set. Caller holds the lock. */
static ep_store *find(const char *name, size_t len, int create)
{
    for (size_t i = 0; i < n_stores; i++)
        if (stores[i]->name_len == len && !memcmp(stores[i]->name, name, len)) return stores[i];
    if (!create || len > MOCK_NAME_MAX) return NULL;
    ep_store *s = calloc(1, sizeof(*s));
    ep_store **grown = realloc(stores, (n_stores + 1) * sizeof(*stores));
    if (!s || !grown) mock_oom();
    stores = grown;
    memcpy(s->name, name, len);
    s->name_len = len;
    s->list = calloc(MOCK_STORE_MAX, sizeof(*s->list));
    if (!s->list) mock_oom();
    stores[n_stores++] = s;
    return s;
}

static size_t size_of(const stored *r) { return r->object.len + r->items.len + sizeof(*r); }

static void drop(ep_store *s, size_t i)
{
    stored *r = s->list[i];
    s->bytes -= size_of(r);
    mock_buf_free(&r->object);
    mock_buf_free(&r->items);
    free(r);
    memmove(s->list + i, s->list + i + 1, (s->n - i - 1) * sizeof(*s->list));
    s->n--;
}

static long index_of(const ep_store *s, const char *id, size_t id_len)
{
    if (!s || id_len > ID_MAX) return -1;
    for (size_t i = s->n; i-- > 0;)
        if (strlen(s->list[i]->id) == id_len && !memcmp(s->list[i]->id, id, id_len)) return (long)i;
    return -1;
}

void mock_store_put(const char *ep, size_t ep_len, const char *id, const mock_buf *object,
                    const mock_buf *input_items)
{
    size_t id_len = strlen(id);
    if (id_len > ID_MAX) return;
    stored *r = calloc(1, sizeof(*r));
    if (!r) mock_oom();
    memcpy(r->id, id, id_len + 1);
    mock_buf_append(&r->object, object->data, object->len);
    if (input_items->len + object->len < MOCK_STORE_BYTES / 4)
        mock_buf_append(&r->items, input_items->data, input_items->len);
    else
        mock_buf_puts(&r->items, "[]");
    pthread_mutex_lock(&lock);
    ep_store *s = find(ep, ep_len, 1);
    while (s->n && (s->n >= MOCK_STORE_MAX || s->bytes + size_of(r) > MOCK_STORE_BYTES)) drop(s, 0);
    s->list[s->n++] = r;
    s->bytes += size_of(r);
    pthread_mutex_unlock(&lock);
}

int mock_store_get(const char *ep, size_t ep_len, const char *id, size_t id_len,
                   mock_store_part part, mock_buf *out)
{
    pthread_mutex_lock(&lock);
    ep_store *s = find(ep, ep_len, 0);
    long i = index_of(s, id, id_len);
    if (i >= 0 && out) {
        const mock_buf *b = part == MOCK_STORE_OBJECT ? &s->list[i]->object : &s->list[i]->items;
        mock_buf_append(out, b->data, b->len);
    }
    pthread_mutex_unlock(&lock);
    return i >= 0;
}

int mock_store_delete(const char *ep, size_t ep_len, const char *id, size_t id_len)
{
    pthread_mutex_lock(&lock);
    ep_store *s = find(ep, ep_len, 0);
    long i = index_of(s, id, id_len);
    if (i >= 0) drop(s, (size_t)i);
    pthread_mutex_unlock(&lock);
    return i >= 0;
}

size_t mock_store_count(const char *ep, size_t ep_len)
{
    pthread_mutex_lock(&lock);
    ep_store *s = find(ep, ep_len, 0);
    size_t n = s ? s->n : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

void mock_store_free(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_stores; i++) {
        while (stores[i]->n) drop(stores[i], stores[i]->n - 1);
        free(stores[i]->list);
        free(stores[i]);
    }
    free(stores);
    stores = NULL;
    n_stores = 0;
    pthread_mutex_unlock(&lock);
}
