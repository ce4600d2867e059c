/*
 * units.c - the policy's value syntaxes: durations, sizes, percentages,
 * numbers and booleans.
 *
 * Parsing is strict and exact: durations and sizes are computed with integer
 * arithmetic (so "1.5s" is exactly 1500 ms), every overflow is refused, and
 * the "why" messages are static strings that say what would have been right.
 */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Fraction digits kept exactly; further digits must be zeros. */
#define MAX_FRAC_DIGITS 9

/* A decimal "123" or "1.25" (no sign, no exponent) read from *p. */
typedef struct decimal {
    uint64_t whole;
    uint64_t frac;     /* the fraction's digits as a number ... */
    uint64_t frac_den; /* ... over this power of ten (1 when there is none) */
    int frac_rest;     /* 1 when digits beyond MAX_FRAC_DIGITS were not zeros */
} decimal;

/* Returns 0, -1 when there is no number at *p, or -2 on overflow. */
static int read_decimal(const char **p, decimal *out)
{
    const char *s = *p;
    memset(out, 0, sizeof *out);
    out->frac_den = 1;
    int digits = 0;
    for (; isdigit((unsigned char)*s); s++, digits++) {
        unsigned d = (unsigned)(*s - '0');
        if (out->whole > (UINT64_MAX - d) / 10) return -2;
        out->whole = out->whole * 10 + d;
    }
    if (*s == '.' && isdigit((unsigned char)s[1])) {
        s++;
        for (int n = 0; isdigit((unsigned char)*s); s++, n++) {
            if (n < MAX_FRAC_DIGITS) {
                out->frac = out->frac * 10 + (uint64_t)(*s - '0');
                out->frac_den *= 10;
            } else if (*s != '0') {
                out->frac_rest = 1;
            }
            digits++;
        }
    }
    if (digits == 0) return -1;
    *p = s;
    return 0;
}

/* value * unit exactly, or -1 on overflow, or -2 when not a whole number. */
static int scale_decimal(const decimal *v, uint64_t unit, uint64_t *out)
{
    uint64_t w;
    if (__builtin_mul_overflow(v->whole, unit, &w)) return -1;
    /* frac < frac_den <= 10^9 and unit <= 2^30 here, so this cannot overflow */
    uint64_t f = v->frac * unit;
    if (f % v->frac_den != 0 || v->frac_rest) return -2;
    if (__builtin_add_overflow(w, f / v->frac_den, out)) return -1;
    return 0;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ') s++;
    return s;
}

/* ---- durations ----------------------------------------------------------- */

/* Longest unit names first so "ms" is not read as "m". */
static const struct {
    const char *name;
    uint64_t ms;
} duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
};

int sy_parse_duration_ms(const char *s, int64_t *out_ms, const char **why)
{
    const char *p = skip_space(s);
    if (*p == '-') {
        *why = "negative durations are not allowed";
        return -1;
    }
    if (*p == '+') p++;
    if (*p == '\0') {
        *why = "expected a duration such as 500ms, 2s, 1.5m or 1h";
        return -1;
    }
    /* One or more number+unit parts: "1h30m", "1m30s", "2.5s". */
    uint64_t total = 0;
    while (*p) {
        decimal v;
        int rc = read_decimal(&p, &v);
        if (rc == -2) goto overflow;
        if (rc < 0) {
            *why = "not a duration: expected a number and a unit (ms, s, m or h), e.g. 500ms";
            return -1;
        }
        p = skip_space(p);
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen])) ulen++;
        if (ulen == 0) {
            *why = *p ? "not a duration: expected a number and a unit (ms, s, m or h), e.g. 500ms"
                      : "a unit is required: ms, s, m or h (e.g. 500ms, 30s)";
            return -1;
        }
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
            if (strlen(duration_units[i].name) == ulen &&
                strncmp(p, duration_units[i].name, ulen) == 0)
                unit = duration_units[i].ms;
        }
        if (!unit) {
            *why = "unknown duration unit (use ms, s, m or h)";
            return -1;
        }
        p = skip_space(p + ulen);
        uint64_t part;
        rc = scale_decimal(&v, unit, &part);
        if (rc == -1) goto overflow;
        if (rc == -2) {
            *why = "durations are counted in whole milliseconds";
            return -1;
        }
        if (__builtin_add_overflow(total, part, &total)) goto overflow;
    }
    if (total > (uint64_t)INT64_MAX) goto overflow;
    *out_ms = (int64_t)total;
    return 0;
overflow:
    *why = "duration is too large";
    return -1;
}

