/*
 * fuzz_policy.c - libFuzzer harness for the policy loader.
 *
 * Each input goes through the whole loader (sy_policy_load_buffer, dry-run
 * mode, no plugin registry), and first through the YAML reader alone, whose
 * tree is checked: every node has a place, keys are scalars, the walk over
 * the (alias-shared) tree stays within the limits. Diagnostics are printed
 * to /dev/null so the source-line and caret code runs on every input too.
 * Run it with scripts/fuzz.sh; replay.c runs the seed corpus in the tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "policy.h"
#include "yaml_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink(void)
{
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

#define CHECK(c)                                                                               \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            fprintf(stderr, "fuzz_policy: check failed: %s (line %d)\n", #c, __LINE__);        \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

static void check_loc(const sy_ynode *n, const char *file)
{
    CHECK(n->loc.file == file);
    CHECK(n->loc.line >= 1 && n->loc.col >= 1);
}

/* Visits every node as a reader would (aliases expanded); returns the count. */
static size_t walk(const sy_ynode *n, const char *file, int depth)
{
    /* depth counts collections from 1; a scalar sits one level below its own */
    CHECK(depth <= SY_YAML_MAX_DEPTH + (n->kind == SY_YSCALAR));
    check_loc(n, file);
    size_t count = 1;
    switch (n->kind) {
    case SY_YSCALAR:
        CHECK(n->str != NULL && n->str[n->len] == '\0' && strlen(n->str) == n->len);
        CHECK(!n->pairs && !n->items);
        break;
    case SY_YMAP:
        for (size_t i = 0; i < n->n_pairs; i++) {
            const sy_ynode *k = n->pairs[i].key;
            CHECK(k->kind == SY_YSCALAR);
            if (n->n_pairs <= 16) CHECK(sy_ymap_pair(n, k->str) == &n->pairs[i]);
            count += walk(k, file, depth + 1) + walk(n->pairs[i].value, file, depth + 1);
        }
        break;
    case SY_YSEQ:
        for (size_t i = 0; i < n->n_items; i++) count += walk(n->items[i], file, depth + 1);
        break;
    default:
        CHECK(0);
    }
    return count;
}

static void fuzz_yaml(const uint8_t *data, size_t size)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_ydoc doc;
    int rc = sy_ydoc_load_buffer(&doc, "fuzz.yaml", (const char *)data, size, &d);
    if (rc == 0) {
        CHECK(d.n_errors == 0);
        if (doc.root) CHECK(walk(doc.root, doc.file, 1) <= SY_YAML_MAX_NODES);
    } else {
        CHECK(d.n_errors > 0);
        CHECK(doc.root == NULL);
    }
    for (size_t i = 0; i < d.n; i++) CHECK(d.items[i].line == 0 || d.items[i].col >= 1);
    if (sink()) sy_diags_print(&d, sink());
    sy_ydoc_free(&doc);
    sy_diags_free(&d);
}

static void fuzz_policy(const uint8_t *data, size_t size)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("fuzz.yaml", (const char *)data, size, SY_LOAD_VALIDATE,
                                         NULL, &d);
    CHECK((p == NULL) == (d.n_errors > 0));
    for (size_t i = 0; i < d.n; i++) CHECK(d.items[i].line == 0 || d.items[i].col >= 1);
    if (sink()) sy_diags_print(&d, sink());
    if (p) sy_policy_unref(p);
    sy_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_yaml(data, size);
    fuzz_policy(data, size);
    return 0;
}
