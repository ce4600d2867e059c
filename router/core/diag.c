/*
 * diag.c - collecting and printing compiler-style diagnostics.
 *
 * Out of memory while recording a diagnostic aborts: the caller has no way
 * to report a problem it could not record, and a policy check that silently
 * loses an error would accept a bad policy.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Long source lines are shown as a window around the caret. */
#define SHOW_MAX 160
#define SHOW_BEFORE 80

static void diag_oom(void)
{
    fputs("switchyard: out of memory while recording a diagnostic\n", stderr);
    abort();
}

static char *xstrdup(const char *s)
{
    char *r = strdup(s);
    if (!r) diag_oom();
    return r;
}

void sy_diags_init(sy_diags *d) { memset(d, 0, sizeof *d); }

void sy_diags_free(sy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].msg);
    }
    free(d->items);
    for (size_t i = 0; i < d->n_sources; i++) {
        free(d->sources[i].file);
        free(d->sources[i].text);
    }
    free(d->sources);
    memset(d, 0, sizeof *d);
}

void sy_diags_add_source(sy_diags *d, const char *file, const char *text, size_t len)
{
    if (!file) return;
    char *copy = malloc(len + 1);
    if (!copy) diag_oom();
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    for (size_t i = 0; i < d->n_sources; i++) {
        if (strcmp(d->sources[i].file, file) == 0) { /* reloaded: keep the newest text */
            free(d->sources[i].text);
            d->sources[i].text = copy;
            d->sources[i].len = len;
            return;
        }
    }
    sy_diag_source *s = realloc(d->sources, (d->n_sources + 1) * sizeof *s);
    if (!s) diag_oom();
    d->sources = s;
    s[d->n_sources].file = xstrdup(file);
    s[d->n_sources].text = copy;
    s[d->n_sources].len = len;
    d->n_sources++;
}

void sy_diag_add(sy_diags *d, sy_diag_level level, sy_loc loc, const char *fmt, ...)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        sy_diag *items = realloc(d->items, cap * sizeof *items);
        if (!items) diag_oom();
        d->items = items;
        d->cap = cap;
    }
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) diag_oom();

    sy_diag *g = &d->items[d->n++];
    g->level = level;
    g->file = loc.file ? xstrdup(loc.file) : NULL;
    g->line = loc.line;
    g->col = loc.line ? loc.col : 0;
    g->msg = msg;
    if (level == SY_DIAG_ERROR)
        d->n_errors++;
    else
        d->n_warnings++;
}

/* ---- text positions ---------------------------------------------------- */

/* Length of the line break at p (0 when none), as libyaml counts them. */
static size_t break_len(const unsigned char *p, size_t left)
{
    if (left == 0) return 0;
    if (p[0] == '\n') return 1;
    if (p[0] == '\r') return left > 1 && p[1] == '\n' ? 2 : 1;
    if (left > 1 && p[0] == 0xC2 && p[1] == 0x85) return 2;                 /* NEL */
    if (left > 2 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
        return 3;                                                            /* LS, PS */
    return 0;
}

/* Advance from offset *pos (a line start) past the end of that line.
 * Returns the line's length without its break; *pos ends at the next line
 * start, or at len when this was the last line (*more = 0 then). */
static size_t next_line(const char *text, size_t len, size_t *pos, int *more)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t i = *pos;
    while (i < len) {
        size_t b = break_len(t + i, len - i);
        if (b) {
            size_t ll = i - *pos;
            *pos = i + b;
            *more = 1;
            return ll;
        }
        i++;
    }
    size_t ll = i - *pos;
    *pos = len;
    *more = 0;
    return ll;
}

int sy_text_line(const char *text, size_t len, unsigned line, size_t *start, size_t *linelen)
{
    if (line == 0) return -1;
    size_t pos = 0;
    int more = 1;
    for (unsigned l = 1;; l++) {
        size_t s = pos;
        size_t ll = next_line(text, len, &pos, &more);
        if (l == line) {
            *start = s;
            *linelen = ll;
            return 0;
        }
        if (!more) return -1;
    }
}

