/*
 * yaml_tree.c - libyaml events to a tree of located nodes.
 *
 * The builder keeps an explicit stack of open collections (no recursion), so
 * the depth limit is a plain comparison. Aliases are expanded by sharing: an
 * alias to a mapping or list points at the anchored node (the tree becomes a
 * DAG, which readers cannot tell from a tree), an alias to a scalar is a copy
 * placed at the alias. Each node's expanded size ("weight") is known when the
 * node is complete, and every alias adds its anchor's weight to the document
 * total, so an alias bomb is stopped after a handful of events, before any
 * expansion happens.
 *
 * All nodes and strings live in one arena owned by the sy_ydoc. Temporary
 * child lists live on the heap until their collection ends and are then
 * copied into the arena at their final size.
 */
#include "yaml_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* The YAML layer stops after this many errors of its own. */
#define MAX_ERRORS 50
/* Keys and values quoted in messages are cut to this many bytes. */
#define SHOW_LEN 60

/* ---- arena ---------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
} chunk;

typedef struct arena {
    chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) / align * align;
    chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_destroy(arena *a)
{
    if (!a) return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

/* ---- string table: anchors, and the keys of each mapping ------------------- */

typedef struct hent {
    uint64_t owner;  /* 0 for anchors, else the id of a mapping */
    const char *s;   /* arena string; NULL = empty slot */
    size_t len;
    uint64_t hash;
    sy_ynode *node;  /* anchor: the node (NULL while it is still open); key: first key */
    size_t weight;   /* anchor: expanded size of the node */
    size_t seq;      /* anchor: which definition (an anchor may be defined again) */
} hent;

typedef struct htab {
    hent *e;
    size_t cap, n;
} htab;

static uint64_t hash_of(uint64_t owner, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (owner * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static hent *htab_slot(const htab *t, uint64_t owner, const char *s, size_t len, uint64_t h)
{
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        hent *e = &t->e[i];
        if (!e->s) return e;
        if (e->hash == h && e->owner == owner && e->len == len && memcmp(e->s, s, len) == 0)
            return e;
    }
}

static hent *htab_find(const htab *t, uint64_t owner, const char *s, size_t len)
{
    if (!t->cap) return NULL;
    hent *e = htab_slot(t, owner, s, len, hash_of(owner, s, len));
    return e->s ? e : NULL;
}

/* The entry for (owner, s), added when new (*added = 1). s must outlive the
 * table. NULL when out of memory. The pointer is valid until the next put. */
static hent *htab_put(htab *t, uint64_t owner, const char *s, size_t len, int *added)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        hent *e = calloc(cap, sizeof *e);
        if (!e) return NULL;
        htab bigger = {e, cap, t->n};
        for (size_t i = 0; i < t->cap; i++)
            if (t->e[i].s) *htab_slot(&bigger, t->e[i].owner, t->e[i].s, t->e[i].len,
                                      t->e[i].hash) = t->e[i];
        free(t->e);
        *t = bigger;
    }
    uint64_t h = hash_of(owner, s, len);
    hent *e = htab_slot(t, owner, s, len, h);
    *added = !e->s;
    if (!e->s) {
        e->owner = owner;
        e->s = s;
        e->len = len;
        e->hash = h;
        t->n++;
    }
    return e;
}

/* ---- builder ---------------------------------------------------------------- */

typedef struct frame {
    sy_ynode *node;
    size_t weight;        /* expanded size so far, this node included */
    uint64_t id;          /* mappings: owner id of its keys in the key table */
    const char *anchor;   /* arena copy, or NULL */
    size_t anchor_len, anchor_seq;
    sy_ynode **items;     /* lists */
    size_t n_items, cap_items;
    sy_ypair *pairs;      /* mappings */
    size_t n_pairs, cap_pairs;
    sy_ynode *key;        /* mappings: the key waiting for its value */
    int have_key, key_bad;
} frame;

