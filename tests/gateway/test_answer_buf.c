/* Unit tests for the bounded answer buffers: the per-answer limit and the
 * budget shared by every answer of the process. */
#include <criterion/criterion.h>
#include <string.h>

#include "answer_buf.h"

static _Atomic uint64_t pool; /* this test process's answers */

/* A buffer on this test's pool. */
#define NEW_BUF(b) sy_answer_buf b; sy_answer_buf_init(&b, &pool)

static char chunk[16384];

Test(answer_buf, grows_within_max_and_gives_the_budget_back)
{
    NEW_BUF(b);
    memset(chunk, 'x', sizeof chunk);
    uint64_t before = atomic_load(&pool);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(sy_answer_buf_append(&b, chunk, sizeof chunk, 1u << 20, 8u << 20), SY_ABUF_OK);
    cr_assert_eq(b.len, 1u << 20);
    cr_assert_eq(b.cap, 1u << 20, "capacity never goes past max (got %zu)", b.cap);
    cr_assert_eq(atomic_load(&pool) - before, b.cap);
    /* One byte more than max: refused, and what was there stays. */
    cr_assert_eq(sy_answer_buf_append(&b, "y", 1, 1u << 20, 8u << 20), SY_ABUF_TOO_LARGE);
    cr_assert_eq(b.len, 1u << 20);
    sy_answer_buf_free(&b);
    cr_assert_eq(atomic_load(&pool), before);
    cr_assert_null(b.data);
}

Test(answer_buf, odd_max_is_reached_exactly)
{
    NEW_BUF(b);
    size_t max = 100000;
    for (size_t got = 0; got < max;) {
        size_t n = max - got < 7000 ? max - got : 7000;
        cr_assert_eq(sy_answer_buf_append(&b, chunk, n, max, 1u << 30), SY_ABUF_OK);
        got += n;
    }
    cr_assert_eq(b.cap, max);
    cr_assert_eq(sy_answer_buf_append(&b, chunk, 1, max, 1u << 30), SY_ABUF_TOO_LARGE);
    sy_answer_buf_free(&b);
}

Test(answer_buf, shared_budget_refuses_instead_of_growing)
{
    NEW_BUF(a);
    NEW_BUF(b);
    uint64_t base = atomic_load(&pool);
    uint64_t budget = base + 64 * 1024;
    cr_assert_eq(sy_answer_buf_expect(&a, 48 * 1024, 1u << 20, budget), SY_ABUF_OK);
    cr_assert_eq(a.cap, 48 * 1024);
    /* b may have what is left, not more. */
    cr_assert_eq(sy_answer_buf_append(&b, chunk, 16 * 1024, 1u << 20, budget), SY_ABUF_OK);
    cr_assert_eq(sy_answer_buf_append(&b, chunk, 1, 1u << 20, budget), SY_ABUF_NO_MEMORY);
    cr_assert_eq(b.len, 16 * 1024);
    /* Once a is done its share is free again. */
    sy_answer_buf_free(&a);
    cr_assert_eq(sy_answer_buf_append(&b, chunk, 1, 1u << 20, budget), SY_ABUF_OK);
    sy_answer_buf_free(&b);
    cr_assert_eq(atomic_load(&pool), base);
}

Test(answer_buf, announced_size_above_max_is_refused_before_any_memory)
{
    NEW_BUF(b);
    uint64_t before = atomic_load(&pool);
    cr_assert_eq(sy_answer_buf_expect(&b, (1u << 20) + 1, 1u << 20, 1u << 30), SY_ABUF_TOO_LARGE);
    cr_assert_eq(sy_answer_buf_expect(&b, UINT64_MAX, 1u << 20, 1u << 30), SY_ABUF_TOO_LARGE);
    cr_assert_eq(atomic_load(&pool), before);
    cr_assert_null(b.data);
}
