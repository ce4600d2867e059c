/* record_sink.c - see record_sink.h. */
#include "record_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int append(rec_sink *s, const char *p, size_t n)
{
    char *nb = realloc(s->body, s->body_len + n + 1);
    if (!nb) return -1;
    memcpy(nb + s->body_len, p, n);
    s->body = nb;
    s->body_len += n;
    s->body[s->body_len] = '\0';
    return 0;
}

static void begin(rec_sink *s, int status, const char *ct, const char *extra)
{
    if (s->status) s->misuse++;
    s->status = status;
    snprintf(s->content_type, sizeof s->content_type, "%s", ct ? ct : "");
    free(s->headers);
    s->headers = extra ? strdup(extra) : NULL;
    if (!s->first_byte_ns) s->first_byte_ns = sy_loop_now(s->loop);
}

static void rs_respond(sy_sink *b, int status, const char *ct, const char *extra, const char *body,
                       size_t len)
{
    rec_sink *s = (rec_sink *)b;
    s->responds++;
    begin(s, status, ct, extra);
    if (append(s, body, len) != 0) s->misuse++;
    s->end_ns = sy_loop_now(s->loop);
}

static void rs_stream_begin(sy_sink *b, int status, const char *ct, const char *extra)
{
    rec_sink *s = (rec_sink *)b;
    s->stream_begins++;
    begin(s, status, ct, extra);
}

static void rs_stream_write(sy_sink *b, const char *data, size_t len)
{
    rec_sink *s = (rec_sink *)b;
    if (!s->stream_begins || s->stream_ends || s->responds) s->misuse++;
    if (s->writes < REC_MAX_WRITES) s->write_len[s->writes] = len;
    s->writes++;
    if (append(s, data, len) != 0) s->misuse++;
}

static void rs_stream_end(sy_sink *b)
{
    rec_sink *s = (rec_sink *)b;
    if (!s->stream_begins || s->stream_ends) s->misuse++;
    s->stream_ends++;
    s->end_ns = sy_loop_now(s->loop);
}

static size_t rs_queued(sy_sink *b) { return ((rec_sink *)b)->queued; }
static uint64_t rs_first_byte_ns(sy_sink *b) { return ((rec_sink *)b)->first_byte_ns; }
static int rs_status(sy_sink *b) { return ((rec_sink *)b)->status; }

static const sy_sink_ops rec_ops = {rs_respond, rs_stream_begin, rs_stream_write, rs_stream_end,
                                    rs_queued, rs_first_byte_ns, rs_status};

void rec_sink_init(rec_sink *s, sy_loop *loop)
{
    memset(s, 0, sizeof *s);
    s->base.ops = &rec_ops;
    s->loop = loop;
}

void rec_sink_fini(rec_sink *s)
{
    free(s->headers);
    free(s->body);
    s->headers = s->body = NULL;
}

const char *rec_sink_header(const rec_sink *s, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = s->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(buf, cap, "%.*s", (int)(len - (size_t)(v - p)), v);
            return buf;
        }
        p = eol ? eol + 2 : p + len;
    }
    return NULL;
}

int rec_sink_done(const rec_sink *s) { return s->responds > 0 || s->stream_ends > 0; }
