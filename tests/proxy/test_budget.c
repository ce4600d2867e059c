/*
 * test_budget.c - the monthly budget (router/observe/budget.c) on an injected
 * wall clock: the UTC month rollover, the store's "budget" value across a
 * "restart", the 80 % / 100 % log lines (once each per month), reject, and
 * the gauges.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "metrics.h"
#include "store.h"

/* 2026-05-31T23:59:59Z and the second after it (June). */
#define MAY_LAST 1780271999
#define JUNE_FIRST (MAY_LAST + 1)
#define DAY 86400

static char errbuf[256];
static char logpath[] = "/tmp/sy-budget-log-XXXXXX";
static int saved_stderr = -1;

/* Capture the router's log lines (stderr) in a file. */
static void capture_start(void)
{
    int fd = mkstemp(logpath);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static void capture_stop(void)
{
    if (saved_stderr < 0) return;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    unlink(logpath);
    strcpy(logpath, "/tmp/sy-budget-log-XXXXXX");
}

/* How many captured lines contain needle. */
static int log_count(const char *needle)
{
    FILE *f = fopen(logpath, "r");
    cr_assert_not_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void setup(void)
{
    sy_metrics_reset_for_tests();
    capture_start();
}

TestSuite(budget, .init = setup, .fini = capture_stop);

static sy_budget_conf conf(double usd, sy_budget_action action)
{
    return (sy_budget_conf){.enabled = 1, .monthly_usd = usd, .on_exceed = action};
}

static char *stored(sy_store *s)
{
    char *v = NULL;
    cr_assert_eq(sy_store_get(s, "budget", &v), 0, "nothing stored under \"budget\"");
    return v;
}

/* The gauges as /metrics shows them. */
static double gauge(const char *name)
{
    char *text = sy_metrics_render(NULL);
    cr_assert_not_null(text);
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = strstr(text, want);
    cr_assert_not_null(at, "%s not exported:\n%s", name, text);
    double v = strtod(at + strlen(want), NULL);
    free(text);
    return v;
}

Test(budget, the_month_rolls_over_in_utc)
{
    sy_store *st = sy_store_memory_new();
    sy_budget *b = sy_budget_new(st, MAY_LAST - DAY, errbuf, sizeof errbuf);
    cr_assert_not_null(b, "%s", errbuf);
    sy_budget_configure(b, &(sy_budget_conf){.enabled = 0});
    char month[SY_BUDGET_MONTH_LEN];
    sy_budget_month(b, month);
    cr_assert_str_eq(month, "2026-05");

    sy_budget_add(b, 1.25);
    sy_budget_add(b, 0.005);
    sy_budget_add(b, -3); /* ignored */
    sy_budget_add(b, NAN);
    sy_budget_tick(b, MAY_LAST);
    cr_assert_float_eq(sy_budget_spent_usd(b), 1.255, 1e-12);
    char *v = stored(st);
    cr_assert_str_eq(v, "{\"month\":\"2026-05\",\"spent_usd\":1.255,\"alerted\":0}");
    free(v);

    /* One second later it is June in UTC: a new month at 0. */
    sy_budget_tick(b, JUNE_FIRST);
    sy_budget_month(b, month);
    cr_assert_str_eq(month, "2026-06");
    cr_assert_float_eq(sy_budget_spent_usd(b), 0, 1e-12);
    v = stored(st);
    cr_assert_str_eq(v, "{\"month\":\"2026-06\",\"spent_usd\":0,\"alerted\":0}");
    free(v);
    cr_assert_eq(log_count("2026-05 ended with 1.255 USD spent; 2026-06 starts at 0"), 1);

    /* A year boundary too. */
    sy_budget_add(b, 2);
    sy_budget_tick(b, 1798761600 - 1); /* 2026-12-31T23:59:59Z */
    sy_budget_month(b, month);
    cr_assert_str_eq(month, "2026-12");
    sy_budget_tick(b, 1798761600);     /* 2027-01-01T00:00:00Z */
    sy_budget_month(b, month);
    cr_assert_str_eq(month, "2027-01");
    sy_budget_free(b);
    sy_store_free(st);
}

Test(budget, spend_survives_a_restart_in_the_same_month_only)
{
    sy_store *st = sy_store_memory_new();
    sy_budget *b = sy_budget_new(st, MAY_LAST - 10 * DAY, errbuf, sizeof errbuf);
    cr_assert_not_null(b);
    /* Exact to the nano-dollar over many small requests (no float drift). */
    for (int i = 0; i < 100000; i++) sy_budget_add(b, 0.00000225);
    sy_budget_tick(b, MAY_LAST - 10 * DAY);
    sy_budget_free(b);

    /* "Restart" later the same month: the spend is back. */
    b = sy_budget_new(st, MAY_LAST, errbuf, sizeof errbuf);
    cr_assert_not_null(b, "%s", errbuf);
    cr_assert_float_eq(sy_budget_spent_usd(b), 0.225, 1e-12);
    sy_budget_free(b);

    /* Restarted in June: May's spend does not count. */
    b = sy_budget_new(st, JUNE_FIRST + 5 * DAY, errbuf, sizeof errbuf);
    cr_assert_not_null(b, "%s", errbuf);
    cr_assert_float_eq(sy_budget_spent_usd(b), 0, 1e-12);
    sy_budget_tick(b, JUNE_FIRST + 5 * DAY);
    char *v = stored(st);
    cr_assert_str_eq(v, "{\"month\":\"2026-06\",\"spent_usd\":0,\"alerted\":0}");
    free(v);
    sy_budget_free(b);
    sy_store_free(st);
}

Test(budget, a_stored_value_it_did_not_write_is_refused)
{
    static const char *const bad[] = {
        "{\"spent_usd\":1}",
        "{\"month\":\"2026-13\",\"spent_usd\":1}",
        "{\"month\":\"May\",\"spent_usd\":1}",
        "{\"month\":\"2026-05\",\"spent_usd\":-1}",
        "{\"month\":\"2026-05\",\"spent_usd\":\"1\"}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sy_store *st = sy_store_memory_new();
        cr_assert_eq(sy_store_put(st, "budget", bad[i]), 0);
        cr_assert_null(sy_budget_new(st, MAY_LAST, errbuf, sizeof errbuf), "%s", bad[i]);
        cr_assert(strstr(errbuf, "\"budget\" entry"), "%s", errbuf);
        sy_store_free(st);
    }
}

Test(budget, alert_logs_once_at_80_and_once_at_100_percent_per_month)
{
    sy_store *st = sy_store_memory_new();
    sy_budget *b = sy_budget_new(st, MAY_LAST - DAY, errbuf, sizeof errbuf);
    sy_budget_conf c = conf(10, SY_BUDGET_ALERT);
    sy_budget_configure(b, &c);
    sy_budget_add(b, 7.99);
    sy_budget_tick(b, MAY_LAST - DAY);
    cr_assert_eq(log_count("80% of budget.monthly_usd"), 0);
    sy_budget_add(b, 0.01);
    sy_budget_tick(b, MAY_LAST - DAY);
    sy_budget_tick(b, MAY_LAST - DAY);
    cr_assert_eq(log_count("80% of budget.monthly_usd is spent for 2026-05 (UTC): 8.00 of 10.00 USD"), 1);
    cr_assert_eq(log_count("100% of budget.monthly_usd"), 0);
    sy_budget_add(b, 2.5);
    sy_budget_tick(b, MAY_LAST - DAY);
    sy_budget_add(b, 1);
    sy_budget_tick(b, MAY_LAST - DAY);
    cr_assert_eq(log_count("100% of budget.monthly_usd is spent for 2026-05 (UTC): 10.50 of "
                           "10.00 USD; on_exceed: alert: requests are still served"), 1);
    cr_assert_eq(log_count("80% of budget.monthly_usd"), 1);
    cr_assert_not(sy_budget_refuses(b), "alert never refuses");

    /* A restart the same month does not log again. */
    sy_budget_free(b);
    b = sy_budget_new(st, MAY_LAST, errbuf, sizeof errbuf);
    sy_budget_configure(b, &c);
    sy_budget_tick(b, MAY_LAST);
    cr_assert_eq(log_count("100% of budget.monthly_usd"), 1);

    /* A new month logs again when it gets there; both at once if it jumps. */
    sy_budget_tick(b, JUNE_FIRST);
    sy_budget_add(b, 12);
    sy_budget_tick(b, JUNE_FIRST);
    cr_assert_eq(log_count("80% of budget.monthly_usd is spent for 2026-06"), 1);
    cr_assert_eq(log_count("100% of budget.monthly_usd is spent for 2026-06"), 1);

    /* A raised limit re-arms what the spend is now below. */
    c.monthly_usd = 100;
    sy_budget_configure(b, &c);
    sy_budget_add(b, 70);
    sy_budget_tick(b, JUNE_FIRST);
    cr_assert_eq(log_count("80% of budget.monthly_usd is spent for 2026-06"), 2);
    cr_assert_eq(log_count("100% of budget.monthly_usd is spent for 2026-06"), 1);
    sy_budget_free(b);
    sy_store_free(st);
}

Test(budget, reject_refuses_once_the_month_is_spent_until_it_ends)
{
    sy_store *st = sy_store_memory_new();
    sy_budget *b = sy_budget_new(st, MAY_LAST - DAY, errbuf, sizeof errbuf);
    cr_assert_not(sy_budget_refuses(NULL));
    sy_budget_conf c = conf(0.05, SY_BUDGET_REJECT);
    sy_budget_configure(b, &c);
    for (int i = 0; i < 4; i++) sy_budget_add(b, 0.01);
    cr_assert_not(sy_budget_refuses(b), "0.04 of 0.05");
    sy_budget_add(b, 0.01);
    cr_assert(sy_budget_refuses(b), "0.05 of 0.05: spent, at once (no tick needed)");
    char msg[400];
    sy_budget_refusal(b, msg, sizeof msg);
    cr_assert(strstr(msg, "0.05 of 0.05 USD (budget.monthly_usd) for 2026-05 (UTC)"), "%s", msg);
    sy_budget_tick(b, MAY_LAST - DAY);
    cr_assert_eq(log_count("on_exceed: reject: new requests are refused (429 insufficient_quota)"), 1);

    /* Raising the limit (a reload) lifts the refusal; so does a new month. */
    c.monthly_usd = 1;
    sy_budget_configure(b, &c);
    cr_assert_not(sy_budget_refuses(b));
    c.monthly_usd = 0.05;
    sy_budget_configure(b, &c);
    cr_assert(sy_budget_refuses(b));
    c.on_exceed = SY_BUDGET_ALERT;
    sy_budget_configure(b, &c);
    cr_assert_not(sy_budget_refuses(b), "alert does not refuse");
    c.on_exceed = SY_BUDGET_REJECT;
    sy_budget_configure(b, &c);
    sy_budget_tick(b, JUNE_FIRST);
    cr_assert_not(sy_budget_refuses(b), "June starts at 0");
    sy_budget_free(b);
    sy_store_free(st);
}

Test(budget, gauges)
{
    sy_store *st = sy_store_memory_new();
    sy_budget *b = sy_budget_new(st, MAY_LAST, errbuf, sizeof errbuf);
    cr_assert_float_eq(gauge("switchyard_budget_limit_usd"), 0, 1e-12, "no budget: limit 0");
    cr_assert_float_eq(gauge("switchyard_budget_spent_usd"), 0, 1e-12);
    sy_budget_conf c = conf(25, SY_BUDGET_ALERT);
    sy_budget_configure(b, &c);
    cr_assert_float_eq(gauge("switchyard_budget_limit_usd"), 25, 1e-12);
    sy_budget_add(b, 3.5);
    sy_budget_tick(b, MAY_LAST);
    cr_assert_float_eq(gauge("switchyard_budget_spent_usd"), 3.5, 1e-12);
    sy_budget_free(b);
    sy_store_free(st);
}