const char *sy_format_duration(int64_t ms, char *buf, unsigned cap)
{
    if (!buf || cap == 0) return buf;
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    const char *sign = ms < 0 ? "-" : "";
    if (v < 1000) {
        snprintf(buf, cap, "%s%" PRIu64 "ms", sign, v);
        return buf;
    }
    uint64_t h = v / 3600000, m = v / 60000 % 60, s = v / 1000 % 60, frac = v % 1000;
    char part[3][32] = {"", "", ""};
    if (h) snprintf(part[0], sizeof part[0], "%" PRIu64 "h", h);
    if (m) snprintf(part[1], sizeof part[1], "%" PRIu64 "m", m);
    if (frac) {
        char digits[8];
        snprintf(digits, sizeof digits, "%03u", (unsigned)frac);
        for (int i = 2; i > 0 && digits[i] == '0'; i--) digits[i] = '\0';
        snprintf(part[2], sizeof part[2], "%" PRIu64 ".%ss", s, digits);
    } else if (s) {
        snprintf(part[2], sizeof part[2], "%" PRIu64 "s", s);
    }
    snprintf(buf, cap, "%s%s%s%s", sign, part[0], part[1], part[2]);
    return buf;
}

/* ---- sizes ----------------------------------------------------------------- */

static const struct {
    const char *name;
    uint64_t bytes;
} size_units[] = {
    {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}
};

int sy_parse_size(const char *s, uint64_t *out_bytes, const char **why)
{
    const char *p = skip_space(s);
    if (*p == '-') {
        *why = "negative sizes are not allowed";
        return -1;
    }
    if (*p == '+') p++;
    decimal v;
    int rc = read_decimal(&p, &v);
    if (rc == -2) goto overflow;
    if (rc < 0) {
        *why = "not a size: expected bytes or a number with B, KiB, MiB or GiB (e.g. 8MiB)";
        return -1;
    }
    p = skip_space(p);
    size_t ulen = strlen(p);
    while (ulen > 0 && p[ulen - 1] == ' ') ulen--;
    uint64_t unit = ulen == 0 ? 1 : 0;
    for (size_t i = 0; ulen && i < sizeof size_units / sizeof size_units[0]; i++) {
        if (strlen(size_units[i].name) == ulen && strncmp(p, size_units[i].name, ulen) == 0)
            unit = size_units[i].bytes;
    }
    if (!unit) {
        *why = "unknown size unit (use B, KiB, MiB or GiB; sizes are binary: 1 MiB = 1048576 "
               "bytes, so KB, MB and GB are not accepted)";
        return -1;
    }
    rc = scale_decimal(&v, unit, out_bytes);
    if (rc == -1) goto overflow;
    if (rc == -2) {
        *why = "a size must come to a whole number of bytes";
        return -1;
    }
    return 0;
overflow:
    *why = "size is too large";
    return -1;
}

/* ---- numbers ----------------------------------------------------------- */

/* A strict decimal floating point number: [+-]digits[.digits][e[+-]digits],
 * nothing else (no hex, no "nan", no "inf", no spaces inside). */
static int is_decimal_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    for (; i < n && isdigit((unsigned char)s[i]); i++) digits++;
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && isdigit((unsigned char)s[i]); i++) digits++;
    }
    if (digits == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t ed = 0;
        for (; i < n && isdigit((unsigned char)s[i]); i++) ed++;
        if (ed == 0) return 0;
    }
    return i == n;
}

/* Parse s[0..n) as a finite double. */
static int parse_double(const char *s, size_t n, double *out, const char **why)
{
    if (!is_decimal_number(s, n) || n >= 64) {
        *why = n >= 64 && is_decimal_number(s, n) ? "number is too long" : "not a number";
        return -1;
    }
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
        *why = "number is out of range";
        return -1;
    }
    *out = v;
    return 0;
}

int sy_parse_number(const char *s, double *out, const char **why)
{
    return parse_double(s, strlen(s), out, why);
}

int sy_parse_percent(const char *s, double *out, const char **why)
{
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '%') {
        n--;
        while (n > 0 && s[n - 1] == ' ') n--; /* "99.5 %" */
    }
    double v;
    if (parse_double(s, n, &v, why) != 0) {
        *why = "not a percentage: expected a number from 0 to 100, with or without % (e.g. 99.5%)";
        return -1;
    }
    if (v < 0 || v > 100) {
        *why = "a percentage must be between 0 and 100";
        return -1;
    }
    *out = v;
    return 0;
}

int sy_parse_int(const char *s, int64_t *out, const char **why)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!isdigit((unsigned char)*p)) {
        *why = "not a whole number";
        return -1;
    }
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) goto range;
        v = v * 10 + d;
    }
    if (*p != '\0') {
        *why = "not a whole number";
        return -1;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) goto range;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
range:
    *why = "number is out of range";
    return -1;
}

int sy_parse_bool(const char *s, int *out, const char **why)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    *why = "expected true or false";
    return -1;
}
