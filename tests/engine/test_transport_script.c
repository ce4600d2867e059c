/*
 * test_transport_script.c - the scripted upstream (router/sim) on its own:
 * transport.h's rules (no callback inside start, none after cancel, on_done
 * once), pause and resume, the queues' order and the records.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "loop.h"
#include "transport_script.h"

#define MS(n) ((uint64_t)(n) * 1000000ull)
#define T0 MS(5000)

typedef enum { CANCEL_NEVER, CANCEL_IN_HEADERS, CANCEL_IN_DATA, CANCEL_IN_DONE } cancel_at;

typedef struct probe {
    sy_transport *tp;
    sy_exchange_io *io;
    int headers, datas, dones, status;
    sy_io_error err;
    char data[512];
    size_t data_len;
    uint64_t headers_ns, done_ns;
    sy_loop *loop;
    cancel_at cancel;
    int pause_next;       /* return SY_IO_PAUSE from the next on_data */
    int refuse;           /* return 0 from on_data */
    char ct[64];          /* content-type seen in on_headers */
} probe;

static void p_headers(void *ctx, int status)
{
    probe *p = ctx;
    p->headers++;
    p->status = status;
    p->headers_ns = sy_loop_now(p->loop);
    const char *ct = p->tp->ops->header(p->io, "Content-Type");
    snprintf(p->ct, sizeof p->ct, "%s", ct ? ct : "");
    if (p->cancel == CANCEL_IN_HEADERS) p->tp->ops->cancel(p->io);
}

static size_t p_data(void *ctx, const char *d, size_t n)
{
    probe *p = ctx;
    cr_assert_eq(p->headers, 1, "headers come before any data");
    if (p->pause_next) {
        p->pause_next = 0;
        return SY_IO_PAUSE;
    }
    if (p->refuse) return 0;
    p->datas++;
    cr_assert_lt(p->data_len + n, sizeof p->data);
    memcpy(p->data + p->data_len, d, n);
    p->data_len += n;
    if (p->cancel == CANCEL_IN_DATA) p->tp->ops->cancel(p->io);
    return n;
}

static void p_done(void *ctx, sy_io_error err, int status, const char *msg)
{
    probe *p = ctx;
    (void)msg;
    p->dones++;
    p->err = err;
    p->status = status;
    p->done_ns = sy_loop_now(p->loop);
    if (p->cancel == CANCEL_IN_DONE) p->tp->ops->cancel(p->io); /* misuse */
}

static const sy_io_cbs cbs = {p_headers, p_data, p_done};

typedef struct world {
    sy_loop *loop;
    sy_transport *tp;
} world;

static world w_new(void)
{
    world w = {sy_loop_sim_new(T0, 1700000000), NULL};
    w.tp = sy_script_new(w.loop);
    cr_assert(w.loop && w.tp);
    return w;
}

static void w_free(world *w)
{
    sy_script_free(w->tp);
    sy_loop_sim_free(w->loop);
}

static sy_exchange_io *start(world *w, probe *p, const char *prov, const char *ep, int stream,
                             int64_t connect_timeout_ms)
{
    static sy_endpoint view;
    static sy_request req;
    view = (sy_endpoint){prov, ep, "https://x.test/v1", NULL};
    req = (sy_request){.op = SY_OP_CHAT, .model = "m", .client_model = "m", .body = "{}",
                       .body_len = 2, .stream = stream, .request_id = "r1", .method = "POST",
                       .path = "/chat/completions"};
    sy_io_request r = {.endpoint = &view, .req = &req, .connect_timeout_ms = connect_timeout_ms};
    p->tp = w->tp;
    p->loop = w->loop;
    char msg[128] = "";
    p->io = w->tp->ops->start(w->tp, &r, &cbs, p, msg, sizeof msg);
    cr_assert(p->io, "%s", msg);
    return p->io;
}

static sy_script_outcome answer(int status, const char *headers, const char *body, int64_t latency)
{
    sy_script_outcome o;
    memset(&o, 0, sizeof o);
    o.status = status;
    o.headers = headers;
    o.body = body;
    o.latency_ms = latency;
    return o;
}

