/* test_yaml_tree.c - the located YAML tree and its guards. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yaml_tree.h"

typedef struct loaded {
    sy_ydoc doc;
    sy_diags d;
    int rc;
} loaded;

static void load(loaded *l, const char *text)
{
    sy_diags_init(&l->d);
    l->rc = sy_ydoc_load_buffer(&l->doc, "t.yaml", text, strlen(text), &l->d);
}

static void unload(loaded *l)
{
    sy_ydoc_free(&l->doc);
    sy_diags_free(&l->d);
}

/* Load text that must fail with exactly one error containing msg at line:col
 * (col 0: do not check the column). */
static void expect_error(const char *text, unsigned line, unsigned col, const char *msg)
{
    loaded l;
    load(&l, text);
    cr_assert_eq(l.rc, -1, "accepted: %s", text);
    cr_assert_null(l.doc.root);
    cr_assert_geq(l.d.n_errors, 1);
    const sy_diag *g = &l.d.items[0];
    cr_assert(strstr(g->msg, msg) != NULL, "message \"%s\" lacks \"%s\"", g->msg, msg);
    cr_assert_str_eq(g->file, "t.yaml");
    cr_assert_eq(g->line, line, "line %u, wanted %u (%s)", g->line, line, g->msg);
    if (col) cr_assert_eq(g->col, col, "col %u, wanted %u (%s)", g->col, col, g->msg);
    unload(&l);
}