typedef struct builder {
    sy_diags *d;
    const char *file;     /* doc->file */
    const char *text;
    size_t len;
    arena *ar;
    frame stack[SY_YAML_MAX_DEPTH];
    int depth;
    sy_ynode *root;
    htab anchors, keys;
    size_t total;         /* nodes after alias expansion */
    int aliased;          /* an alias was expanded */
    size_t anchor_seq;
    uint64_t next_map_id;
    int documents;
    int errors;
    int fatal;            /* stop reading */
} builder;

static void berr(builder *b, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void berr(builder *b, unsigned line, unsigned col, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    sy_loc loc = {b->file, line, col};
    sy_error(b->d, loc, "%s", n >= 0 ? msg : "YAML error (and out of memory describing it)");
    free(msg);
    if (++b->errors >= MAX_ERRORS && !b->fatal) {
        sy_loc none = {b->file, 0, 0};
        sy_error(b->d, none, "too many errors in the YAML; stopping");
        b->fatal = 1;
    }
}

static void oom(builder *b)
{
    if (b->fatal) return;
    berr(b, 0, 0, "out of memory while reading the YAML");
    b->fatal = 1;
}

/* A short, one-line rendering of s for messages (the printer escapes controls). */
static const char *show(const char *s, size_t len, char *buf, size_t cap)
{
    size_t n = len < SHOW_LEN ? len : SHOW_LEN;
    if (n > cap - 4) n = cap - 4;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* whole UTF-8 chars */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) buf[o++] = s[i] ? s[i] : '?';
    if (n < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static char *arena_strndup(builder *b, const char *s, size_t len)
{
    char *r = arena_alloc(b->ar, len + 1);
    if (!r) return NULL;
    if (len) memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

static sy_ynode *new_node(builder *b, sy_ynode_kind kind, yaml_mark_t m)
{
    sy_ynode *n = arena_alloc(b->ar, sizeof *n);
    if (!n) {
        oom(b);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->loc.file = b->file;
    n->loc.line = (unsigned)m.line + 1;
    n->loc.col = (unsigned)m.column + 1;
    return n;
}

/* Count weight more nodes against the limit. */
static int count_nodes(builder *b, size_t weight, unsigned line, unsigned col)
{
    b->total += weight;
    if (b->total <= SY_YAML_MAX_NODES) return 0;
    if (b->aliased)
        berr(b, line, col, "too many nodes after expanding aliases (limit %u): alias bomb?",
             (unsigned)SY_YAML_MAX_NODES);
    else
        berr(b, line, col, "too many nodes (limit %u)", (unsigned)SY_YAML_MAX_NODES);
    b->fatal = 1;
    return -1;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, nc * size);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* line:col is where the key is written (for a shared alias: the alias). */
static void check_key(builder *b, frame *f, sy_ynode *key, unsigned line, unsigned col)
{
    char buf[SHOW_LEN + 8];
    f->key_bad = 1;
    if (key->kind != SY_YSCALAR) {
        berr(b, line, col, "a mapping key must be a scalar, not %s",
             sy_ynode_kind_name(key->kind));
        return;
    }
    if (!key->quoted && key->len == 2 && memcmp(key->str, "<<", 2) == 0) {
        berr(b, key->loc.line, key->loc.col,
             "merge keys (<<) are not supported; write the keys out, or use an alias (*name) "
             "for the whole value");
        return;
    }
    if (!key->quoted && key->len == 0) {
        berr(b, key->loc.line, key->loc.col, "a mapping key is empty");
        return;
    }
    int added;
    hent *e = htab_put(&b->keys, f->id, key->str, key->len, &added);
    if (!e) {
        oom(b);
        return;
    }
    if (!added) {
        berr(b, key->loc.line, key->loc.col, "duplicate key \"%s\" (first defined on line %u)",
             show(key->str, key->len, buf, sizeof buf), e->node->loc.line);
        return;
    }
    e->node = key;
    f->key_bad = 0;
}

/* Attach a finished node (of expanded size weight), written at line:col, to
 * the open collection. */
static void add_child(builder *b, sy_ynode *n, size_t weight, unsigned line, unsigned col)
{
    if (b->depth == 0) {
        b->root = n;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    f->weight += weight;
    if (f->node->kind == SY_YSEQ) {
        if (grow((void **)&f->items, &f->cap_items, f->n_items, sizeof *f->items)) {
            oom(b);
            return;
        }
        f->items[f->n_items++] = n;
        return;
    }
    if (!f->have_key) {
        f->have_key = 1;
        f->key = n;
        check_key(b, f, n, line, col);
        return;
    }
    f->have_key = 0;
    if (f->key_bad) return;
    if (grow((void **)&f->pairs, &f->cap_pairs, f->n_pairs, sizeof *f->pairs)) {
        oom(b);
        return;
    }
    f->pairs[f->n_pairs].key = f->key;
    f->pairs[f->n_pairs].value = n;
    f->n_pairs++;
}

static void on_scalar(builder *b, const yaml_event_t *ev)
{
    sy_ynode *n = new_node(b, SY_YSCALAR, ev->start_mark);
    if (!n || count_nodes(b, 1, n->loc.line, n->loc.col)) return;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    n->str = arena_strndup(b, v, len);
    if (!n->str) {
        oom(b);
        return;
    }
    n->len = len;
    yaml_scalar_style_t style = ev->data.scalar.style;
    n->quoted =
        style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && strcmp(tag, YAML_NULL_TAG) == 0)
        n->is_null = 1;
    else if (style == YAML_PLAIN_SCALAR_STYLE && !tag)
        n->is_null = len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
                     strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
    if (memchr(v, '\0', len))
        berr(b, n->loc.line, n->loc.col, "a NUL character (\\0) is not allowed in a value");

    if (ev->data.scalar.anchor) {
        const char *name = (const char *)ev->data.scalar.anchor;
        char *copy = arena_strndup(b, name, strlen(name));
        int added;
        hent *e = copy ? htab_put(&b->anchors, 0, copy, strlen(copy), &added) : NULL;
        if (!e) {
            oom(b);
            return;
        }
        e->node = n;
        e->weight = 1;
        e->seq = ++b->anchor_seq;
    }
    add_child(b, n, 1, n->loc.line, n->loc.col);
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    char buf[SHOW_LEN + 8];
    hent *e = htab_find(&b->anchors, 0, name, strlen(name));
    sy_ynode *target = e ? e->node : NULL;
    if (!target) {
        if (e)
            berr(b, line, col, "alias *%s refers to a node that contains it",
                 show(name, strlen(name), buf, sizeof buf));
        else
            berr(b, line, col, "unknown anchor: *%s is used before any &%s is defined",
                 show(name, strlen(name), buf, sizeof buf), buf);
    }
    /* A scalar (or a stand-in null for a bad alias) is copied so that it
     * carries the place of the alias; collections are shared. */
    if (!target || target->kind == SY_YSCALAR) {
        sy_ynode *n = new_node(b, SY_YSCALAR, ev->start_mark);
        if (!n) return;
        if (target) {
            *n = *target;
            n->loc.line = line;
            n->loc.col = col;
        } else {
            n->str = arena_strndup(b, "", 0);
            n->is_null = 1;
            if (!n->str) {
                oom(b);
                return;
            }
        }
        if (target) b->aliased = 1;
        if (count_nodes(b, 1, line, col)) return;
        add_child(b, n, 1, line, col);
        return;
    }
    size_t weight = e->weight;
    b->aliased = 1;
    if (count_nodes(b, weight, line, col)) return;
    add_child(b, target, weight, line, col);
}

static void on_start(builder *b, const yaml_event_t *ev, sy_ynode_kind kind)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    if (b->depth == SY_YAML_MAX_DEPTH) {
        berr(b, line, col, "nesting is too deep (more than %d levels)", SY_YAML_MAX_DEPTH);
        b->fatal = 1;
        return;
    }
    sy_ynode *n = new_node(b, kind, ev->start_mark);
    if (!n || count_nodes(b, 1, line, col)) return;
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    f->weight = 1;
    if (kind == SY_YMAP) f->id = ++b->next_map_id;
    const char *anchor = kind == SY_YMAP ? (const char *)ev->data.mapping_start.anchor
                                         : (const char *)ev->data.sequence_start.anchor;
    if (anchor) {
        /* Registered now, completed at the end: an alias inside is recursive. */
        size_t alen = strlen(anchor);
        char *copy = arena_strndup(b, anchor, alen);
        int added;
        hent *e = copy ? htab_put(&b->anchors, 0, copy, alen, &added) : NULL;
        if (!e) {
            oom(b);
            return;
        }
        e->node = NULL;
        e->weight = 0;
        e->seq = ++b->anchor_seq;
        f->anchor = copy;
        f->anchor_len = alen;
        f->anchor_seq = e->seq;
    }
}

static void free_frame(frame *f)
{
    free(f->items);
    free(f->pairs);
    f->items = NULL;
    f->pairs = NULL;
}

static void on_end(builder *b)
{
    if (b->depth == 0) return; /* cannot happen with libyaml's event order */
    frame *f = &b->stack[--b->depth];
    sy_ynode *n = f->node;
    if (f->n_items) {
        n->items = arena_alloc(b->ar, f->n_items * sizeof *n->items);
        if (!n->items) goto fail;
        memcpy(n->items, f->items, f->n_items * sizeof *n->items);
        n->n_items = f->n_items;
    }
    if (f->n_pairs) {
        n->pairs = arena_alloc(b->ar, f->n_pairs * sizeof *n->pairs);
        if (!n->pairs) goto fail;
        memcpy(n->pairs, f->pairs, f->n_pairs * sizeof *n->pairs);
        n->n_pairs = f->n_pairs;
    }
    free_frame(f);
    if (f->anchor) {
        hent *e = htab_find(&b->anchors, 0, f->anchor, f->anchor_len);
        if (e && e->seq == f->anchor_seq) { /* not defined again inside */
            e->node = n;
            e->weight = f->weight;
        }
    }
    add_child(b, n, f->weight, n->loc.line, n->loc.col);
    return;
fail:
    free_frame(f);
    oom(b);
}

/* ---- libyaml errors ----------------------------------------------------- */

/* libyaml places errors at the end of input on a line past the text; show
 * them at the end of the last line that has something on it instead. */
static int clamp_to_text(const builder *b, unsigned *line, unsigned *col)
{
    size_t start, ll;
    if (sy_text_line(b->text, b->len, *line, &start, &ll) == 0 && (start < b->len || *line == 1))
        return 0;
    size_t off = b->len;
    while (off > 0 && (b->text[off - 1] == '\n' || b->text[off - 1] == '\r')) off--;
    sy_text_place(b->text, b->len, off, line, col);
    return 1;
}

/* Column of the first tab in a line's leading blanks, or 0. */
static unsigned leading_tab(const builder *b, unsigned line)
{
    size_t start, ll;
    if (sy_text_line(b->text, b->len, line, &start, &ll) != 0) return 0;
    for (size_t i = 0; i < ll; i++) {
        char c = b->text[start + i];
        if (c == '\t') return (unsigned)i + 1;
        if (c != ' ') return 0;
    }
    return 0;
}

static void report_parser_error(builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        oom(b);
        return;
    }
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR) {
        unsigned line, col;
        sy_text_place(b->text, b->len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            berr(b, line, col, "the policy must be UTF-8 text: %s (byte 0x%02x)", problem,
                 (unsigned)p->problem_value & 0xffu);
        else
            berr(b, line, col, "the policy must be UTF-8 text: %s", problem);
        return;
    }
    unsigned line = (unsigned)p->problem_mark.line + 1, col = (unsigned)p->problem_mark.column + 1;
    unsigned cline = (unsigned)p->context_mark.line + 1;
    unsigned ccol = (unsigned)p->context_mark.column + 1;

    /* libyaml's words for a tab in the indentation vary with where it is
     * found; look at the text instead. */
    unsigned tab = leading_tab(b, line);
    if (tab) {
        berr(b, line, tab, "tabs are not allowed for indentation; indent with spaces");
        return;
    }
    int at_end = clamp_to_text(b, &line, &col);
    clamp_to_text(b, &cline, &ccol);
    const char *ctx = p->context;
    if (ctx && strcmp(problem, "found unexpected end of stream") == 0 &&
        strstr(ctx, "quoted scalar")) {
        berr(b, cline, ccol, "unterminated quoted string: the closing quote is missing");
        return;
    }
    if (strcmp(problem, "mapping values are not allowed in this context") == 0) {
        berr(b, line, col,
             "invalid YAML: unexpected ':' (a value that contains \": \" must be quoted)");
        return;
    }
    if (strcmp(problem, "found character that cannot start any token") == 0) {
        size_t start, ll;
        char c = 0;
        if (sy_text_line(b->text, b->len, line, &start, &ll) == 0 && col >= 1 && col - 1 < ll)
            c = b->text[start + col - 1];
        if (c == '@' || c == '`') {
            berr(b, line, col, "invalid YAML: a plain value cannot start with '%c'; quote it", c);
            return;
        }
    }
    const char *hint = "";
    if (strcmp(problem, "did not find expected key") == 0 ||
        strcmp(problem, "did not find expected '-' indicator") == 0)
        hint = "; check the indentation";
    else if (at_end && ctx && strstr(ctx, "flow"))
        hint = "; the file ends before a '}' or ']' closes it";
    else if (at_end)
        hint = "; the file ends too early";
    if (ctx && (cline != line || ccol != col))
        berr(b, line, col, "invalid YAML: %s (%s that starts at line %u, column %u)%s", problem,
             ctx, cline, ccol, hint);
    else if (ctx)
        berr(b, line, col, "invalid YAML: %s (%s)%s", problem, ctx, hint);
    else
        berr(b, line, col, "invalid YAML: %s%s", problem, hint);
}

/* ---- loading ----------------------------------------------------------- */

static void builder_cleanup(builder *b)
{
    for (int i = 0; i < b->depth; i++) free_frame(&b->stack[i]);
    b->depth = 0;
    free(b->anchors.e);
    free(b->keys.e);
}

static void run(builder *b)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        oom(b);
        return;
    }
    /* Fixed: a BOM must not switch libyaml to UTF-16 behind our line counts. */
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&p, (const unsigned char *)b->text, b->len);
    while (!b->fatal) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            report_parser_error(b, &p);
            break;
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++b->documents > 1) {
                berr(b, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
                     "a second YAML document: a policy file must hold exactly one document");
                b->fatal = 1;
            }
            break;
        case YAML_SCALAR_EVENT: on_scalar(b, &ev); break;
        case YAML_ALIAS_EVENT: on_alias(b, &ev); break;
        case YAML_SEQUENCE_START_EVENT: on_start(b, &ev, SY_YSEQ); break;
        case YAML_MAPPING_START_EVENT: on_start(b, &ev, SY_YMAP); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: on_end(b); break;
        default: break;
        }
        yaml_event_delete(&ev);
        if (done) break;
    }
    yaml_parser_delete(&p);
}