/* Bytes in the UTF-8 sequence starting with c (1 for a stray byte). */
static size_t utf8_width(unsigned char c)
{
    if (c >= 0xF0 && c < 0xF8) return 4;
    if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
    if (c >= 0xC0) return 2;
    return 1;
}

/* Byte offset within a line of 1-based character column col (clamped to ll). */
static size_t col_to_byte(const char *line, size_t ll, unsigned col)
{
    size_t b = 0;
    for (unsigned c = 1; c < col && b < ll; c++) b += utf8_width((unsigned char)line[b]);
    return b < ll ? b : ll;
}

void sy_text_place(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    const unsigned char *t = (const unsigned char *)text;
    if (off > len) off = len;
    unsigned l = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off;) {
        size_t b = break_len(t + i, len - i);
        if (b) {
            if (i + b > off) break; /* off points inside a break: stay on this line */
            i += b;
            l++;
            ls = i;
        } else {
            i++;
        }
    }
    unsigned c = 1;
    for (size_t i = ls; i < off; i += utf8_width(t[i])) c++;
    *line = l;
    *col = c;
}

/* ---- printing ----------------------------------------------------------- */

static int cmp_str(const char *a, const char *b)
{
    if (!a || !b) return a ? 1 : b ? -1 : 0;
    return strcmp(a, b);
}

static int cmp_diag(const void *pa, const void *pb)
{
    const sy_diag *a = *(const sy_diag *const *)pa, *b = *(const sy_diag *const *)pb;
    int c = cmp_str(a->file, b->file);
    if (c) return c;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    return a < b ? -1 : a > b; /* stable: items sit in the order they were added */
}