static void assert_at(const sy_ynode *n, unsigned line, unsigned col)
{
    cr_assert_not_null(n);
    cr_assert_eq(n->loc.line, line, "line %u, wanted %u", n->loc.line, line);
    cr_assert_eq(n->loc.col, col, "col %u, wanted %u", n->loc.col, col);
    cr_assert_str_eq(n->loc.file, "t.yaml");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(yaml_tree, places_of_keys_and_values)
{
    loaded l;
    load(&l, "version: 1\n"
             "server:\n"
             "  listen: \"127.0.0.1:8080\"\n"
             "  keys: [a, 'b',  c]\n"
             "list:\n"
             "  - {name: x, n: 2}\n"
             "  - ~\n"
             "empty:\n");
    cr_assert_eq(l.rc, 0);
    cr_assert_eq(l.d.n, 0);
    const sy_ynode *root = l.doc.root;
    assert_at(root, 1, 1);
    cr_assert_eq(root->kind, SY_YMAP);
    cr_assert_eq(root->n_pairs, 4);
    assert_at(root->pairs[0].key, 1, 1);
    assert_at(root->pairs[0].value, 1, 10);
    cr_assert_str_eq(root->pairs[0].value->str, "1");

    const sy_ypair *sp = sy_ymap_pair(root, "server");
    assert_at(sp->key, 2, 1);
    const sy_ynode *server = sp->value;
    cr_assert_eq(server->kind, SY_YMAP);
    assert_at(server, 3, 3); /* a block mapping starts at its first key */
    const sy_ypair *listen = sy_ymap_pair(server, "listen");
    assert_at(listen->key, 3, 3);
    assert_at(listen->value, 3, 11);
    cr_assert_str_eq(listen->value->str, "127.0.0.1:8080");
    cr_assert_eq(listen->value->len, 14);
    cr_assert(listen->value->quoted);
    cr_assert(!listen->key->quoted);

    const sy_ynode *keys = sy_ymap_get(server, "keys");
    cr_assert_eq(keys->kind, SY_YSEQ);
    assert_at(keys, 4, 9);
    cr_assert_eq(keys->n_items, 3);
    assert_at(keys->items[0], 4, 10);
    assert_at(keys->items[1], 4, 13);
    cr_assert(keys->items[1]->quoted);
    assert_at(keys->items[2], 4, 19);

    const sy_ynode *list = sy_ymap_get(root, "list");
    cr_assert_eq(list->n_items, 2);
    assert_at(list->items[0], 6, 5);
    assert_at(sy_ymap_pair(list->items[0], "n")->key, 6, 15);
    assert_at(sy_ymap_get(list->items[0], "n"), 6, 18);
    cr_assert(list->items[1]->is_null);
    assert_at(list->items[1], 7, 5);

    const sy_ynode *empty = sy_ymap_get(root, "empty");
    cr_assert_eq(empty->kind, SY_YSCALAR);
    cr_assert(empty->is_null);
    cr_assert_eq(empty->len, 0);
    cr_assert_null(sy_ymap_get(root, "missing"));
    cr_assert_null(sy_ymap_get(list, "list")); /* not a mapping */
    cr_assert_null(sy_ymap_get(NULL, "x"));
    unload(&l);
}

Test(yaml_tree, scalars_null_and_quoting)
{
    loaded l;
    load(&l, "a: null\nb: 'null'\nc: ~\nd: \"\"\ne: NULL\nf: !!null x\ng: |\n  two\n  lines\n");
    cr_assert_eq(l.rc, 0);
    const sy_ynode *r = l.doc.root;
    cr_assert(sy_ymap_get(r, "a")->is_null);
    cr_assert(!sy_ymap_get(r, "b")->is_null);
    cr_assert(sy_ymap_get(r, "b")->quoted);
    cr_assert(sy_ymap_get(r, "c")->is_null);
    cr_assert(!sy_ymap_get(r, "d")->is_null);
    cr_assert(sy_ymap_get(r, "e")->is_null);
    cr_assert(sy_ymap_get(r, "f")->is_null);
    cr_assert_str_eq(sy_ymap_get(r, "g")->str, "two\nlines\n");
    unload(&l);
}

Test(yaml_tree, crlf_places)
{
    loaded l;
    load(&l, "a: 1\r\nb:\r\n  c: 2\r\n");
    cr_assert_eq(l.rc, 0);
    const sy_ynode *b = sy_ymap_get(l.doc.root, "b");
    assert_at(sy_ymap_pair(b, "c")->key, 3, 3);
    assert_at(sy_ymap_get(b, "c"), 3, 6);
    unload(&l);
}

Test(yaml_tree, bom_is_skipped)
{
    loaded l;
    load(&l, "\xef\xbb\xbf" "a: 1\n");
    cr_assert_eq(l.rc, 0);
    cr_assert_str_eq(sy_ymap_get(l.doc.root, "a")->str, "1");
    unload(&l);
}

Test(yaml_tree, kind_names)
{
    cr_assert_str_eq(sy_ynode_kind_name(SY_YSCALAR), "a scalar");
    cr_assert_str_eq(sy_ynode_kind_name(SY_YMAP), "a mapping");
    cr_assert_str_eq(sy_ynode_kind_name(SY_YSEQ), "a list");
}

Test(yaml_tree, empty_documents)
{
    const char *empty[] = {"", "# only a comment\n", "\n\n   \n", "---\n", "--- # c\n...\n"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        loaded l;
        load(&l, empty[i]);
        cr_assert_eq(l.rc, 0, "\"%s\"", empty[i]);
        cr_assert_null(l.doc.root, "\"%s\"", empty[i]);
        cr_assert_eq(l.d.n, 0);
        unload(&l);
    }
}

Test(yaml_tree, duplicate_keys)
{
    expect_error("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key \"a\" (first defined on line 1)");
    expect_error("x:\n  k: 1\n  j: 2\n  'k': 3\n", 4, 3,
                 "duplicate key \"k\" (first defined on line 2)");
    expect_error("{a: 1, a: 2}", 1, 8, "duplicate key \"a\"");
    /* the same key in different mappings is fine */
    loaded l;
    load(&l, "a: {k: 1}\nb: {k: 2}\nc: [{k: 1}, {k: 2}]\n");
    cr_assert_eq(l.rc, 0);
    unload(&l);
}

Test(yaml_tree, every_duplicate_is_reported)
{
    loaded l;
    load(&l, "a: 1\nb: 2\na: 3\nb: 4\n");
    cr_assert_eq(l.rc, -1);
    cr_assert_eq(l.d.n_errors, 2);
    cr_assert_eq(l.d.items[0].line, 3);
    cr_assert_eq(l.d.items[1].line, 4);
    unload(&l);
}

Test(yaml_tree, error_count_is_capped)
{
    char *text = malloc(200 * 16);
    size_t n = 0;
    for (int i = 0; i < 200; i++) n += (size_t)sprintf(text + n, "k: %d\n", i);
    loaded l;
    sy_diags_init(&l.d);
    l.rc = sy_ydoc_load_buffer(&l.doc, "t.yaml", text, n, &l.d);
    cr_assert_eq(l.rc, -1);
    cr_assert_leq(l.d.n_errors, 51);
    cr_assert(strstr(l.d.items[l.d.n - 1].msg, "too many errors"));
    unload(&l);
    free(text);
}

Test(yaml_tree, tabs_in_indentation)
{
    expect_error("a:\n\tb: 1\n", 2, 1, "tabs are not allowed for indentation");
    expect_error("a:\n  b: 1\n\tc: 2\n", 3, 1, "tabs are not allowed for indentation");
    expect_error("a:\n  - 1\n  \t- 2\n", 3, 3, "tabs are not allowed for indentation");
    expect_error("\tversion: 1\n", 1, 1, "tabs are not allowed for indentation");
    /* a tab after the colon, or inside a block scalar, is not indentation */
    loaded l;
    load(&l, "a:\tb\nc: |\n  x\n  \ty\n");
    cr_assert_eq(l.rc, 0);
    cr_assert_str_eq(sy_ymap_get(l.doc.root, "c")->str, "x\n\ty\n");
    unload(&l);
}

Test(yaml_tree, billion_laughs_fails_fast)
{
    const char *bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    double t0 = now_s();
    expect_error(bomb, 6, 0, "too many nodes after expanding aliases (limit 100000): alias bomb?");
    cr_assert_lt(now_s() - t0, 1.0, "alias bomb took too long");
}

Test(yaml_tree, aliases_expand)
{
    loaded l;
    load(&l, "base: &b {k: v, n: [1, 2]}\nuse: *b\nname: &s hello\ncopy: *s\n");
    cr_assert_eq(l.rc, 0);
    const sy_ynode *use = sy_ymap_get(l.doc.root, "use");
    cr_assert_eq(use->kind, SY_YMAP);
    cr_assert_str_eq(sy_ymap_get(use, "k")->str, "v");
    cr_assert_eq(sy_ymap_get(use, "n")->n_items, 2);
    const sy_ynode *copy = sy_ymap_get(l.doc.root, "copy");
    cr_assert_str_eq(copy->str, "hello");
    assert_at(copy, 4, 7); /* a scalar alias is placed where it is used */
    unload(&l);
}

Test(yaml_tree, bad_aliases)
{
    expect_error("a: *nowhere\n", 1, 4, "unknown anchor: *nowhere");
    expect_error("a: &x [1, *x]\n", 1, 11, "refers to a node that contains it");
    expect_error("a: &x {k: *x}\n", 1, 11, "refers to a node that contains it");
    expect_error("base: &b {k: v}\nuse:\n  <<: *b\n", 3, 3, "merge keys (<<) are not supported");
}

Test(yaml_tree, anchor_redefined_uses_latest)
{
    loaded l;
    load(&l, "a: &x 1\nb: &x 2\nc: *x\n");
    cr_assert_eq(l.rc, 0);
    cr_assert_str_eq(sy_ymap_get(l.doc.root, "c")->str, "2");
    unload(&l);
}

Test(yaml_tree, keys_must_be_plain_scalars)
{
    expect_error("? [a, b]\n: 1\n", 1, 3, "a mapping key must be a scalar, not a list");
    expect_error("{a: 1}: x\n", 1, 1, "a mapping key must be a scalar, not a mapping");
    expect_error("a: &m {k: 1}\n*m : 2\n", 2, 0, "not a mapping");
    expect_error("? \n: v\n", 1, 0, "a mapping key is empty");
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

Test(yaml_tree, nesting_limit)
{
    char *ok = nested(SY_YAML_MAX_DEPTH);
    loaded l;
    load(&l, ok);
    cr_assert_eq(l.rc, 0, "64 levels refused");
    unload(&l);
    free(ok);

    char *deep = nested(SY_YAML_MAX_DEPTH + 1);
    expect_error(deep, 1, SY_YAML_MAX_DEPTH + 1, "nesting is too deep (more than 64 levels)");
    free(deep);

    /* a megabyte of '[' stops at the limit, quickly */
    size_t n = SY_YAML_MAX_BYTES;
    char *huge = malloc(n + 1);
    memset(huge, '[', n);
    huge[n] = '\0';
    double t0 = now_s();
    expect_error(huge, 1, SY_YAML_MAX_DEPTH + 1, "nesting is too deep");
    cr_assert_lt(now_s() - t0, 1.0);
    free(huge);

    /* block nesting too */
    char block[8192];
    size_t o = 0;
    for (int i = 0; i < 70; i++) o += (size_t)sprintf(block + o, "%*sk%d:\n", i * 2, "", i);
    expect_error(block, 65, 0, "nesting is too deep");
}

Test(yaml_tree, node_limit_without_aliases)
{
    size_t items = SY_YAML_MAX_NODES + 10;
    char *text = malloc(items * 2 + 8);
    size_t o = 0;
    text[o++] = '[';
    for (size_t i = 0; i < items; i++) {
        text[o++] = '0';
        text[o++] = ',';
    }
    text[o - 1] = ']';
    text[o] = '\0';
    expect_error(text, 1, 0, "too many nodes (limit 100000)");
    free(text);
}

Test(yaml_tree, not_yaml)
{
    const char *bad[] = {"{{{", ": : :", "]]]", "key: [", "a: b: c", "a: \"open", "- a\nb: c\n",
                         "a:\n  b: 1\n c: 2\n", "&", "*", "!<>", "%YAML 9.9\n---\na: 1\n",
                         "a: @x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        loaded l;
        load(&l, bad[i]);
        cr_assert_eq(l.rc, -1, "accepted: %s", bad[i]);
        cr_assert_geq(l.d.n_errors, 1);
        cr_assert_gt(l.d.items[0].line, 0, "no place for: %s", bad[i]);
        cr_assert_gt(l.d.items[0].col, 0, "no column for: %s", bad[i]);
        unload(&l);
    }
    /* messages that explain */
    expect_error("a: \"open\n", 1, 4, "unterminated quoted string");
    expect_error("a: b: c\n", 1, 5, "must be quoted");
    expect_error("a: [1, 2\n", 1, 9, "did not find expected ',' or ']'");
    expect_error("a:\n  b: 1\n c: 2\n", 3, 2, "check the indentation");
    expect_error("a: @x\n", 1, 4, "cannot start with '@'");
}

Test(yaml_tree, binary_input)
{
    const char bin[] = "a: 1\n\x01\x02\x00\xff";
    loaded l;
    sy_diags_init(&l.d);
    l.rc = sy_ydoc_load_buffer(&l.doc, "t.yaml", bin, sizeof bin - 1, &l.d);
    cr_assert_eq(l.rc, -1);
    cr_assert(strstr(l.d.items[0].msg, "UTF-8"));
    cr_assert_eq(l.d.items[0].line, 2);
    cr_assert_eq(l.d.items[0].col, 1);
    unload(&l);
    expect_error("a: \xff\n", 1, 4, "invalid leading UTF-8 octet (byte 0xff)");
    expect_error("a: \"x\\0y\"\n", 1, 4, "NUL");
}

Test(yaml_tree, multiple_documents)
{
    expect_error("a: 1\n---\nb: 2\n", 2, 1, "a policy file must hold exactly one document");
    expect_error("--- \na: 1\n--- \n", 3, 1, "exactly one document");
}

Test(yaml_tree, oversized_buffer)
{
    size_t n = SY_YAML_MAX_BYTES + 1;
    char *text = malloc(n);
    memset(text, '#', n);
    loaded l;
    sy_diags_init(&l.d);
    l.rc = sy_ydoc_load_buffer(&l.doc, "t.yaml", text, n, &l.d);
    cr_assert_eq(l.rc, -1);
    cr_assert_eq(l.d.items[0].line, 0);
    cr_assert(strstr(l.d.items[0].msg, "1048577 bytes"), "%s", l.d.items[0].msg);
    cr_assert(strstr(l.d.items[0].msg, "limit is 1048576 bytes"), "%s", l.d.items[0].msg);
    unload(&l);
    free(text);
}

static char *temp_path(void)
{
    const char *dir = getenv("TMPDIR");
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/sy-yaml-XXXXXX", dir && *dir ? dir : "/tmp"), 0);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    return path;
}

Test(yaml_tree, ten_megabyte_file)
{
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    char line[64];
    size_t written = 0;
    for (int i = 0; written < 10u << 20; i++) {
        int n = snprintf(line, sizeof line, "key%d: %d\n", i, i);
        written += fwrite(line, 1, (size_t)n, f);
    }
    cr_assert_eq(fclose(f), 0);
    loaded l;
    sy_diags_init(&l.d);
    l.rc = sy_ydoc_load_file(&l.doc, path, &l.d);
    cr_assert_eq(l.rc, -1);
    cr_assert_eq(l.d.n_errors, 1);
    const sy_diag *g = &l.d.items[0];
    cr_assert_str_eq(g->file, path);
    cr_assert_eq(g->line, 0);
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", written);
    cr_assert(strstr(g->msg, want), "%s lacks %s", g->msg, want);
    cr_assert(strstr(g->msg, "the limit is 1048576 bytes"), "%s", g->msg);
    cr_assert_eq(l.d.n_sources, 0, "a refused file must not be read in");
    unload(&l);
    unlink(path);
    free(path);
}

Test(yaml_tree, load_file_places_and_errors)
{
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    fputs("a: 1\nb:\n  - x\n", f);
    fclose(f);
    loaded l;
    sy_diags_init(&l.d);
    l.rc = sy_ydoc_load_file(&l.doc, path, &l.d);
    cr_assert_eq(l.rc, 0);
    const sy_ynode *b = sy_ymap_get(l.doc.root, "b");
    cr_assert_eq(b->items[0]->loc.line, 3);
    cr_assert_eq(b->items[0]->loc.col, 5);
    cr_assert_str_eq(b->items[0]->loc.file, path);
    cr_assert_eq(l.d.n_sources, 1);
    unload(&l);
    unlink(path);

    sy_diags_init(&l.d);
    cr_assert_eq(sy_ydoc_load_file(&l.doc, path, &l.d), -1); /* now missing */
    cr_assert(strstr(l.d.items[0].msg, "cannot open"));
    cr_assert(strstr(l.d.items[0].msg, "No such file"));
    unload(&l);

    sy_diags_init(&l.d);
    const char *dir = getenv("TMPDIR");
    cr_assert_eq(sy_ydoc_load_file(&l.doc, dir && *dir ? dir : "/tmp", &l.d), -1);
    cr_assert(strstr(l.d.items[0].msg, "directory"));
    unload(&l);
    free(path);
}

Test(yaml_tree, printed_error_shows_the_line)
{
    loaded l;
    load(&l, "a: 1\nb:\n  c: 1\n  c: 2\n");
    cr_assert_eq(l.rc, -1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sy_diags_print(&l.d, f);
    fclose(f);
    cr_assert_str_eq(buf, "t.yaml:4:3: error: duplicate key \"c\" (first defined on line 3)\n"
                          "    4 |   c: 2\n"
                          "      |   ^\n");
    free(buf);
    unload(&l);
}

Test(yaml_tree, spec_example_parses)
{
    const char *spec = "version: 1\n"
        "server:\n"
        "  listen: 127.0.0.1:8080\n"
        "  client_keys: ${SWITCHYARD_CLIENT_KEYS}   # comment\n"
        "  max_body: 8MiB\n"
        "providers:\n"
        "  holysheep:\n"
        "    plugin: holysheep\n"
        "    endpoints:                             # tried by priority\n"
        "      - {name: cn-north, base_url: https://cn-north.holysheep.ai/v1, priority: 1}\n"
        "      - {name: us-west,  base_url: https://us-west.holysheep.ai/v1,  priority: 99}\n"
        "    health_check: {path: /models, interval: 30s, timeout: 5s}\n"
        "retry:\n"
        "  on: [connect_error, timeout, 408, 429, 500, 502, 503, 504]\n"
        "models:\n"
        "  fallbacks:\n"
        "    gpt-4.1: [gpt-4o, gpt-4o-mini, claude-sonnet-4.5]\n"
        "migration:\n"
        "  rollout:\n"
        "    sticky_by: [header:x-user-id, body:user]\n"
        "  rollback:\n"
        "    success_rate_below: 99.5%\n";
    loaded l;
    load(&l, spec);
    cr_assert_eq(l.rc, 0);
    const sy_ynode *server = sy_ymap_get(l.doc.root, "server");
    cr_assert_str_eq(sy_ymap_get(server, "client_keys")->str, "${SWITCHYARD_CLIENT_KEYS}");
    const sy_ynode *eps = sy_ymap_get(sy_ymap_get(sy_ymap_get(l.doc.root, "providers"),
                                                  "holysheep"), "endpoints");
    cr_assert_eq(eps->n_items, 2);
    const sy_ynode *url = sy_ymap_get(eps->items[1], "base_url");
    cr_assert_str_eq(url->str, "https://us-west.holysheep.ai/v1");
    assert_at(url, 11, 36);
    cr_assert_str_eq(sy_ymap_get(sy_ymap_get(sy_ymap_get(l.doc.root, "migration"), "rollback"),
                                 "success_rate_below")->str, "99.5%");
    unload(&l);
}

Test(yaml_tree, free_is_safe_after_failure_and_twice)
{
    loaded l;
    load(&l, "{{{");
    cr_assert_eq(l.rc, -1);
    sy_ydoc_free(&l.doc);
    sy_ydoc_free(&l.doc);
    sy_ydoc_free(NULL);
    sy_diags_free(&l.d);
}
