/* test_units.c - durations, sizes, percentages, numbers, booleans. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "units.h"

static int64_t dur_ok(const char *s)
{
    int64_t v = -1;
    const char *why = NULL;
    cr_assert_eq(sy_parse_duration_ms(s, &v, &why), 0, "\"%s\" refused: %s", s, why);
    return v;
}

static const char *dur_bad(const char *s)
{
    int64_t v = 12345;
    const char *why = NULL;
    cr_assert_eq(sy_parse_duration_ms(s, &v, &why), -1, "\"%s\" accepted as %lld", s,
                 (long long)v);
    cr_assert_not_null(why);
    cr_assert_eq(v, 12345, "output written on failure");
    return why;
}

Test(units, duration_every_unit)
{
    cr_assert_eq(dur_ok("250ms"), 250);
    cr_assert_eq(dur_ok("2s"), 2000);
    cr_assert_eq(dur_ok("30m"), 30 * 60000);
    cr_assert_eq(dur_ok("1h"), 3600000);
    cr_assert_eq(dur_ok("0ms"), 0);
    cr_assert_eq(dur_ok("0s"), 0);
}

Test(units, duration_decimals_and_compounds)
{
    cr_assert_eq(dur_ok("1.5s"), 1500);
    cr_assert_eq(dur_ok("0.25s"), 250);
    cr_assert_eq(dur_ok(".5s"), 500);
    cr_assert_eq(dur_ok("1.5m"), 90000);
    cr_assert_eq(dur_ok("0.001s"), 1);
    cr_assert_eq(dur_ok("1.000000000000s"), 1000); /* zeros past the kept digits are fine */
    cr_assert_eq(dur_ok("1h30m"), 5400000);
    cr_assert_eq(dur_ok("1m30s"), 90000);
    cr_assert_eq(dur_ok("1m 30.5s"), 90500);
    cr_assert_eq(dur_ok("500 ms"), 500);
}

Test(units, duration_unit_required)
{
    cr_assert(strstr(dur_bad("2"), "unit is required"));
    cr_assert(strstr(dur_bad("1.5"), "unit is required"));
    cr_assert(strstr(dur_bad("1h30"), "unit is required"));
    cr_assert(strstr(dur_bad(""), "expected a duration"));
}

Test(units, duration_bad_units)
{
    cr_assert(strstr(dur_bad("5d"), "unknown duration unit"));
    cr_assert(strstr(dur_bad("5 minutes"), "unknown duration unit"));
    cr_assert(strstr(dur_bad("5S"), "unknown duration unit"));
    cr_assert(strstr(dur_bad("10us"), "unknown duration unit"));
    cr_assert(strstr(dur_bad("ms"), "not a duration"));
    cr_assert(strstr(dur_bad("1.s"), "not a duration"));
    cr_assert(strstr(dur_bad("1s!"), "not a duration"));
    cr_assert(strstr(dur_bad("0x10s"), "unknown duration unit"));
}

Test(units, duration_negative_and_fractions)
{
    cr_assert_str_eq(dur_bad("-1s"), "negative durations are not allowed");
    cr_assert_str_eq(dur_bad("-0.5m"), "negative durations are not allowed");
    cr_assert(strstr(dur_bad("0.5ms"), "whole milliseconds"));
    cr_assert(strstr(dur_bad("0.0001s"), "whole milliseconds"));
    cr_assert(strstr(dur_bad("1.0000000001s"), "whole milliseconds"));
}

Test(units, duration_overflow)
{
    /* INT64_MAX ms is 2562047788015.2 hours */
    cr_assert_eq(dur_ok("2562047788015h"), INT64_C(2562047788015) * 3600000);
    cr_assert(strstr(dur_bad("2562047788016h"), "too large"));
    cr_assert(strstr(dur_bad("9223372036854775808ms"), "too large"));
    cr_assert(strstr(dur_bad("99999999999999999999999ms"), "too large"));
    cr_assert(strstr(dur_bad("2562047788015h2562047788015h"), "too large"));
}

