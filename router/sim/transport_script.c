/* transport_script.c - a scripted upstream on a loop's timers (see transport_script.h). */
#include "transport_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 32

/* An outcome with its own copies of every string. */
typedef struct owned_outcome {
    sy_script_outcome o;
    int left; /* exchanges it still serves; SY_SCRIPT_ALWAYS: for ever */
} owned_outcome;

typedef struct queue {
    char *provider, *endpoint; /* NULL: any */
    owned_outcome *items;
    size_t head, n, cap;
} queue;

typedef struct script_tp script_tp;

struct sy_exchange_io {
    script_tp *tp;
    sy_exchange_io *prev, *next; /* the transport's exchanges in flight */
    size_t rec;                  /* index of its record; NO_REC: its own (recording off) */
    sy_script_record own;        /* its record when the transport keeps none */
    sy_timer *timer;
    const sy_io_cbs *cbs;
    void *ctx;
    sy_script_outcome o;         /* an owned copy */
    int stream;
    size_t n_pieces, piece;      /* body reads, and the next to deliver */
    const char *body_piece[1];   /* the whole body as the one read, when no chunks */
    int headers_sent, paused, cancelled, in_cb, in_done;
    char *hdr_buf;
    const char *hdr_name[MAX_HEADERS], *hdr_value[MAX_HEADERS];
    size_t n_hdr;
};

struct script_tp {
    sy_transport base;
    sy_loop *loop;
    queue *queues;
    size_t n_queues, cap_queues;
    sy_script_record *recs;
    size_t n_recs, cap_recs;
    sy_exchange_io *live_list;
    size_t live, misuse;
    sy_script_pick_fn pick;
    void *pick_ctx;
    int no_records;              /* sy_script_set_recording(t, 0) */
};

#define NO_REC SIZE_MAX

/* ------------------------------------------------------------ outcomes */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static size_t n_chunks(const sy_script_outcome *o)
{
    size_t n = 0;
    while (n < SY_SCRIPT_MAX_CHUNKS && o->chunks[n].data) n++;
    return n;
}

static void outcome_free(sy_script_outcome *o)
{
    free((char *)o->headers);
    free((char *)o->body);
    for (size_t i = 0; i < SY_SCRIPT_MAX_CHUNKS; i++) free((char *)o->chunks[i].data);
    memset(o, 0, sizeof *o);
}

/* Deep copy; 0, or -1 when out of memory (dst is then empty). */
static int outcome_copy(sy_script_outcome *dst, const sy_script_outcome *src)
{
    *dst = *src;
    dst->headers = dup_or_null(src->headers);
    dst->body = dup_or_null(src->body);
    int ok = (!src->headers || dst->headers) && (!src->body || dst->body);
    size_t n = n_chunks(src);
    for (size_t i = 0; i < SY_SCRIPT_MAX_CHUNKS; i++) {
        dst->chunks[i].data = i < n ? strdup(src->chunks[i].data) : NULL;
        if (i < n && !dst->chunks[i].data) ok = 0;
    }
    if (!ok) {
        outcome_free(dst);
        return -1;
    }
    return 0;
}

static int key_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static queue *queue_find(script_tp *tp, const char *provider, const char *endpoint)
{
    for (size_t i = 0; i < tp->n_queues; i++)
        if (key_eq(tp->queues[i].provider, provider) && key_eq(tp->queues[i].endpoint, endpoint))
            return &tp->queues[i];
    return NULL;
}

/* The next outcome of the queue, used once; NULL when it is empty. */
static const sy_script_outcome *queue_take(queue *q)
{
    if (!q || q->head >= q->n) return NULL;
    owned_outcome *it = &q->items[q->head];
    if (it->left != SY_SCRIPT_ALWAYS && --it->left <= 0) q->head++;
    return &it->o;
}

