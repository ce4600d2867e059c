/* test_diag.c - diagnostics: format, order, source line and caret; text
 * positions; "did you mean" suggestions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* Everything sy_diags_print writes, as a string the caller frees. */
static char *print_all(const sy_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    sy_diags_print(d, f);
    fclose(f);
    return buf;
}

static sy_loc at(const char *file, unsigned line, unsigned col)
{
    sy_loc l = {file, line, col};
    return l;
}

Test(diag, error_with_source_and_caret)
{
    sy_diags d;
    sy_diags_init(&d);
    const char *text = "version: 1\nretry:\n  max_atempts: 3\n";
    sy_diags_add_source(&d, "p.yaml", text, strlen(text));
    sy_error(&d, at("p.yaml", 3, 3), "unknown key \"%s\"", "max_atempts");
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.n_errors, 1);
    cr_assert_eq(d.n_warnings, 0);
    char *out = print_all(&d);
    cr_assert_str_eq(out, "p.yaml:3:3: error: unknown key \"max_atempts\"\n"
                          "    3 |   max_atempts: 3\n"
                          "      |   ^\n");
    free(out);
    sy_diags_free(&d);
    cr_assert_eq(d.n, 0);
}

Test(diag, warning_and_no_place)
{
    sy_diags d;
    sy_diags_init(&d);
    const char *text = "a: 1\n";
    sy_diags_add_source(&d, "p.yaml", text, strlen(text));
    sy_warning(&d, at("p.yaml", 1, 4), "deprecated");
    sy_error(&d, at("p.yaml", 0, 7), "empty policy");
    sy_error(&d, at(NULL, 0, 0), "no file at all");
    cr_assert_eq(d.n_errors, 2);
    cr_assert_eq(d.n_warnings, 1);
    char *out = print_all(&d);
    /* no-file first, then the file's placeless one, then by line */
    cr_assert_str_eq(out, "error: no file at all\n"
                          "p.yaml: error: empty policy\n"
                          "p.yaml:1:4: warning: deprecated\n"
                          "    1 | a: 1\n"
                          "      |    ^\n");
    free(out);
    sy_diags_free(&d);
}

Test(diag, line_without_column_prints_line_but_no_caret)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_diags_add_source(&d, "p.yaml", "a: 1\nb: 2", 9);
    sy_error(&d, at("p.yaml", 2, 0), "whole line");
    char *out = print_all(&d);
    cr_assert_str_eq(out, "p.yaml:2: error: whole line\n    2 | b: 2\n");
    free(out);
    sy_diags_free(&d);
}

Test(diag, sorted_by_file_line_col_and_stable)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_error(&d, at("b.yaml", 1, 1), "b1");
    sy_error(&d, at("a.yaml", 9, 2), "a9c2");
    sy_error(&d, at("a.yaml", 2, 5), "a2c5-first");
    sy_error(&d, at("a.yaml", 10, 1), "a10");
    sy_warning(&d, at("a.yaml", 2, 5), "a2c5-second");
    sy_error(&d, at("a.yaml", 2, 1), "a2c1");
    sy_error(&d, at("a.yaml", 9, 1), "a9c1");
    char *out = print_all(&d);
    cr_assert_str_eq(out, "a.yaml:2:1: error: a2c1\n"
                          "a.yaml:2:5: error: a2c5-first\n"
                          "a.yaml:2:5: warning: a2c5-second\n"
                          "a.yaml:9:1: error: a9c1\n"
                          "a.yaml:9:2: error: a9c2\n"
                          "a.yaml:10:1: error: a10\n"
                          "b.yaml:1:1: error: b1\n");
    free(out);
    /* printing does not reorder what was collected */
    cr_assert_str_eq(d.items[0].msg, "b1");
    sy_diags_free(&d);
}

Test(diag, caret_keeps_tabs_and_counts_characters)
{
    sy_diags d;
    sy_diags_init(&d);
    /* "é" is two bytes but one column; the tab is copied into the caret line */
    const char *text = "\tk: \xc3\xa9x\n";
    sy_diags_add_source(&d, "p.yaml", text, strlen(text));
    sy_error(&d, at("p.yaml", 1, 6), "at x");
    char *out = print_all(&d);
    cr_assert_str_eq(out, "p.yaml:1:6: error: at x\n"
                          "    1 | \tk: \xc3\xa9x\n"
                          "      | \t    ^\n");
    free(out);
    sy_diags_free(&d);
}

Test(diag, message_stays_on_one_line)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_error(&d, at("p.yaml", 0, 0), "key \"%s\"", "a\nb\tc\x01");
    cr_assert_str_eq(d.items[0].msg, "key \"a\nb\tc\x01\""); /* stored as given */
    char *out = print_all(&d);
    cr_assert_str_eq(out, "p.yaml: error: key \"a\\nb\\tc\\x01\"\n");
    free(out);
    sy_diags_free(&d);
}

Test(diag, long_line_is_windowed_around_the_caret)
{
    sy_diags d;
    sy_diags_init(&d);
    char text[1001];
    memset(text, 'a', 1000);
    text[1000] = '\0';
    text[600] = 'X';
    sy_diags_add_source(&d, "p.yaml", text, 1000);
    sy_error(&d, at("p.yaml", 1, 601), "here");
    char *out = print_all(&d);
    char *l1 = strchr(out, '\n') + 1;
    char *l2 = strchr(l1, '\n') + 1;
    char *x = strchr(l1, 'X');
    char *caret = strchr(l2, '^');
    cr_assert(x && x < l2);
    cr_assert_not_null(caret);
    cr_assert_eq(x - l1, caret - l2, "caret not under the column");
    cr_assert_lt(l2 - l1, 200, "line not shortened");
    cr_assert(strstr(l1, "...") != NULL);
    free(out);
    sy_diags_free(&d);
}

