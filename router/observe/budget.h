/*
 * budget.h - the monthly budget (policy `budget`: monthly_usd, on_exceed).
 *
 * What counts: the cost of every request as it ends (its request event's
 * cost_usd: its usage priced by the provider and model that answered). A
 * request without usage or without a price adds nothing, and is counted in
 * switchyard_requests_without_usage_total instead. Spend is kept whether or
 * not the policy sets a budget, so one set by a reload starts from the
 * month's real spend.
 *
 * Hot path: one atomic counter of nano-dollars, added to by any worker
 * (sy_budget_add, the observer) and read by any worker (sy_budget_refuses):
 * no lock, exact to far below a cent for any month.
 *
 * The main thread's tick (sy_budget_tick, every 200 ms in serve) does the
 * rest: the month rolls over when the UTC calendar month changes (spend back
 * to 0), the spend goes to the store under the key "budget" as
 * {"month":"YYYY-MM","spent_usd":N,"alerted":P} (P: the last threshold
 * logged, 0, 80 or 100), the gauges switchyard_budget_spent_usd and
 * switchyard_budget_limit_usd (0 without a budget) are set, and one log line
 * is written the first time the month's spend reaches 80 % and 100 % of the
 * limit (once each per month, across restarts).
 *
 * on_exceed: reject makes sy_budget_refuses() true once the month's spend has
 * reached the limit: the router answers new proxied requests 429
 * insufficient_quota before anything is sent upstream. Requests already
 * running finish (and count).
 */
#ifndef SY_BUDGET_H
#define SY_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "router.h"

struct sy_store;
typedef struct sy_budget sy_budget;

/* Read the month's spend from store (the key "budget"); a value from an
 * earlier month is a new month at 0. now_s: wall clock, Unix seconds. NULL
 * with a message in err when the stored value is not one budget.c wrote, or
 * out of memory. The store must outlive the budget. */
sy_budget *sy_budget_new(struct sy_store *store, int64_t now_s, char *err, size_t errlen);
void sy_budget_free(sy_budget *b);

/* The policy's budget (NULL or not enabled: none). At start and on every
 * reload, on the main thread. A changed limit re-arms a threshold the spend
 * is now below. */
void sy_budget_configure(sy_budget *b, const sy_budget_conf *conf);

/* Add b as an observer of r's request events (before any worker runs). */
int sy_budget_observe(sy_budget *b, sy_router *r);

/* Any thread. usd <= 0 or not finite is ignored. */
void sy_budget_add(sy_budget *b, double usd);

/* Any thread: on_exceed is reject and the month's spend reached the limit.
 * b may be NULL (no budget object: never). */
int sy_budget_refuses(const sy_budget *b);

/* The refusal's message: what is spent, the limit, the month. Any thread. */
void sy_budget_refusal(sy_budget *b, char *buf, size_t cap);

/* Main thread, on a timer: month rollover, threshold logs, gauges, store. */
void sy_budget_tick(sy_budget *b, int64_t now_s);

/* This month's spend, in US dollars (tests, /admin/status). */
double sy_budget_spent_usd(const sy_budget *b);
/* Several instances (router/shared/fleet_budget.h): the spend this
 * instance sees is the fleet's. After sy_budget_share (before any worker),
 * every cost added is also kept as "unpushed" until the main thread takes it
 * (sy_budget_take_unpushed) to add it to the fleet's total in Redis, or gives
 * it back when that failed; the fleet's total read back replaces the spend
 * (plus what was added since). Refusal (on_exceed: reject) then follows the
 * fleet's spend, to within one tick of every instance's requests. */
void sy_budget_share(sy_budget *b);
uint64_t sy_budget_take_unpushed(sy_budget *b);
void sy_budget_return_unpushed(sy_budget *b, uint64_t nano);
uint64_t sy_budget_spent_nano(const sy_budget *b);
void sy_budget_set_fleet_spent(sy_budget *b, const char *month, uint64_t nano);

/* "YYYY-MM", the UTC month being counted. */
#define SY_BUDGET_MONTH_LEN 16
void sy_budget_month(sy_budget *b, char out[SY_BUDGET_MONTH_LEN]);

#endif
