/* Unit tests for the fleet's rollout record (fleet_rollout.h): the
 * rollout's own record wrapped with the times its windows are read from. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "fleet_rollout.h"

#define MS 1000000ull

Test(fleet_record, round_trip)
{
    sy_rollout_ctl c;
    sy_ro_init(&c);
    double steps[] = {10, 25, 50};
    sy_ro_conf conf = {.id = "r-1", .percent = 10, .steps = steps, .n_steps = 3,
                       .window_ns = 5000 * MS, .min_requests = 20};
    sy_ro_change ch;
    uint64_t now = 1767225600123ull * MS;
    cr_assert_eq(sy_ro_configure(&c, &conf, now, 1767225600, &ch), 0);
    char *inner = sy_ro_encode(&c);
    char *rec = sy_fleet_record_make(inner, c.watch_since, c.step_since, "host:1:abcd");
    cr_assert_not_null(rec);
    char *back;
    uint64_t w, s;
    cr_assert_eq(sy_fleet_record_parse(rec, &back, &w, &s), 0);
    cr_assert_eq(w, now / MS * MS, "ms precision");
    cr_assert_eq(s, now / MS * MS);
    /* The rollout's record comes back as the rollout reads it. */
    sy_rollout_ctl d;
    sy_ro_init(&d);
    cr_assert_eq(sy_ro_restore(&d, back, now, 1767225601), 0);
    cr_assert_str_eq(d.id, "r-1");
    cr_assert_float_eq(d.share, 10, 1e-9);
    cr_assert_eq(d.state, SY_RO_PROGRESSING);
    free(inner);
    free(rec);
    free(back);
    sy_ro_free(&c);
    sy_ro_free(&d);
}

Test(fleet_record, not_a_record)
{
    char *back;
    uint64_t w, s;
    cr_assert_eq(sy_fleet_record_parse("{\"share\": 3}", &back, &w, &s), -1);
    cr_assert_null(back);
    cr_assert_eq(sy_fleet_record_parse("not json", &back, &w, &s), -1);
    cr_assert_eq(sy_fleet_record_parse("{\"rollout\": {}, \"watch_since_ms\": -5}", &back, &w, &s), 0);
    cr_assert_eq(w, 0, "a negative time is none");
    free(back);
}