Test(diag, place_past_the_text_prints_no_source)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_diags_add_source(&d, "p.yaml", "a: 1\n", 5);
    sy_error(&d, at("p.yaml", 7, 1), "far away");
    sy_error(&d, at("other.yaml", 1, 1), "unknown source");
    char *out = print_all(&d);
    cr_assert_str_eq(out, "other.yaml:1:1: error: unknown source\np.yaml:7:1: error: far away\n");
    free(out);
    sy_diags_free(&d);
}

Test(diag, newest_source_text_wins)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_diags_add_source(&d, "p.yaml", "old: 1\n", 7);
    sy_diags_add_source(&d, "p.yaml", "new: 2\n", 7);
    cr_assert_eq(d.n_sources, 1);
    sy_error(&d, at("p.yaml", 1, 1), "x");
    char *out = print_all(&d);
    cr_assert(strstr(out, "new: 2") != NULL);
    free(out);
    sy_diags_free(&d);
}

Test(diag, text_lines_follow_yaml_breaks)
{
    /* \n, \r\n, \r, NEL, LS */
    const char *t = "a\nbb\r\nccc\rd\xc2\x85" "e\xe2\x80\xa8" "f\n";
    size_t len = strlen(t), s, l;
    const char *want[] = {"a", "bb", "ccc", "d", "e", "f", ""};
    for (unsigned i = 0; i < 7; i++) {
        cr_assert_eq(sy_text_line(t, len, i + 1, &s, &l), 0, "line %u", i + 1);
        cr_assert_eq(l, strlen(want[i]), "line %u", i + 1);
        cr_assert_eq(memcmp(t + s, want[i], l), 0, "line %u", i + 1);
    }
    cr_assert_eq(sy_text_line(t, len, 8, &s, &l), -1);
    cr_assert_eq(sy_text_line(t, len, 0, &s, &l), -1);
    cr_assert_eq(sy_text_line("", 0, 1, &s, &l), 0);
    cr_assert_eq(l, 0);

    unsigned line, col;
    sy_text_place(t, len, 0, &line, &col);
    cr_assert(line == 1 && col == 1);
    sy_text_place(t, len, 3, &line, &col); /* second 'b' */
    cr_assert(line == 2 && col == 2, "%u:%u", line, col);
    sy_text_place(t, len, 6, &line, &col); /* first 'c' */
    cr_assert(line == 3 && col == 1, "%u:%u", line, col);
    sy_text_place(t, len, 13, &line, &col); /* 'e' after NEL */
    cr_assert(line == 5 && col == 1, "%u:%u", line, col);
    const char *u = "\xc3\xa9\xc3\xa9x";
    sy_text_place(u, strlen(u), 4, &line, &col);
    cr_assert(line == 1 && col == 3, "%u:%u", line, col);
    sy_text_place(u, strlen(u), 999, &line, &col); /* clamped */
    cr_assert(line == 1 && col == 4, "%u:%u", line, col);
}

Test(diag, edit_distance)
{
    cr_assert_eq(sy_edit_distance("kitten", "sitting"), 3);
    cr_assert_eq(sy_edit_distance("", "abc"), 3);
    cr_assert_eq(sy_edit_distance("abc", ""), 3);
    cr_assert_eq(sy_edit_distance("same", "same"), 0);
    cr_assert_eq(sy_edit_distance("retry", "retyr"), 2);
    cr_assert_eq(sy_edit_distance("flaw", "lawn"), 2);
    char a[201], b[201];
    memset(a, 'x', 200);
    memset(b, 'x', 200);
    a[200] = b[200] = '\0';
    b[100] = 'y';
    cr_assert_eq(sy_edit_distance(a, b), 1); /* longer than the on-stack row */
    b[199] = '\0';
    cr_assert_eq(sy_edit_distance(a, b), 2);
}

Test(diag, nearest)
{
    const char *const keys[] = {"max_attempts", "on", "backoff", "retry_after", "budget", NULL};
    cr_assert_str_eq(sy_nearest("max_atempts", keys), "max_attempts");
    cr_assert_str_eq(sy_nearest("bakoff", keys), "backoff");
    cr_assert_str_eq(sy_nearest("retry-after", keys), "retry_after");
    cr_assert_str_eq(sy_nearest("budgte", keys), "budget");
    cr_assert_null(sy_nearest("timeout", keys));
    cr_assert_null(sy_nearest("x", keys));  /* "on" would be a full rewrite */
    cr_assert_null(sy_nearest("no", keys)); /* distance 2 == length */
    cr_assert_null(sy_nearest("", keys));
    const char *const none[] = {NULL};
    cr_assert_null(sy_nearest("anything", none));
    /* the limit grows with the word: 4 edits allowed for 12+ letters */
    const char *const long_keys[] = {"health_check_interval", NULL};
    cr_assert_str_eq(sy_nearest("helth_chek_intervl", long_keys), "health_check_interval");
    cr_assert_null(sy_nearest("interval", long_keys));
    /* ties go to the first candidate */
    const char *const tie[] = {"cat", "car", NULL};
    cr_assert_str_eq(sy_nearest("caz", tie), "cat");
}
