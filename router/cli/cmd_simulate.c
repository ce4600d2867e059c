/*
 * cmd_simulate.c - `switchyard simulate POLICY --scenario FILE
 * [--replay ACCESS_LOG] [--seed N] [--json]`: a dry run of traffic on a
 * simulated clock (router/sim/simulate.h; docs/simulate.md).
 *
 * The policy is loaded as `validate` loads it: every check, every plugin,
 * nothing bound, and an unset ${VAR} only a warning (its secret then holds
 * the raw "${VAR}" text, which nothing ever sends), so a simulation needs no
 * real keys. Problems in the policy or the scenario are printed gcc style,
 * FILE:LINE:COL, all of them, and the exit code is 1; a usage error exits 2.
 * The report goes to stdout; the same seed (default 1) gives the same bytes.
 *
 * Hidden: `--timing` prints the wall time of the run to stderr (what
 * bench/simulate.sh measures).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "loader.h"
#include "log.h"
#include "policy.h"
#include "replay.h"
#include "report.h"
#include "scenario.h"
#include "simulate.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard simulate POLICY --scenario FILE [--replay ACCESS_LOG] [--seed N] "
            "[--json]\n"
            "  Run the policy's traffic on a simulated clock through the same engine, breakers,\n"
            "  health checks and rollout controller as `serve`, with upstreams scripted by the\n"
            "  scenario; print a timeline and a summary (--json: one JSON object).\n"
            "  --replay   take the traffic (arrival times, models, streaming) from a switchyard\n"
            "             access log instead of the scenario's `traffic`\n"
            "  --seed     the random seed (default 1): the same seed gives the same output\n"
            "  Exit 0: simulated; 1: the policy, scenario or log is invalid; 2: usage error.\n");
}

static int parse_seed(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int cmd_simulate(int argc, char **argv)
{
    const char *policy_path = NULL, *scenario_path = NULL, *replay_path = NULL;
    uint64_t seed = 1;
    int json = 0, timing = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--scenario") || !strcmp(a, "-s")) && i + 1 < argc) {
            scenario_path = argv[++i];
        } else if (!strcmp(a, "--replay") && i + 1 < argc) {
            replay_path = argv[++i];
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (parse_seed(argv[++i], &seed) != 0) {
                fprintf(stderr, "switchyard simulate: --seed wants a whole number >= 0, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--timing")) {
            timing = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "switchyard simulate: unknown option '%s' (or it needs a value)\n", a);
            usage(stderr);
            return 2;
        } else if (!policy_path) {
            policy_path = a;
        } else {
            fprintf(stderr, "switchyard simulate: one policy at a time ('%s' is extra)\n", a);
            return 2;
        }
    }
    if (!policy_path || !scenario_path) {
        fprintf(stderr, "switchyard simulate: %s\n",
                !policy_path ? "no policy file given" : "--scenario FILE is required");
        usage(stderr);
        return 2;
    }
    /* The engine's own log lines (a breaker opened, ...) carry the real
     * clock; the report says the same on the simulated one. */
    sy_log_set_level(-1);

    sy_diags pd, sd;
    sy_diags_init(&pd);
    sy_diags_init(&sd);
    sy_plugin_registry reg;
    sy_plugin_registry_init(&reg, NULL, 0);
    sy_policy *pol = sy_policy_load(policy_path, SY_LOAD_VALIDATE, &reg, &pd);
    sy_scenario *sc = sy_scenario_load(scenario_path, &sd);
    if (pol && sc) sy_scenario_check(sc, pol, replay_path != NULL, &sd);
    sy_replay *rp = NULL;
    int rc = 1;
    char err[512];
    if (!pol) sy_diags_print(&pd, stderr); /* warnings alone: validate lists them */
    sy_diags_print(&sd, stderr);
    if (!pol || !sc || sd.n_errors) {
        if (!pol)
            fprintf(stderr, "%s: invalid policy (%zu error%s)\n", policy_path, pd.n_errors,
                    pd.n_errors == 1 ? "" : "s");
        if (sd.n_errors)
            fprintf(stderr, "%s: invalid scenario (%zu error%s)\n", scenario_path, sd.n_errors,
                    sd.n_errors == 1 ? "" : "s");
        goto done;
    }
    if (replay_path) {
        rp = sy_replay_load(replay_path, err, sizeof err);
        if (!rp) {
            fprintf(stderr, "%s: error: %s\n", replay_path, err);
            goto done;
        }
        if (rp->unreadable)
            fprintf(stderr,
                    "%s:%zu: warning: %zu line%s could not be read as access-log entries "
                    "(the first is this one); skipped\n",
                    replay_path, rp->first_bad_line, rp->unreadable, rp->unreadable == 1 ? "" : "s");
    }

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sy_sim_input in = {pol, sc, rp, seed};
    sy_sim_output out;
    if (sy_simulate(&in, &out, err, sizeof err) != 0) {
        fprintf(stderr, "switchyard simulate: %s\n", err);
        goto done;
    }
    double wall = seconds_since(&t0);
    sy_report_meta meta = {
        .policy = policy_path, .scenario = scenario_path, .replay = replay_path, .seed = seed,
        .duration_ms = out.duration_ms,
        .latency_kind = pol->migration.rollback.latency == SY_LATENCY_TOTAL ? "total" : "ttfb",
        .stable = pol->providers[pol->migration.enabled ? pol->migration.stable : 0].name,
        .canary = pol->migration.enabled ? pol->providers[pol->migration.canary].name : NULL,
        .start_share = out.start_share,
    };
    if (json) sy_report_print_json(out.report, &meta, out.final_share, stdout);
    else sy_report_print_text(out.report, &meta, out.final_share, stdout);
    if (timing)
        fprintf(stderr, "switchyard simulate: %" PRIu64 " requests in %.3f s of wall time (%.0f/s)\n",
                out.arrivals, wall, wall > 0 ? (double)out.arrivals / wall : 0.0);
    sy_report_free(out.report);
    rc = fflush(stdout) == 0 ? 0 : 1;

done:
    sy_replay_free(rp);
    sy_scenario_free(sc);
    /* The policy first: its plugin instances run code from the registry. */
    sy_policy_unref(pol);
    sy_plugin_registry_free(&reg);
    sy_diags_free(&pd);
    sy_diags_free(&sd);
    return rc;
}
