/* answer_buf.c - bounded buffers for non-streamed answers (see answer_buf.h). */
#include "answer_buf.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 4096u

static int budget_take(_Atomic uint64_t *pool, uint64_t n, uint64_t budget)
{
    uint64_t cur = atomic_load_explicit(pool, memory_order_relaxed);
    do {
        if (n > budget || cur > budget - n) return -1;
    } while (!atomic_compare_exchange_weak_explicit(pool, &cur, cur + n, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

static void budget_give(_Atomic uint64_t *pool, uint64_t n)
{
    atomic_fetch_sub_explicit(pool, n, memory_order_relaxed);
}

/* Grow the capacity to exactly cap (> b->cap, <= max). */
static sy_answer_buf_rc grow_to(sy_answer_buf *b, size_t cap, uint64_t budget)
{
    size_t more = cap - b->cap;
    if (budget_take(b->pool, more, budget) != 0) return SY_ABUF_NO_MEMORY;
    char *nb = realloc(b->data, cap);
    if (!nb) {
        budget_give(b->pool, more);
        return SY_ABUF_NO_MEMORY;
    }
    b->data = nb;
    b->cap = cap;
    return SY_ABUF_OK;
}

sy_answer_buf_rc sy_answer_buf_expect(sy_answer_buf *b, uint64_t expect, size_t max,
                                      uint64_t budget)
{
    if (expect > max) return SY_ABUF_TOO_LARGE;
    if (expect <= b->cap) return SY_ABUF_OK;
    return grow_to(b, (size_t)expect, budget);
}

sy_answer_buf_rc sy_answer_buf_append(sy_answer_buf *b, const char *p, size_t n, size_t max,
                                      uint64_t budget)
{
    if (n > max || b->len > max - n) return SY_ABUF_TOO_LARGE;
    size_t need = b->len + n;
    if (need > b->cap) {
        /* Doubling, but never past max: a 16 MiB limit must not mean 32 MiB. */
        size_t cap = b->cap ? b->cap : FIRST_CAP;
        if (cap > max) cap = max;
        while (cap < need) cap = cap > max / 2 ? max : cap * 2;
        sy_answer_buf_rc rc = grow_to(b, cap, budget);
        if (rc != SY_ABUF_OK) return rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return SY_ABUF_OK;
}

void sy_answer_buf_free(sy_answer_buf *b)
{
    if (b->cap) budget_give(b->pool, b->cap);
    free(b->data);
    sy_answer_buf_init(b, b->pool);
}
