/*
 * scenario.h - the scenario of `switchyard simulate` (spec.md, "Simulate:
 * scenario and output"; docs/simulate.md): the traffic, and what each
 * provider or endpoint answers over time.
 *
 *   duration: 30m
 *   traffic: {rate: 50, users: 5000, models: {gpt-4.1: 0.8, gpt-4o-mini: 0.2},
 *             stream_share: 0.5}
 *   outcomes:
 *     openai-official: [{from: 0m, error_rate: 0.001, latency: {p50: 400ms, p95: 900ms}}]
 *     holysheep:
 *       - {from: 0m,  error_rate: 0.002, status: 503, latency: {p50: 120ms, p95: 300ms}}
 *       - {from: 10m, error_rate: 0.05}
 *     holysheep/cn-east: [{from: 20m, outage: 5m}]
 *
 * Read with the policy's YAML reader (yaml_tree.h), so every problem is one
 * gcc-style line FILE:LINE:COL (diag.h), every problem of the file reported
 * in one run, and an unknown key named with the valid ones.
 *
 * A piece keeps what the piece before it (in the same list) set and does not
 * name again; `outage` is the exception: it is a span that starts at the
 * piece's `from` and does not carry over. Beyond spec.md's keys a piece may
 * give `retry_after` (a 429 or 503 then carries Retry-After), `timeout_rate`
 * (the upstream accepts and never answers) and `cut_rate` (the answer breaks
 * off after its first part); the top level may give `timeline` (the row
 * interval of the printed timeline) and `actions` (operator actions at given
 * times, as POST /admin/rollout would take them: the rollback drill):
 *
 *   actions:
 *     - {at: 12m, action: rollback}
 *     - {at: 15m, action: resume}
 *     - {at: 20m, action: set, percent: 25}
 */
#ifndef SY_SCENARIO_H
#define SY_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct sy_policy;

/* What a piece sets (bits of sy_scn_piece.set). */
enum {
    SY_SCN_ERROR_RATE = 1u << 0,
    SY_SCN_STATUS = 1u << 1,
    SY_SCN_RETRY_AFTER = 1u << 2,
    SY_SCN_P50 = 1u << 3,
    SY_SCN_P95 = 1u << 4,
    SY_SCN_TIMEOUT_RATE = 1u << 5,
    SY_SCN_CUT_RATE = 1u << 6,
};

typedef struct sy_scn_piece {
    int64_t from_ms;
    sy_loc loc;
    unsigned set;          /* SY_SCN_*: the fields below this piece names */
    double error_rate;     /* 0..1: share of attempts answered with `status` */
    int status;            /* the error's HTTP status */
    int64_t retry_after_ms;/* Retry-After on a 429 or 503 error */
    int64_t p50_ms, p95_ms;/* latency to the first byte (the status line) */
    double timeout_rate;   /* 0..1: accepted, never answered */
    double cut_rate;       /* 0..1: the answer breaks off after its first part */
    int64_t outage_ms;     /* > 0: every attempt in [from, from + outage) fails to connect */
} sy_scn_piece;

/* The outcomes of one provider, or of one endpoint of it. */
typedef struct sy_scn_target {
    char *provider;
    char *endpoint;        /* NULL: every endpoint of the provider */
    sy_loc loc;
    sy_scn_piece *pieces;  /* by `from`, ascending */
    size_t n_pieces;
} sy_scn_target;

/* An operator's action at a time (sy_ro_action). */
typedef enum sy_scn_action_kind {
    SY_SCN_ROLLBACK,
    SY_SCN_PAUSE,
    SY_SCN_RESUME,
    SY_SCN_SET,
} sy_scn_action_kind;
const char *sy_scn_action_name(sy_scn_action_kind k); /* "rollback", ... */

typedef struct sy_scn_action {
    int64_t at_ms;
    sy_scn_action_kind kind;
    double percent;        /* set: 0..100 */
    sy_loc loc;
} sy_scn_action;

typedef struct sy_scn_model {
    char *name;
    double weight;         /* > 0 */
    sy_loc loc;
} sy_scn_model;

typedef struct sy_scenario {
    char *file;
    int64_t duration_ms;   /* 0: not given (only with --replay: the log's span) */
    sy_loc duration_loc;
    int has_traffic;
    sy_loc traffic_loc;
    double rate;           /* requests per second, > 0 */
    int64_t users;         /* >= 1; default 1000 */
    sy_scn_model *models;  /* at least one */
    size_t n_models;
    double stream_share;   /* 0..1; default 0 */
    int rate_given, models_given; /* (both required without a replay) */
    int64_t timeline_ms;   /* 0: not given (simulate picks one) */
    sy_scn_target *targets;
    size_t n_targets;
    sy_scn_action *actions;/* by `at`, ascending */
    size_t n_actions;
    size_t errors;         /* problems found reading it (0: it may run) */
} sy_scenario;

/* Defaults of an attempt no piece speaks for: it succeeds, 100 ms median and
 * 250 ms P95 to its first byte; an error rate without a status fails with 500. */
#define SY_SCN_DEFAULT_P50_MS 100
#define SY_SCN_DEFAULT_P95_MS 250
#define SY_SCN_DEFAULT_STATUS 500
#define SY_SCN_DEFAULT_USERS 1000

/* Read and check a scenario: every problem goes to d (with the file
 * registered for caret printing). Returns NULL when the file cannot be read
 * or is not YAML; else the scenario, whose `errors` counts the problems
 * found: one with errors must not be run, but sy_scenario_check may still
 * look at it, so one run reports every problem. The scenario's own rules
 * only: sy_scenario_check adds the policy's names. */
sy_scenario *sy_scenario_load(const char *path, sy_diags *d);
sy_scenario *sy_scenario_load_buffer(const char *name, const char *text, size_t len, sy_diags *d);
void sy_scenario_free(sy_scenario *s);

/* Check the scenario against the policy it runs on: every provider and
 * endpoint named exists; without a replay (replay 0) `duration` and
 * `traffic` with its `rate` and `models` are required (with one, the log
 * gives the traffic; `traffic.users`, when given, folds its pseudo-users).
 * Returns the number of errors added to d. */
size_t sy_scenario_check(const sy_scenario *s, const struct sy_policy *p, int replay, sy_diags *d);

#endif
