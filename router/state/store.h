/*
 * store.h - state that must outlive the process, behind one small interface:
 * the rollout (share, step, state, reason, rollout id) and the month's spend.
 * A file (store_file.c), or memory only. Several instances (shared_state)
 * keep this store as each instance's own copy and share the state beside it
 * through Redis (router/shared/shared.h): Redis is asynchronous and may be
 * away, so it is not a store the rollout could read on demand; the fleet's
 * record is put here at start and whenever it changes.
 *
 * Keys are short names ("rollout", "budget"); values are JSON texts the
 * owner of the key writes and reads. put() only records the value in memory
 * and marks it dirty: the request path never waits on a disk. flush() writes
 * what is dirty (the file store: to a temporary file, fsync, rename, so a
 * crash leaves the old file or the new one, never half of one); serve calls
 * it from the main thread's tick, and at exit.
 *
 * Thread-safe: any thread may get and put; flush from one thread at a time.
 */
#ifndef SY_STORE_H
#define SY_STORE_H

#include <stddef.h>

typedef struct sy_store sy_store;

typedef struct sy_store_ops {
    /* 0 and *value (malloc'd, caller frees) when present; 1 when absent. */
    int (*get)(sy_store *s, const char *key, char **value);
    /* Record key = value (a JSON text). 0, or -1 when out of memory. */
    int (*put)(sy_store *s, const char *key, const char *value);
    /* Make every put so far durable. 0, or -1 with a message in err. */
    int (*flush)(sy_store *s, char *err, size_t errlen);
    void (*free)(sy_store *s);
} sy_store_ops;

struct sy_store {
    const sy_store_ops *ops;
};

static inline int sy_store_get(sy_store *s, const char *key, char **value)
{
    return s->ops->get(s, key, value);
}
static inline int sy_store_put(sy_store *s, const char *key, const char *value)
{
    return s->ops->put(s, key, value);
}
static inline int sy_store_flush(sy_store *s, char *err, size_t errlen)
{
    return s->ops->flush(s, err, errlen);
}
static inline void sy_store_free(sy_store *s)
{
    if (s) s->ops->free(s);
}

/* The file store: path holds one JSON object {key: value, ...}. A missing
 * file is an empty store; an unreadable or corrupt one is an error (NULL and
 * err), never silently emptied: a lost rollback must not re-enable a canary. */
sy_store *sy_store_file_open(const char *path, char *err, size_t errlen);

/* A store in memory only (no state_file): the same interface, nothing durable. */
sy_store *sy_store_memory_new(void);

#endif