Test(units, format_duration)
{
    char buf[64];
    cr_assert_str_eq(sy_format_duration(0, buf, sizeof buf), "0ms");
    cr_assert_str_eq(sy_format_duration(500, buf, sizeof buf), "500ms");
    cr_assert_str_eq(sy_format_duration(2000, buf, sizeof buf), "2s");
    cr_assert_str_eq(sy_format_duration(1500, buf, sizeof buf), "1.5s");
    cr_assert_str_eq(sy_format_duration(1250, buf, sizeof buf), "1.25s");
    cr_assert_str_eq(sy_format_duration(90000, buf, sizeof buf), "1m30s");
    cr_assert_str_eq(sy_format_duration(60000, buf, sizeof buf), "1m");
    cr_assert_str_eq(sy_format_duration(3600000, buf, sizeof buf), "1h");
    cr_assert_str_eq(sy_format_duration(5400000, buf, sizeof buf), "1h30m");
    cr_assert_str_eq(sy_format_duration(3600001, buf, sizeof buf), "1h0.001s");
    cr_assert_str_eq(sy_format_duration(-2000, buf, sizeof buf), "-2s");
    sy_format_duration(INT64_MIN, buf, sizeof buf); /* must not overflow */
    cr_assert_eq(buf[0], '-');
    char small[4];
    cr_assert_str_eq(sy_format_duration(123456, small, sizeof small), "2m3"); /* truncated */
}

Test(units, format_parse_round_trip)
{
    const int64_t values[] = {0, 1, 999, 1000, 1001, 59999, 60000, 61500, 3599999, 3600000,
                              86400000, 123456789, INT64_C(2562047788015) * 3600000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[64];
        sy_format_duration(values[i], buf, sizeof buf);
        cr_assert_eq(dur_ok(buf), values[i], "%s", buf);
    }
}

static uint64_t size_ok(const char *s)
{
    uint64_t v = 0;
    const char *why = NULL;
    cr_assert_eq(sy_parse_size(s, &v, &why), 0, "\"%s\" refused: %s", s, why);
    return v;
}

static const char *size_bad(const char *s)
{
    uint64_t v = 0;
    const char *why = NULL;
    cr_assert_eq(sy_parse_size(s, &v, &why), -1, "\"%s\" accepted", s);
    cr_assert_not_null(why);
    return why;
}

Test(units, size_every_unit)
{
    cr_assert_eq(size_ok("100"), 100);
    cr_assert_eq(size_ok("100B"), 100);
    cr_assert_eq(size_ok("512KiB"), 512 * 1024);
    cr_assert_eq(size_ok("8MiB"), 8 * 1024 * 1024);
    cr_assert_eq(size_ok("8 MiB"), 8 * 1024 * 1024);
    cr_assert_eq(size_ok("1GiB"), UINT64_C(1) << 30);
    cr_assert_eq(size_ok("1.5KiB"), 1536);
    cr_assert_eq(size_ok("0"), 0);
    cr_assert_eq(size_ok("18446744073709551615"), UINT64_MAX);
}

Test(units, size_bad)
{
    cr_assert(strstr(size_bad("8MB"), "KB, MB and GB are not accepted"));
    cr_assert(strstr(size_bad("8KB"), "unknown size unit"));
    cr_assert(strstr(size_bad("8mib"), "unknown size unit"));
    cr_assert(strstr(size_bad("8 M"), "unknown size unit"));
    cr_assert_str_eq(size_bad("-1"), "negative sizes are not allowed");
    cr_assert_str_eq(size_bad("-1MiB"), "negative sizes are not allowed");
    cr_assert(strstr(size_bad("1.3B"), "whole number of bytes"));
    cr_assert(strstr(size_bad("MiB"), "not a size"));
    cr_assert(strstr(size_bad(""), "not a size"));
    cr_assert(strstr(size_bad("18446744073709551616"), "too large"));
    cr_assert(strstr(size_bad("17179869184GiB"), "too large"));
}

static double pct_ok(const char *s)
{
    double v = -1;
    const char *why = NULL;
    cr_assert_eq(sy_parse_percent(s, &v, &why), 0, "\"%s\" refused: %s", s, why);
    return v;
}

static const char *pct_bad(const char *s)
{
    double v = 0;
    const char *why = NULL;
    cr_assert_eq(sy_parse_percent(s, &v, &why), -1, "\"%s\" accepted", s);
    cr_assert_not_null(why);
    return why;
}

