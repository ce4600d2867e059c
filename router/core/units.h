/*
 * units.h - the policy's value syntaxes: durations, sizes, percentages.
 * Each parser returns 0 on success, or -1 and points *why at a static
 * message ("unknown unit", "negative", ...).
 */
#ifndef SY_UNITS_H
#define SY_UNITS_H

#include <stdint.h>

/* "250ms", "2s", "1.5s", "30m", "1h"; a unit is required; must be >= 0.
 * Result in milliseconds. */
int sy_parse_duration_ms(const char *s, int64_t *out_ms, const char **why);
/* "8MiB", "512KiB", "1GiB", or a plain number of bytes. */
int sy_parse_size(const char *s, uint64_t *out_bytes, const char **why);
/* "99.5%" or "99.5": a number in 0..100. */
int sy_parse_percent(const char *s, double *out, const char **why);
/* A whole decimal number (optionally negative). */
int sy_parse_int(const char *s, int64_t *out, const char **why);
/* A decimal floating point number. */
int sy_parse_number(const char *s, double *out, const char **why);
/* true/false/yes/no/on/off. */
int sy_parse_bool(const char *s, int *out, const char **why);

/* Format a duration for humans ("500ms", "2s", "1m30s") into buf. */
const char *sy_format_duration(int64_t ms, char *buf, unsigned cap);

#endif