int sy_script_push(sy_transport *t, const char *provider, const char *endpoint,
                   const sy_script_outcome *o)
{
    script_tp *tp = (script_tp *)t;
    if (!provider) endpoint = NULL;
    queue *q = queue_find(tp, provider, endpoint);
    if (!q) {
        if (tp->n_queues == tp->cap_queues) {
            size_t cap = tp->cap_queues ? tp->cap_queues * 2 : 8;
            queue *nq = realloc(tp->queues, cap * sizeof *nq);
            if (!nq) return -1;
            tp->queues = nq;
            tp->cap_queues = cap;
        }
        q = &tp->queues[tp->n_queues];
        memset(q, 0, sizeof *q);
        q->provider = dup_or_null(provider);
        q->endpoint = dup_or_null(endpoint);
        if ((provider && !q->provider) || (endpoint && !q->endpoint)) {
            free(q->provider);
            free(q->endpoint);
            return -1;
        }
        tp->n_queues++;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        owned_outcome *ni = realloc(q->items, cap * sizeof *ni);
        if (!ni) return -1;
        q->items = ni;
        q->cap = cap;
    }
    owned_outcome *it = &q->items[q->n];
    if (outcome_copy(&it->o, o) != 0) return -1;
    it->left = o->times == SY_SCRIPT_ALWAYS ? SY_SCRIPT_ALWAYS : o->times > 1 ? o->times : 1;
    q->n++;
    return 0;
}

void sy_script_set_recording(sy_transport *t, int on) { ((script_tp *)t)->no_records = !on; }

void sy_script_set_picker(sy_transport *t, sy_script_pick_fn fn, void *ctx)
{
    script_tp *tp = (script_tp *)t;
    tp->pick = fn;
    tp->pick_ctx = ctx;
}

/* ------------------------------------------------------------ exchanges */

static sy_script_record *rec_of(sy_exchange_io *x)
{
    return x->rec == NO_REC ? &x->own : &x->tp->recs[x->rec];
}

static void x_free(sy_exchange_io *x)
{
    script_tp *tp = x->tp;
    if (x->prev) x->prev->next = x->next;
    else tp->live_list = x->next;
    if (x->next) x->next->prev = x->prev;
    sy_timer_free(x->timer);
    outcome_free(&x->o);
    free(x->hdr_buf);
    free(x);
}

/* The exchange has ended (on_done or cancel): note it in its record. */
static void x_ended(sy_exchange_io *x, int cancelled, sy_io_error err)
{
    sy_script_record *r = rec_of(x);
    r->end_ns = sy_loop_now(x->tp->loop);
    r->cancelled = cancelled;
    r->err = err;
    x->tp->live--;
}

/* The end: on_done once, then the exchange is freed. */
static void x_finish(sy_exchange_io *x, sy_io_error err, int status, const char *msg)
{
    x_ended(x, 0, err);
    x->in_cb = x->in_done = 1;
    x->cbs->on_done(x->ctx, err, status, msg);
    x_free(x);
}

static const char *piece_data(const sy_exchange_io *x, size_t i)
{
    return x->o.chunks[0].data ? x->o.chunks[i].data : x->body_piece[0];
}

static int64_t piece_delay(const sy_exchange_io *x, size_t i)
{
    return x->o.chunks[0].data ? x->o.chunks[i].delay_ms : 0;
}

/* Deliver what is due: the status line, then reads one per tick (a read
 * whose delay is 0 follows at once), then the end. */
static void x_tick(void *arg)
{
    sy_exchange_io *x = arg;
    switch (x->o.kind) {
    case SY_SCRIPT_CONNECT_ERROR:
        x_finish(x, SY_IO_CONNECT, 0, "connection refused (scripted)");
        return;
    case SY_SCRIPT_BLACKHOLE:
        x_finish(x, SY_IO_TIMEOUT, 0, "connect timed out (scripted)");
        return;
    case SY_SCRIPT_HANG: /* never armed */
        return;
    case SY_SCRIPT_ANSWER:
        break;
    }
    for (;;) {
        if (!x->headers_sent) {
            x->headers_sent = 1;
            rec_of(x)->status = x->o.status;
            x->in_cb = 1;
            x->cbs->on_headers(x->ctx, x->o.status);
            x->in_cb = 0;
            if (x->cancelled) return x_free(x);
        } else if (x->piece < x->n_pieces) {
            const char *p = piece_data(x, x->piece);
            size_t n = strlen(p);
            if (n) {
                x->in_cb = 1;
                size_t took = x->cbs->on_data(x->ctx, p, n);
                x->in_cb = 0;
                if (x->cancelled) return x_free(x);
                if (took == SY_IO_PAUSE) {
                    x->paused = 1; /* resume hands the same read back */
                    return;
                }
                if (took != n) {
                    x_finish(x, SY_IO_TOO_LARGE, x->o.status, "the answer was refused as too large");
                    return;
                }
            }
            x->piece++;
        } else {
            if (x->o.end == SY_SCRIPT_END_OK) x_finish(x, SY_IO_OK, x->o.status, NULL);
            else if (x->o.end == SY_SCRIPT_END_CUT)
                x_finish(x, SY_IO_BROKEN, x->o.status, "the upstream cut the connection (scripted)");
            return; /* SY_SCRIPT_END_SILENT: nothing more comes */
        }
        if (x->piece < x->n_pieces && piece_delay(x, x->piece) > 0) {
            sy_timer_arm_ms(x->timer, piece_delay(x, x->piece));
            return;
        }
    }
}