static void size_text(char *buf, size_t cap, unsigned long long n)
{
    if (n >= 1u << 20)
        snprintf(buf, cap, "%llu bytes, %.1f MiB", n, (double)n / (1u << 20));
    else
        snprintf(buf, cap, "%llu bytes", n);
}

static void too_large(sy_diags *d, const char *name, unsigned long long n)
{
    char size[64];
    size_text(size, sizeof size, n);
    sy_loc loc = {name, 0, 0};
    sy_error(d, loc, "the file is too large (%s; the limit is %u bytes, 1 MiB)", size,
             (unsigned)SY_YAML_MAX_BYTES);
}

int sy_ydoc_load_buffer(sy_ydoc *doc, const char *name, const char *text, size_t len,
                        sy_diags *d)
{
    memset(doc, 0, sizeof *doc);
    if (!name) name = "<policy>";
    if (!text) len = 0;
    if (len > SY_YAML_MAX_BYTES) {
        too_large(d, name, len);
        return -1;
    }
    builder b;
    memset(&b, 0, sizeof b);
    b.d = d;
    b.text = text ? text : "";
    b.len = len;
    doc->file = strdup(name);
    b.ar = calloc(1, sizeof *b.ar);
    if (!doc->file || !b.ar) {
        sy_loc loc = {name, 0, 0};
        sy_error(d, loc, "out of memory while reading the YAML");
        goto fail;
    }
    b.file = doc->file;
    sy_diags_add_source(d, name, b.text, len);

    run(&b);
    builder_cleanup(&b);
    if (b.errors) goto fail;
    /* A document that is only "---" (or only comments) is empty. */
    if (b.root && b.root->kind == SY_YSCALAR && b.root->is_null && b.root->len == 0 &&
        !b.root->quoted)
        b.root = NULL;
    doc->root = b.root;
    doc->arena = b.ar;
    return 0;
fail:
    arena_destroy(b.ar);
    free(doc->file);
    memset(doc, 0, sizeof *doc);
    return -1;
}

