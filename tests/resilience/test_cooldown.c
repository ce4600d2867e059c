/* Unit tests for the per-model Retry-After cooldowns of one endpoint. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cooldown.h"

#define MS 1000000ull

Test(cooldown, per_model_and_only_extends)
{
    sy_cooldowns c;
    memset(&c, 0, sizeof c);
    sy_cooldown_set(&c, "gpt-4.1", 5000 * MS, 0);
    cr_expect_eq(sy_cooldown_until(&c, "gpt-4.1", 10), 5000 * MS);
    cr_expect_eq(sy_cooldown_until(&c, "gpt-4o-mini", 10), 0, "another model is not cooling");
    sy_cooldown_set(&c, "gpt-4.1", 2000 * MS, 10); /* shorter: ignored */
    cr_expect_eq(sy_cooldown_until(&c, "gpt-4.1", 10), 5000 * MS);
    sy_cooldown_set(&c, "gpt-4.1", 9000 * MS, 10); /* longer: extends */
    cr_expect_eq(sy_cooldown_until(&c, "gpt-4.1", 8999 * MS), 9000 * MS);
    cr_expect_eq(sy_cooldown_until(&c, "gpt-4.1", 9000 * MS), 0, "over at its end");
    cr_expect_eq(sy_cooldown_latest(&c, 10), 9000 * MS);
}

Test(cooldown, full_table_reuses_the_soonest_slot)
{
    sy_cooldowns c;
    memset(&c, 0, sizeof c);
    char m[16];
    for (int i = 0; i < SY_COOLDOWN_SLOTS; i++) {
        snprintf(m, sizeof m, "m%d", i);
        sy_cooldown_set(&c, m, (uint64_t)(1000 + i) * MS, 0);
    }
    sy_cooldown_set(&c, "late", 5000 * MS, 0);
    cr_expect_eq(sy_cooldown_until(&c, "late", 0), 5000 * MS);
    cr_expect_eq(sy_cooldown_until(&c, "m0", 0), 0, "the soonest one made room");
    cr_expect_eq(sy_cooldown_until(&c, "m1", 0), 1001 * MS);
    /* Expired slots are reused first. */
    sy_cooldown_set(&c, "after", 9000 * MS, 1500 * MS);
    cr_expect_eq(sy_cooldown_until(&c, "m2", 0), 1002 * MS, "an expired slot was taken instead");
    cr_expect_eq(sy_cooldown_until(&c, "after", 1500 * MS), 9000 * MS);
}