/* Split "Name: value\n..." into the exchange's header table. */
static int parse_headers(sy_exchange_io *x)
{
    if (!x->o.headers) return 0;
    x->hdr_buf = strdup(x->o.headers);
    if (!x->hdr_buf) return -1;
    char *save = NULL;
    for (char *line = strtok_r(x->hdr_buf, "\n", &save); line && x->n_hdr < MAX_HEADERS;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) v[--vl] = '\0';
        x->hdr_name[x->n_hdr] = line;
        x->hdr_value[x->n_hdr] = v;
        x->n_hdr++;
    }
    return 0;
}

static int add_record(script_tp *tp, sy_exchange_io *x, const sy_io_request *r, uint64_t now)
{
    if (tp->no_records) {
        x->rec = NO_REC;
        x->own.start_ns = now;
        return 0;
    }
    if (tp->n_recs == tp->cap_recs) {
        size_t cap = tp->cap_recs ? tp->cap_recs * 2 : 64;
        sy_script_record *nr = realloc(tp->recs, cap * sizeof *nr);
        if (!nr) return -1;
        tp->recs = nr;
        tp->cap_recs = cap;
    }
    sy_script_record *rec = &tp->recs[tp->n_recs];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->provider, sizeof rec->provider, "%s",
             r->endpoint && r->endpoint->provider ? r->endpoint->provider : "");
    snprintf(rec->endpoint, sizeof rec->endpoint, "%s",
             r->endpoint && r->endpoint->name ? r->endpoint->name : "");
    snprintf(rec->model, sizeof rec->model, "%s", r->req && r->req->model ? r->req->model : "");
    rec->stream = r->req ? r->req->stream : 0;
    rec->start_ns = now;
    x->rec = tp->n_recs++;
    return 0;
}

/* The outcome for a new exchange into *out (owned); unscripted: a connect error. */
static int choose(script_tp *tp, const sy_io_request *r, sy_script_outcome *out, int *unscripted)
{
    const char *prov = r->endpoint ? r->endpoint->provider : NULL;
    const char *ep = r->endpoint ? r->endpoint->name : NULL;
    const sy_script_outcome *o = queue_take(queue_find(tp, prov, ep));
    if (!o) o = queue_take(queue_find(tp, prov, NULL));
    if (!o) o = queue_take(queue_find(tp, NULL, NULL));
    if (o) return outcome_copy(out, o);
    sy_script_outcome picked;
    memset(&picked, 0, sizeof picked);
    if (tp->pick && tp->pick(tp->pick_ctx, r, sy_loop_now(tp->loop), &picked) == 0)
        return outcome_copy(out, &picked);
    *unscripted = 1;
    memset(out, 0, sizeof *out);
    out->kind = SY_SCRIPT_CONNECT_ERROR;
    return 0;
}