/* Messages stay one line: control characters are shown escaped. */
static void put_escaped(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p == '\r')
            fputs("\\r", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

static const sy_diag_source *find_source(const sy_diags *d, const char *file)
{
    if (!file) return NULL;
    for (size_t i = 0; i < d->n_sources; i++)
        if (strcmp(d->sources[i].file, file) == 0) return &d->sources[i];
    return NULL;
}

/* Walks a source forward so that printing sorted diagnostics reads the text
 * about once, not once per diagnostic. */
typedef struct line_cursor {
    const sy_diag_source *src;
    unsigned line; /* the line that starts at pos; 0 = not started */
    size_t pos;
} line_cursor;

static int cursor_find(line_cursor *c, const sy_diag_source *src, unsigned line, size_t *start,
                       size_t *ll)
{
    if (c->src != src || c->line == 0 || line < c->line) {
        c->src = src;
        c->line = 1;
        c->pos = 0;
    }
    for (;;) {
        size_t p = c->pos;
        int more;
        size_t l = next_line(src->text, src->len, &p, &more);
        if (c->line == line) {
            *start = c->pos;
            *ll = l;
            return 0;
        }
        if (!more) return -1;
        c->pos = p;
        c->line++;
    }
}

static void put_source_char(FILE *out, unsigned char ch)
{
    fputc(ch == '\t' || ch >= 0x80 || (ch >= 0x20 && ch != 0x7f) ? ch : '?', out);
}

static void print_source(FILE *out, const char *text, size_t ll, unsigned line, unsigned col)
{
    size_t cb = col ? col_to_byte(text, ll, col) : 0;
    size_t ws = 0, we = ll;
    if (ll > SHOW_MAX) {
        ws = cb > SHOW_BEFORE ? cb - SHOW_BEFORE : 0;
        while (ws > 0 && ((unsigned char)text[ws] & 0xC0) == 0x80) ws--;
        we = ws + SHOW_MAX < ll ? ws + SHOW_MAX : ll;
        while (we < ll && ((unsigned char)text[we] & 0xC0) == 0x80) we++;
    }
    int width = 4;
    for (unsigned v = line; v >= 10000; v /= 10) width++;

    fprintf(out, " %*u | %s", width, line, ws > 0 ? "..." : "");
    for (size_t i = ws; i < we; i++) put_source_char(out, (unsigned char)text[i]);
    fputs(we < ll ? "...\n" : "\n", out);
    if (!col) return;
    fprintf(out, " %*s | %s", width, "", ws > 0 ? "   " : "");
    /* Tabs are copied so the caret lines up whatever the tab width. */
    for (size_t i = ws; i < cb; i += utf8_width((unsigned char)text[i]))
        fputc(text[i] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

static void print_one(FILE *out, const sy_diags *d, const sy_diag *g, line_cursor *cur)
{
    const char *level = g->level == SY_DIAG_ERROR ? "error" : "warning";
    if (g->file && g->line && g->col)
        fprintf(out, "%s:%u:%u: %s: ", g->file, g->line, g->col, level);
    else if (g->file && g->line)
        fprintf(out, "%s:%u: %s: ", g->file, g->line, level);
    else if (g->file)
        fprintf(out, "%s: %s: ", g->file, level);
    else
        fprintf(out, "%s: ", level);
    put_escaped(out, g->msg);
    fputc('\n', out);

    const sy_diag_source *src = g->line ? find_source(d, g->file) : NULL;
    size_t start, ll;
    if (src && cursor_find(cur, src, g->line, &start, &ll) == 0 && (ll > 0 || g->col > 0))
        print_source(out, src->text + start, ll, g->line, g->col);
}

/* stderr is unbuffered: each diagnostic is formatted in memory and written
 * with one call, not one system call per character. */
static void print_buffered(FILE *out, const sy_diags *d, const sy_diag *g, line_cursor *cur)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        print_one(out, d, g, cur);
        return;
    }
    print_one(mem, d, g, cur);
    if (fclose(mem) == 0) fwrite(buf, 1, len, out);
    free(buf);
}

void sy_diags_print(const sy_diags *d, FILE *out)
{
    if (d->n == 0) return;
    const sy_diag **order = malloc(d->n * sizeof *order);
    line_cursor cur = {0};
    if (!order) { /* print unsorted rather than not at all */
        for (size_t i = 0; i < d->n; i++) print_buffered(out, d, &d->items[i], &cur);
        return;
    }
    for (size_t i = 0; i < d->n; i++) order[i] = &d->items[i];
    qsort(order, d->n, sizeof *order, cmp_diag);
    for (size_t i = 0; i < d->n; i++) print_buffered(out, d, order[i], &cur);
    free(order);
}

/* ---- suggestions -------------------------------------------------------- */

size_t sy_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la < lb) { /* keep the row short */
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (lb == 0) return la;
    size_t small[64];
    size_t *row = lb + 1 <= 64 ? small : malloc((lb + 1) * sizeof *row);
    if (!row) return la; /* an upper bound: no suggestion will be made */
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t r = row[lb];
    if (row != small) free(row);
    return r;
}

const char *sy_nearest(const char *word, const char *const *candidates)
{
    if (!word || !candidates) return NULL;
    size_t lw = strlen(word);
    size_t limit = lw / 3 > 2 ? lw / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; candidates[i]; i++) {
        size_t lc = strlen(candidates[i]);
        size_t gap = lc > lw ? lc - lw : lw - lc;
        if (gap > limit) continue; /* the distance is at least the length gap */
        size_t dist = sy_edit_distance(word, candidates[i]);
        if (dist > limit || dist >= lw || dist >= lc) continue;
        if (dist < best_d) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}

/* ---- secrets ------------------------------------------------------------ */

void sy_diags_redact(sy_diags *d, sy_loc loc, size_t len, int quoted)
{
    if (!loc.file || loc.line == 0) return;
    for (size_t i = 0; i < d->n_sources; i++) {
        sy_diag_source *src = &d->sources[i];
        if (!src->file || strcmp(src->file, loc.file) != 0) continue;
        size_t start, ll;
        if (sy_text_line(src->text, src->len, loc.line, &start, &ll) != 0) return;
        size_t b = col_to_byte(src->text + start, ll, loc.col);
        if (quoted && b < ll) b++; /* keep the opening quote, hide what it quotes */
        for (size_t k = 0; k < len && b + k < ll; k++) src->text[start + b + k] = '*';
        return;
    }
}
