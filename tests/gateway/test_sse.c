/* Unit tests for the SSE splitter: events cut anywhere come out whole. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

typedef struct collected {
    char raw[8192];
    size_t raw_len;
    char data[16][256];
    int n;
    int stop_after;
} collected;

static int collect(void *ctx, const char *raw, size_t raw_len, const char *data, size_t dlen)
{
    collected *c = ctx;
    memcpy(c->raw + c->raw_len, raw, raw_len);
    c->raw_len += raw_len;
    if (data && c->n < 16) {
        memcpy(c->data[c->n], data, dlen);
        c->data[c->n][dlen] = '\0';
    } else if (c->n < 16) {
        strcpy(c->data[c->n], "<none>");
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static const char *STREAM = "data: {\"a\":1}\n\n"
                            ": keep-alive comment\n\n"
                            "event: x\r\ndata: line1\r\ndata: line2\r\n\r\n"
                            "data: [DONE]\n\n";

Test(sse, whole_buffer)
{
    sy_sse_splitter s;
    collected c = {0};
    sy_sse_init(&s, 1024);
    cr_assert_eq(sy_sse_feed(&s, STREAM, strlen(STREAM), collect, &c), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.data[0], "{\"a\":1}");
    cr_assert_str_eq(c.data[1], "<none>");
    cr_assert_str_eq(c.data[2], "line1\nline2");
    cr_assert_str_eq(c.data[3], "[DONE]");
    cr_assert_eq(c.raw_len, strlen(STREAM));
    cr_assert(memcmp(c.raw, STREAM, c.raw_len) == 0);
    cr_assert_eq(sy_sse_pending(&s), 0);
    sy_sse_free(&s);
}

Test(sse, every_split_point_gives_the_same_events)
{
    size_t n = strlen(STREAM);
    for (size_t cut1 = 0; cut1 <= n; cut1++) {
        for (size_t cut2 = cut1; cut2 <= n; cut2 += 3) {
            sy_sse_splitter s;
            collected c = {0};
            sy_sse_init(&s, 1024);
            cr_assert_eq(sy_sse_feed(&s, STREAM, cut1, collect, &c), 0);
            cr_assert_eq(sy_sse_feed(&s, STREAM + cut1, cut2 - cut1, collect, &c), 0);
            cr_assert_eq(sy_sse_feed(&s, STREAM + cut2, n - cut2, collect, &c), 0);
            cr_assert_eq(c.n, 4, "cuts %zu/%zu gave %d events", cut1, cut2, c.n);
            cr_assert_str_eq(c.data[2], "line1\nline2");
            cr_assert_eq(c.raw_len, n);
            cr_assert(memcmp(c.raw, STREAM, n) == 0);
            sy_sse_free(&s);
        }
    }
}

Test(sse, oversized_event_is_an_error)
{
    sy_sse_splitter s;
    collected c = {0};
    sy_sse_init(&s, 64);
    char big[200];
    memset(big, 'x', sizeof big);
    memcpy(big, "data: ", 6);
    cr_assert_eq(sy_sse_feed(&s, big, sizeof big, collect, &c), -1);
    sy_sse_free(&s);
}

Test(sse, oversized_event_across_feeds_is_an_error)
{
    sy_sse_splitter s;
    collected c = {0};
    sy_sse_init(&s, 64);
    char part[40];
    memset(part, 'x', sizeof part);
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) rc = sy_sse_feed(&s, part, sizeof part, collect, &c);
    cr_assert_eq(rc, -1);
    sy_sse_free(&s);
}

Test(sse, callback_can_stop_and_keeps_the_rest)
{
    sy_sse_splitter s;
    collected c = {.stop_after = 1};
    sy_sse_init(&s, 1024);
    cr_assert_eq(sy_sse_feed(&s, STREAM, strlen(STREAM), collect, &c), 7);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(sy_sse_pending(&s), strlen(STREAM) - strlen("data: {\"a\":1}\n\n"));
    sy_sse_free(&s);
}

/* The SSE spec allows "\r" alone as a line end: events separated by "\r\r". */
static const char *CR_STREAM = "data: {\"a\":1}\r\r"
                               ": comment\r\r"
                               "data: line1\rdata: line2\r\r"
                               "data: [DONE]\r\r";