Test(units, percent)
{
    cr_assert_float_eq(pct_ok("99.5%"), 99.5, 1e-12);
    cr_assert_float_eq(pct_ok("99.5"), 99.5, 1e-12);
    cr_assert_float_eq(pct_ok("50 %"), 50, 1e-12);
    cr_assert_float_eq(pct_ok("0"), 0, 1e-12);
    cr_assert_float_eq(pct_ok("100%"), 100, 1e-12);
    cr_assert_float_eq(pct_ok("10"), 10, 1e-12);
}

Test(units, percent_range_and_syntax)
{
    cr_assert(strstr(pct_bad("100.1"), "between 0 and 100"));
    cr_assert(strstr(pct_bad("101%"), "between 0 and 100"));
    cr_assert(strstr(pct_bad("-1"), "between 0 and 100"));
    cr_assert(strstr(pct_bad("-0.5%"), "between 0 and 100"));
    cr_assert(strstr(pct_bad("1e3"), "between 0 and 100"));
    cr_assert(strstr(pct_bad("abc"), "not a percentage"));
    cr_assert(strstr(pct_bad("%"), "not a percentage"));
    cr_assert(strstr(pct_bad("nan"), "not a percentage"));
    cr_assert(strstr(pct_bad("nan%"), "not a percentage"));
    cr_assert(strstr(pct_bad("50%%"), "not a percentage"));
    cr_assert(strstr(pct_bad(""), "not a percentage"));
}

Test(units, integers)
{
    int64_t v;
    const char *why;
    cr_assert_eq(sy_parse_int("42", &v, &why), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sy_parse_int("-7", &v, &why), 0);
    cr_assert_eq(v, -7);
    cr_assert_eq(sy_parse_int("+3", &v, &why), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(sy_parse_int("9223372036854775807", &v, &why), 0);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(sy_parse_int("-9223372036854775808", &v, &why), 0);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(sy_parse_int("9223372036854775808", &v, &why), -1);
    cr_assert(strstr(why, "out of range"));
    cr_assert_eq(sy_parse_int("-9223372036854775809", &v, &why), -1);
    cr_assert_eq(sy_parse_int("99999999999999999999999", &v, &why), -1);
    cr_assert(strstr(why, "out of range"));
    const char *bad[] = {"", "-", "1.0", "0x10", " 1", "1 ", "1e3", "one", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sy_parse_int(bad[i], &v, &why), -1, "\"%s\" accepted", bad[i]);
        cr_assert(strstr(why, "not a whole number"));
    }
}

Test(units, numbers)
{
    double v;
    const char *why;
    cr_assert_eq(sy_parse_number("1.5", &v, &why), 0);
    cr_assert_float_eq(v, 1.5, 1e-12);
    cr_assert_eq(sy_parse_number("-2e3", &v, &why), 0);
    cr_assert_float_eq(v, -2000, 1e-12);
    cr_assert_eq(sy_parse_number(".25", &v, &why), 0);
    cr_assert_float_eq(v, 0.25, 1e-12);
    cr_assert_eq(sy_parse_number("7", &v, &why), 0);
    cr_assert_float_eq(v, 7, 1e-12);
    cr_assert_eq(sy_parse_number("1e-400", &v, &why), 0); /* underflow is just zero */
    cr_assert_eq(sy_parse_number("1e400", &v, &why), -1);
    cr_assert(strstr(why, "out of range"));
    const char *bad[] = {"nan", "NaN", "inf", "-inf", "infinity", "0x1p3", "", ".", "1e",
                         "1,5", "1.5.2", " 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(sy_parse_number(bad[i], &v, &why), -1, "\"%s\" accepted", bad[i]);
}

Test(units, booleans)
{
    const char *yes[] = {"true", "True", "TRUE", "yes", "on", "On"};
    const char *no[] = {"false", "False", "no", "NO", "off"};
    const char *bad[] = {"1", "0", "tru", "y", "", "enabled"};
    int v;
    const char *why;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        v = -1;
        cr_assert_eq(sy_parse_bool(yes[i], &v, &why), 0);
        cr_assert_eq(v, 1, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        v = -1;
        cr_assert_eq(sy_parse_bool(no[i], &v, &why), 0);
        cr_assert_eq(v, 0, "%s", no[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sy_parse_bool(bad[i], &v, &why), -1, "\"%s\" accepted", bad[i]);
        cr_assert_str_eq(why, "expected true or false");
    }
}
