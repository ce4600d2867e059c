/*
 * answer_buf.h - the memory of a non-streamed upstream answer, bounded twice.
 *
 * A non-streamed answer is held whole until the plugin has classified it
 * (a retry must not have sent a byte to the client). Two limits keep that
 * memory bounded whatever upstreams send:
 *   max     - the largest answer one request may hold (server.max_response);
 *   budget  - what all answers being received in the process may hold
 *             together (server.max_response_memory), counted in one atomic
 *             counter shared by every worker thread (the pool: the router
 *             context's, sy_router_answer_pool).
 * The budget counts allocated capacity: it is taken before memory is
 * allocated and given back when the buffer is freed, so the limit holds for
 * the allocator, not just for the bytes received.
 *
 * A buffer belongs to one thread; the budget functions are thread-safe.
 */
#ifndef SY_ANSWER_BUF_H
#define SY_ANSWER_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

typedef struct sy_answer_buf {
    char *data;
    size_t len, cap;
    _Atomic uint64_t *pool; /* bytes held by every buffer of the process */
} sy_answer_buf;

/* An empty buffer that counts against pool. */
static inline void sy_answer_buf_init(sy_answer_buf *b, _Atomic uint64_t *pool)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->pool = pool;
}

typedef enum sy_answer_buf_rc {
    SY_ABUF_OK = 0,
    SY_ABUF_TOO_LARGE, /* the answer is larger than max: refuse it (502, no retry) */
    SY_ABUF_NO_MEMORY, /* the shared budget (or the allocator) has no room (503) */
} sy_answer_buf_rc;

/* An answer announced as `expect` bytes (Content-Length): refuse it at once
 * when it is larger than max, else reserve it in one allocation. */
sy_answer_buf_rc sy_answer_buf_expect(sy_answer_buf *b, uint64_t expect, size_t max,
                                      uint64_t budget);
/* Append n bytes, growing within max and the budget. On failure nothing is
 * appended and the buffer keeps what it had. */
sy_answer_buf_rc sy_answer_buf_append(sy_answer_buf *b, const char *p, size_t n, size_t max,
                                      uint64_t budget);
/* Free the memory and give it back to the budget; the buffer is empty again. */
void sy_answer_buf_free(sy_answer_buf *b);


#endif