static sy_exchange_io *script_start(sy_transport *t, const sy_io_request *r, const sy_io_cbs *cbs,
                                    void *ctx, char *msg, size_t msglen)
{
    script_tp *tp = (script_tp *)t;
    sy_exchange_io *x = calloc(1, sizeof *x);
    int unscripted = 0;
    if (!x || add_record(tp, x, r, sy_loop_now(tp->loop)) != 0) {
        free(x);
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    x->tp = tp;
    x->cbs = cbs;
    x->ctx = ctx;
    x->stream = r->req ? r->req->stream : 0;
    x->timer = sy_timer_new(tp->loop, x_tick, x);
    if (!x->timer || choose(tp, r, &x->o, &unscripted) != 0 || parse_headers(x) != 0) {
        sy_timer_free(x->timer);
        outcome_free(&x->o);
        free(x->hdr_buf);
        if (x->rec != NO_REC) tp->n_recs--;
        free(x);
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    rec_of(x)->unscripted = unscripted;
    x->n_pieces = n_chunks(&x->o);
    if (!x->n_pieces && x->o.body && *x->o.body) {
        x->body_piece[0] = x->o.body;
        x->n_pieces = 1;
    }
    x->next = tp->live_list;
    if (x->next) x->next->prev = x;
    tp->live_list = x;
    tp->live++;
    /* Nothing happens inside start: the first event comes from the loop. */
    switch (x->o.kind) {
    case SY_SCRIPT_ANSWER:
    case SY_SCRIPT_CONNECT_ERROR:
        sy_timer_arm_ms(x->timer, x->o.latency_ms);
        break;
    case SY_SCRIPT_BLACKHOLE:
        if (r->connect_timeout_ms > 0) sy_timer_arm_ms(x->timer, r->connect_timeout_ms);
        break;
    case SY_SCRIPT_HANG:
        break;
    }
    return x;
}

static void script_resume(sy_exchange_io *x)
{
    if (x->in_done) {
        x->tp->misuse++;
        return;
    }
    if (!x->paused) return;
    x->paused = 0;
    sy_timer_arm_ms(x->timer, 0);
}

static void script_cancel(sy_exchange_io *x)
{
    if (x->in_done || x->cancelled) {
        x->tp->misuse++;
        return;
    }
    x->cancelled = 1;
    x_ended(x, 1, SY_IO_OK);
    /* Inside one of our callbacks: x_tick frees it when the callback returns. */
    if (!x->in_cb) x_free(x);
}

static const char *script_header(sy_exchange_io *x, const char *name)
{
    for (size_t i = 0; i < x->n_hdr; i++)
        if (strcasecmp(x->hdr_name[i], name) == 0) return x->hdr_value[i];
    if (strcasecmp(name, "content-type") == 0 && x->o.kind == SY_SCRIPT_ANSWER)
        return x->stream && x->o.status >= 200 && x->o.status < 300 ? "text/event-stream"
                                                                   : "application/json";
    return NULL;
}

static const sy_transport_ops script_ops = {script_start, script_resume, script_cancel,
                                            script_header, NULL, NULL};

sy_transport *sy_script_new(sy_loop *loop)
{
    script_tp *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    tp->base.ops = &script_ops;
    tp->loop = loop;
    return &tp->base;
}

void sy_script_free(sy_transport *t)
{
    script_tp *tp = (script_tp *)t;
    if (!tp) return;
    while (tp->live_list) x_free(tp->live_list);
    for (size_t i = 0; i < tp->n_queues; i++) {
        queue *q = &tp->queues[i];
        for (size_t j = 0; j < q->n; j++) outcome_free(&q->items[j].o);
        free(q->items);
        free(q->provider);
        free(q->endpoint);
    }
    free(tp->queues);
    free(tp->recs);
    free(tp);
}

/* -------------------------------------------------------------- records */

size_t sy_script_count(const sy_transport *t) { return ((const script_tp *)t)->n_recs; }

const sy_script_record *sy_script_record_at(const sy_transport *t, size_t i)
{
    const script_tp *tp = (const script_tp *)t;
    return i < tp->n_recs ? &tp->recs[i] : NULL;
}

size_t sy_script_count_for(const sy_transport *t, const char *provider, const char *endpoint)
{
    const script_tp *tp = (const script_tp *)t;
    size_t n = 0;
    for (size_t i = 0; i < tp->n_recs; i++)
        if ((!provider || strcmp(tp->recs[i].provider, provider) == 0) &&
            (!endpoint || strcmp(tp->recs[i].endpoint, endpoint) == 0))
            n++;
    return n;
}

size_t sy_script_live(const sy_transport *t) { return ((const script_tp *)t)->live; }

size_t sy_script_pending(const sy_transport *t, const char *provider, const char *endpoint)
{
    script_tp *tp = (script_tp *)t;
    if (!provider) endpoint = NULL;
    const queue *q = queue_find(tp, provider, endpoint);
    return q ? q->n - q->head : 0;
}

size_t sy_script_misuse(const sy_transport *t) { return ((const script_tp *)t)->misuse; }