Test(transport_script, whole_answer_from_the_loop_not_inside_start)
{
    world w = w_new();
    sy_script_outcome o = answer(200, "X-A: 1\nretry-after:  7 ", "{\"ok\":1}", 0);
    cr_assert_eq(sy_script_push(w.tp, "p", "e", &o), 0);
    probe p = {0};
    start(&w, &p, "p", "e", 0, 0);
    cr_expect_eq(p.headers + p.datas + p.dones, 0, "no callback inside start");
    cr_expect_eq(sy_script_live(w.tp), 1);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.headers, 1);
    cr_expect_eq(p.datas, 1);
    cr_expect_eq(p.dones, 1);
    cr_expect_eq(p.err, SY_IO_OK);
    cr_expect_eq(p.status, 200);
    cr_expect_str_eq(p.ct, "application/json");
    cr_expect_eq(p.data_len, strlen("{\"ok\":1}"));
    cr_expect_eq(sy_script_live(w.tp), 0);
    const sy_script_record *r = sy_script_record_at(w.tp, 0);
    cr_assert(r);
    cr_expect_str_eq(r->provider, "p");
    cr_expect_str_eq(r->endpoint, "e");
    cr_expect_str_eq(r->model, "m");
    cr_expect_eq(r->start_ns, T0);
    cr_expect_eq(r->end_ns, T0);
    cr_expect_eq(r->status, 200);
    cr_expect_not(r->cancelled);
    w_free(&w);
}

Test(transport_script, headers_are_case_insensitive_and_trimmed)
{
    world w = w_new();
    sy_script_outcome o = answer(429, "X-A: 1\nretry-after:  7 \nContent-Type: text/plain", "x", 10);
    sy_script_push(w.tp, "p", "e", &o);
    probe p = {0};
    start(&w, &p, "p", "e", 0, 0);
    cr_expect_str_eq(w.tp->ops->header(p.io, "Retry-After"), "7");
    cr_expect_str_eq(w.tp->ops->header(p.io, "x-a"), "1");
    cr_expect_null(w.tp->ops->header(p.io, "x-b"));
    sy_loop_sim_run(w.loop, 100);
    cr_expect_str_eq(p.ct, "text/plain");
    cr_expect_eq(p.headers_ns, T0 + MS(10));
    w_free(&w);
}

Test(transport_script, stream_chunks_with_delays_and_a_cut)
{
    world w = w_new();
    sy_script_outcome o = answer(200, NULL, NULL, 20);
    o.chunks[0] = (sy_script_chunk){0, "a"};
    o.chunks[1] = (sy_script_chunk){30, "bc"};
    o.chunks[2] = (sy_script_chunk){0, "d"};
    o.end = SY_SCRIPT_END_CUT;
    sy_script_push(w.tp, "p", NULL, &o);
    probe p = {0};
    start(&w, &p, "p", "e", 1, 0);
    sy_loop_sim_run_until(w.loop, T0 + MS(20));
    cr_expect_eq(p.headers, 1);
    cr_expect_str_eq(p.ct, "text/event-stream", "a stream's 2xx defaults to SSE");
    cr_expect_eq(p.datas, 1, "a read with no delay comes with the headers");
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.datas, 3);
    cr_expect_eq(memcmp(p.data, "abcd", 4), 0);
    cr_expect_eq(p.dones, 1);
    cr_expect_eq(p.err, SY_IO_BROKEN);
    cr_expect_eq(p.done_ns, T0 + MS(50));
    w_free(&w);
}

Test(transport_script, cancel_inside_a_callback_stops_every_later_one)
{
    world w = w_new();
    sy_script_outcome o = answer(200, NULL, "body", 5);
    o.times = SY_SCRIPT_ALWAYS;
    sy_script_push(w.tp, NULL, NULL, &o);
    probe p1 = {.cancel = CANCEL_IN_HEADERS}, p2 = {.cancel = CANCEL_IN_DATA};
    start(&w, &p1, "p", "e", 0, 0);
    start(&w, &p2, "p", "e", 0, 0);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p1.headers, 1);
    cr_expect_eq(p1.datas + p1.dones, 0);
    cr_expect_eq(p2.datas, 1);
    cr_expect_eq(p2.dones, 0);
    cr_expect_eq(sy_script_live(w.tp), 0);
    cr_expect(sy_script_record_at(w.tp, 0)->cancelled);
    cr_expect(sy_script_record_at(w.tp, 1)->cancelled);
    cr_expect_eq(sy_script_misuse(w.tp), 0);
    w_free(&w);
}