Test(sse, bare_cr_line_ends)
{
    sy_sse_splitter s;
    collected c = {0};
    sy_sse_init(&s, 1024);
    cr_assert_eq(sy_sse_feed(&s, CR_STREAM, strlen(CR_STREAM), collect, &c), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.data[0], "{\"a\":1}");
    cr_assert_str_eq(c.data[1], "<none>");
    cr_assert_str_eq(c.data[2], "line1\nline2");
    cr_assert_str_eq(c.data[3], "[DONE]");
    cr_assert_eq(c.raw_len, strlen(CR_STREAM));
    cr_assert_eq(sy_sse_pending(&s), 0, "a final \\r\\r must end the last event at once");
    sy_sse_free(&s);
}

/* Every line-end style, mixed, cut at every pair of points: the same events,
 * and the raw bytes handed out are exactly the bytes fed. */
Test(sse, mixed_line_ends_at_every_split_point)
{
    static const char *MIXED = "data: a\r\n\r\n"
                               "data: b\r\r"
                               "data: c\n\r\n"
                               "data: d1\r\ndata: d2\n\n"
                               "data: e\r\n\r"
                               "data: [DONE]\r\r";
    size_t n = strlen(MIXED);
    for (size_t cut1 = 0; cut1 <= n; cut1++) {
        for (size_t cut2 = cut1; cut2 <= n; cut2++) {
            sy_sse_splitter s;
            collected c = {0};
            sy_sse_init(&s, 1024);
            cr_assert_eq(sy_sse_feed(&s, MIXED, cut1, collect, &c), 0);
            cr_assert_eq(sy_sse_feed(&s, MIXED + cut1, cut2 - cut1, collect, &c), 0);
            cr_assert_eq(sy_sse_feed(&s, MIXED + cut2, n - cut2, collect, &c), 0);
            cr_assert_eq(c.n, 6, "cuts %zu/%zu gave %d events", cut1, cut2, c.n);
            cr_assert_str_eq(c.data[0], "a");
            cr_assert_str_eq(c.data[1], "b");
            cr_assert_str_eq(c.data[2], "c");
            cr_assert_str_eq(c.data[3], "d1\nd2");
            cr_assert_str_eq(c.data[4], "e");
            cr_assert_str_eq(c.data[5], "[DONE]", "cuts %zu/%zu", cut1, cut2);
            cr_assert_eq(c.raw_len, n);
            cr_assert(memcmp(c.raw, MIXED, n) == 0);
            cr_assert_eq(sy_sse_pending(&s), 0);
            sy_sse_free(&s);
        }
    }
}

/* A "\r" at the end of one read and "\n" at the start of the next are one
 * line end: no stray empty event in between. */
Test(sse, crlf_split_across_reads_is_one_line_end)
{
    sy_sse_splitter s;
    collected c = {0};
    sy_sse_init(&s, 1024);
    cr_assert_eq(sy_sse_feed(&s, "data: x\r\n\r", 10, collect, &c), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(sy_sse_feed(&s, "\ndata: y\n\n", 10, collect, &c), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.data[1], "y");
    sy_sse_free(&s);
}

Test(sse, callback_stop_then_cr_events_continue)
{
    sy_sse_splitter s;
    collected c = {.stop_after = 1};
    sy_sse_init(&s, 1024);
    cr_assert_eq(sy_sse_feed(&s, CR_STREAM, strlen(CR_STREAM), collect, &c), 7);
    c.stop_after = 0;
    cr_assert_eq(sy_sse_feed(&s, "", 0, collect, &c), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.data[3], "[DONE]");
    sy_sse_free(&s);
}