int sy_ydoc_load_file(sy_ydoc *doc, const char *path, sy_diags *d)
{
    memset(doc, 0, sizeof *doc);
    sy_loc where = {path, 0, 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sy_error(d, where, "cannot open: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sy_error(d, where, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        sy_error(d, where, "is a directory, not a policy file");
        goto out;
    }
    /* Refuse a large file by its size, before reading it. */
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > SY_YAML_MAX_BYTES) {
        too_large(d, path, (unsigned long long)st.st_size);
        goto out;
    }
    /* Read at most one byte past the limit (pipes and files that grow). */
    size_t cap = SY_YAML_MAX_BYTES + 1, n = 0;
    buf = malloc(cap);
    if (!buf) {
        sy_error(d, where, "out of memory reading the file");
        goto out;
    }
    while (n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            sy_error(d, where, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    if (n > SY_YAML_MAX_BYTES) {
        sy_error(d, where, "the file is too large (more than %u bytes, the limit)",
                 (unsigned)SY_YAML_MAX_BYTES);
        goto out;
    }
    rc = sy_ydoc_load_buffer(doc, path, buf, n, d);
out:
    free(buf);
    close(fd);
    return rc;
}

void sy_ydoc_free(sy_ydoc *doc)
{
    if (!doc) return;
    arena_destroy(doc->arena);
    free(doc->file);
    memset(doc, 0, sizeof *doc);
}

const sy_ypair *sy_ymap_pair(const sy_ynode *map, const char *key)
{
    if (!map || map->kind != SY_YMAP || !key) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < map->n_pairs; i++) {
        const sy_ynode *k = map->pairs[i].key;
        if (k->len == len && memcmp(k->str, key, len) == 0) return &map->pairs[i];
    }
    return NULL;
}

const sy_ynode *sy_ymap_get(const sy_ynode *map, const char *key)
{
    const sy_ypair *p = sy_ymap_pair(map, key);
    return p ? p->value : NULL;
}

const char *sy_ynode_kind_name(sy_ynode_kind k)
{
    switch (k) {
    case SY_YSCALAR: return "a scalar";
    case SY_YMAP: return "a mapping";
    case SY_YSEQ: return "a list";
    }
    return "a node";
}
