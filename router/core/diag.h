/*
 * diag.h - compiler-style diagnostics: "FILE:LINE:COL: error: MESSAGE",
 * then the source line with a caret under the column.
 *
 * Every check in the policy loader reports through a sy_diags so that one
 * run reports every problem, not just the first.
 */
#ifndef SY_DIAG_H
#define SY_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A place in a source file. line and col are 1-based; line 0 means "no place"
 * (the diagnostic then prints as "FILE: error: ..."). file is borrowed and must
 * outlive the diagnostics that use it (sy_diags keeps its own copy of names
 * registered with sy_diags_add_source). */
typedef struct sy_loc {
    const char *file;
    unsigned line;
    unsigned col;
} sy_loc;

typedef enum sy_diag_level { SY_DIAG_ERROR, SY_DIAG_WARNING } sy_diag_level;

typedef struct sy_diag {
    sy_diag_level level;
    char *file; /* owned copy */
    unsigned line, col;
    char *msg;  /* owned */
} sy_diag;

typedef struct sy_diag_source {
    char *file;
    char *text; /* owned copy of the file's text, for printing the line */
    size_t len;
} sy_diag_source;

typedef struct sy_diags {
    sy_diag *items;
    size_t n, cap;
    size_t n_errors, n_warnings;
    sy_diag_source *sources;
    size_t n_sources;
} sy_diags;

void sy_diags_init(sy_diags *d);
void sy_diags_free(sy_diags *d);

/* Remember a file's text so that printed diagnostics can show the line. */
void sy_diags_add_source(sy_diags *d, const char *file, const char *text, size_t len);

/* Add one diagnostic. Messages must never contain a secret's value: quote the
 * raw policy text (e.g. "${OPENAI_API_KEY}"), never an expanded value. */
void sy_diag_add(sy_diags *d, sy_diag_level level, sy_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sy_error(d, loc, ...) sy_diag_add((d), SY_DIAG_ERROR, (loc), __VA_ARGS__)
#define sy_warning(d, loc, ...) sy_diag_add((d), SY_DIAG_WARNING, (loc), __VA_ARGS__)

/* Hide a secret written literally into a registered source: len characters
 * from loc (inside the quotes of a quoted scalar) print as '*' in every
 * source line shown under a diagnostic. */
void sy_diags_redact(sy_diags *d, sy_loc loc, size_t len, int quoted);

/* Print every diagnostic, in file/line order, each followed by its source line
 * and a caret when the source is known. */
void sy_diags_print(const sy_diags *d, FILE *out);

/* Text helpers shared by the YAML reader and the printer. Lines end at the
 * breaks YAML (libyaml) counts: "\n", "\r\n", "\r", U+0085, U+2028, U+2029;
 * columns count characters (UTF-8 sequences), not bytes.
 * sy_text_line: byte offset and length (without its break) of 1-based line;
 * returns -1 when the text has fewer lines. A text "a\n" has lines 1 and 2
 * (the empty one after the last break).
 * sy_text_place: the 1-based line and column of byte offset off (clamped to len). */
int sy_text_line(const char *text, size_t len, unsigned line, size_t *start, size_t *linelen);
void sy_text_place(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t sy_edit_distance(const char *a, const char *b);
/* The candidate nearest to word (NULL-terminated list), or NULL when none is
 * close: the distance must be at most max(2, strlen(word) / 3) and smaller than
 * both lengths (so "x" never suggests "on"). Ties go to the earlier candidate. */
const char *sy_nearest(const char *word, const char *const *candidates);

#endif
