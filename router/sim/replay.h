/*
 * replay.h - a real day's traffic shape from a switchyard access log
 * (observe/access_log.h), for `simulate --replay`.
 *
 * Each line that records a proxied request (path /v1/chat/completions,
 * /v1/completions or /v1/embeddings, with a model) becomes one arrival:
 * when it arrived (ts, the time the line was written, minus latency_ms),
 * its model, whether it streamed, and a pseudo-user. Arrivals are sorted by
 * time and counted from the first.
 *
 * The access log does not hold the sticky key (a user id is personal data
 * and stays out of it), so the pseudo-user is derived from request_id with a
 * fixed hash: the same log always gives the same users, and with the
 * scenario's traffic.users the hash is folded into that many users (so a
 * user sends several requests, as in life); without it every request is
 * its own user. Either way the canary's share of requests is the rollout's
 * percentage, as in serve, but which real users shared a bucket is lost.
 *
 * What is not replayed: what the upstreams answered (the scenario's
 * outcomes decide that), request bodies, and paths other than the three
 * above. Lines that cannot be read are skipped and counted.
 */
#ifndef SY_REPLAY_H
#define SY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <switchyard/plugin.h>

typedef struct sy_replay_item {
    int64_t at_ms;          /* since the first arrival */
    uint32_t model;         /* index into sy_replay.models */
    uint8_t stream;
    uint8_t op;             /* sy_op */
    uint64_t user_hash;     /* of request_id (or of the line number, when it has none) */
    uint64_t seq;           /* file order, for ties */
} sy_replay_item;

typedef struct sy_replay {
    sy_replay_item *items;  /* by at_ms, ascending (ties in file order) */
    size_t n_items;
    char **models;          /* each model once */
    size_t n_models;
    size_t lines;           /* lines read */
    size_t skipped;         /* lines that are not a proxied request or could not be read */
    size_t first_bad_line;  /* 1-based; 0 when none was unreadable */
    size_t unreadable;      /* of the skipped: not JSON, or without ts / path */
    int64_t span_ms;        /* the last arrival's at_ms */
} sy_replay;

/* Read the log at path. Returns NULL with a message in err when it cannot
 * be read at all or holds no request. */
sy_replay *sy_replay_load(const char *path, char *err, size_t errlen);
/* The same, from a buffer (tests). */
sy_replay *sy_replay_parse(const char *text, size_t len, char *err, size_t errlen);
void sy_replay_free(sy_replay *r);

/* "2026-01-02T03:04:05.678Z" to Unix milliseconds; -1 when malformed. */
int64_t sy_replay_parse_ts(const char *s);

#endif