Test(transport_script, cancel_before_anything_and_hang)
{
    world w = w_new();
    sy_script_outcome o = answer(0, NULL, NULL, 0);
    o.kind = SY_SCRIPT_HANG;
    sy_script_push(w.tp, "p", "e", &o);
    probe p = {0};
    start(&w, &p, "p", "e", 0, 0);
    cr_expect_eq(sy_loop_sim_run(w.loop, 100), 0, "a hang arms nothing");
    sy_loop_sim_run_until(w.loop, T0 + MS(700));
    w.tp->ops->cancel(p.io);
    cr_expect_eq(p.headers + p.datas + p.dones, 0);
    cr_expect_eq(sy_script_record_at(w.tp, 0)->end_ns, T0 + MS(700));
    cr_expect_eq(sy_script_live(w.tp), 0);
    w_free(&w);
}

Test(transport_script, cancel_inside_on_done_is_misuse_not_a_crash)
{
    world w = w_new();
    sy_script_outcome o = answer(200, NULL, "x", 0);
    sy_script_push(w.tp, "p", "e", &o);
    probe p = {.cancel = CANCEL_IN_DONE};
    start(&w, &p, "p", "e", 0, 0);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.dones, 1);
    cr_expect_eq(sy_script_misuse(w.tp), 1);
    w_free(&w);
}

Test(transport_script, pause_hands_the_same_read_back_on_resume)
{
    world w = w_new();
    sy_script_outcome o = answer(200, NULL, NULL, 0);
    o.chunks[0] = (sy_script_chunk){10, "one"};
    o.chunks[1] = (sy_script_chunk){10, "two"};
    sy_script_push(w.tp, "p", "e", &o);
    probe p = {0};
    start(&w, &p, "p", "e", 1, 0);
    sy_loop_sim_run_until(w.loop, T0 + MS(10));
    cr_expect_eq(p.datas, 1);
    p.pause_next = 1;
    sy_loop_sim_run_until(w.loop, T0 + MS(1000));
    cr_expect_eq(p.datas, 1, "paused");
    cr_expect_eq(p.dones, 0);
    w.tp->ops->resume(p.io);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.datas, 2);
    cr_expect_eq(memcmp(p.data, "onetwo", 6), 0);
    cr_expect_eq(p.dones, 1);
    cr_expect_eq(p.done_ns, T0 + MS(1000));
    w_free(&w);
}

Test(transport_script, refused_bytes_end_as_too_large)
{
    world w = w_new();
    sy_script_outcome o = answer(200, NULL, "big", 0);
    sy_script_push(w.tp, "p", "e", &o);
    probe p = {.refuse = 1};
    start(&w, &p, "p", "e", 0, 0);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.dones, 1);
    cr_expect_eq(p.err, SY_IO_TOO_LARGE);
    w_free(&w);
}

Test(transport_script, connect_error_and_blackhole)
{
    world w = w_new();
    sy_script_outcome ce = answer(0, NULL, NULL, 15);
    ce.kind = SY_SCRIPT_CONNECT_ERROR;
    sy_script_outcome bh = answer(0, NULL, NULL, 0);
    bh.kind = SY_SCRIPT_BLACKHOLE;
    bh.times = 2;
    sy_script_push(w.tp, "p", "ce", &ce);
    sy_script_push(w.tp, "p", "bh", &bh);
    probe a = {0}, b = {0}, c = {0};
    start(&w, &a, "p", "ce", 0, 0);
    start(&w, &b, "p", "bh", 0, 2000);
    start(&w, &c, "p", "bh", 0, 0); /* no connect timeout: never ends */
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(a.err, SY_IO_CONNECT);
    cr_expect_eq(a.done_ns, T0 + MS(15));
    cr_expect_eq(a.headers, 0);
    cr_expect_eq(b.err, SY_IO_TIMEOUT);
    cr_expect_eq(b.done_ns, T0 + MS(2000));
    cr_expect_eq(c.dones, 0);
    cr_expect_eq(sy_script_live(w.tp), 1);
    w.tp->ops->cancel(c.io);
    w_free(&w);
}

