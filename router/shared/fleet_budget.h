/*
 * fleet_budget.h - one monthly budget for the fleet (policy budget with
 * shared_state): the month's spend is the sum over every instance.
 *
 * The fleet's spend is an integer of nano-dollars in Redis under
 * budget:YYYY-MM (expiring some weeks after the month). Every tick the main
 * thread adds what this instance spent since its last write (INCRBY, in one
 * script that first fills a missing key from this instance's last known
 * total, so a Redis that came back empty does not forget the month) and
 * reads the total back: the budget (budget.h) then refuses or alerts on the
 * fleet's figure, within one tick of every instance's requests. A write that
 * failed is added again at the next (it may then count twice if Redis had
 * applied it: the budget errs on the side of spending less).
 */
#ifndef SY_FLEET_BUDGET_H
#define SY_FLEET_BUDGET_H

#include "shared_impl.h"

struct sy_budget;
struct sy_store;
struct redisContext;

sy_fleet_budget *sy_fleet_budget_new(sy_shared_core *core, struct sy_budget *b);
void sy_fleet_budget_free(sy_fleet_budget *f);

/* Main thread, every tick after the budget's own. */
void sy_fleet_budget_tick(sy_fleet_budget *f);

/* At start (blocking on c): the fleet's spend of the current month into
 * store's "budget" entry, for sy_budget_new to start from. */
void sy_fleet_budget_preload(const sy_shared_core *core, struct redisContext *c,
                             struct sy_store *store);

#endif