Test(transport_script, queues_most_specific_first_then_unscripted)
{
    world w = w_new();
    sy_script_outcome exact = answer(201, NULL, NULL, 0), prov = answer(202, NULL, NULL, 0),
                      any = answer(203, NULL, NULL, 0);
    exact.times = 2;
    sy_script_push(w.tp, "p", "e", &exact);
    sy_script_push(w.tp, "p", NULL, &prov);
    sy_script_push(w.tp, NULL, NULL, &any);
    cr_expect_eq(sy_script_pending(w.tp, "p", "e"), 1);
    int want[] = {201, 201, 202, 203, 0};
    for (int i = 0; i < 5; i++) {
        probe p = {0};
        start(&w, &p, "p", "e", 0, 0);
        sy_loop_sim_run(w.loop, 100);
        cr_expect_eq(p.status, want[i], "exchange %d", i);
    }
    cr_expect(sy_script_record_at(w.tp, 4)->unscripted);
    cr_expect_eq(sy_script_record_at(w.tp, 4)->err, SY_IO_CONNECT);
    cr_expect_not(sy_script_record_at(w.tp, 3)->unscripted);
    cr_expect_eq(sy_script_count(w.tp), 5);
    cr_expect_eq(sy_script_count_for(w.tp, "p", "e"), 5);
    cr_expect_eq(sy_script_count_for(w.tp, "q", NULL), 0);
    cr_expect_eq(sy_script_pending(w.tp, "p", "e"), 0);
    w_free(&w);
}

static int pick_418(void *ctx, const sy_io_request *r, uint64_t now, sy_script_outcome *out)
{
    int *calls = ctx;
    (void)now;
    ++*calls;
    if (strcmp(r->endpoint->name, "e") != 0) return -1;
    static char body[32]; /* copied on return: valid until the next call is enough */
    snprintf(body, sizeof body, "call %d", *calls);
    *out = answer(418, NULL, body, 1);
    return 0;
}

Test(transport_script, picker_serves_what_no_queue_has)
{
    world w = w_new();
    int calls = 0;
    sy_script_set_picker(w.tp, pick_418, &calls);
    probe p = {0}, q = {0};
    start(&w, &p, "p", "e", 0, 0);
    start(&w, &q, "p", "other", 0, 0);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(p.status, 418);
    cr_expect_eq(memcmp(p.data, "call 1", 6), 0, "%.*s", (int)p.data_len, p.data);
    cr_expect(sy_script_record_at(w.tp, 1)->unscripted);
    cr_expect_eq(calls, 2);
    w_free(&w);
}

/* simulate's mode (sy_script_set_recording(t, 0)): exchanges behave exactly
 * the same and nothing is kept per exchange once it ends. */
Test(transport_script, recording_off_keeps_nothing_and_changes_nothing)
{
    world w = w_new();
    sy_script_set_recording(w.tp, 0);
    sy_script_outcome o = answer(503, "Retry-After: 2", "{\"error\":{}}", 30);
    o.times = SY_SCRIPT_ALWAYS;
    cr_assert_eq(sy_script_push(w.tp, "a", NULL, &o), 0);
    probe p[3];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++) start(&w, &p[i], "a", "e1", 0, 0);
    cr_expect_eq(sy_script_live(w.tp), 3);
    sy_loop_sim_run(w.loop, 100);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(p[i].dones, 1);
        cr_expect_eq(p[i].status, 503);
        cr_expect_eq(p[i].done_ns, T0 + MS(30));
        cr_expect_str_eq(p[i].data, "{\"error\":{}}");
    }
    cr_expect_eq(sy_script_live(w.tp), 0);
    cr_expect_eq(sy_script_count(w.tp), 0, "no record kept");
    cr_expect_null(sy_script_record_at(w.tp, 0));
    /* Back on: recorded from here. */
    sy_script_set_recording(w.tp, 1);
    probe q;
    memset(&q, 0, sizeof q);
    start(&w, &q, "a", "e1", 0, 0);
    sy_loop_sim_run(w.loop, 100);
    cr_expect_eq(sy_script_count(w.tp), 1);
    cr_expect_eq(sy_script_record_at(w.tp, 0)->status, 503);
    cr_expect_eq(sy_script_misuse(w.tp), 0);
    w_free(&w);
}
