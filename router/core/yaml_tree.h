/*
 * yaml_tree.h - a YAML document as a tree whose every node keeps its file,
 * line and column, so checks made after parsing still point at the source.
 *
 * Built with libyaml's event parser. Guards: file size, nesting depth and
 * the total node count (aliases are expanded, so the node limit is what
 * stops an alias bomb). Duplicate mapping keys are errors.
 */
#ifndef SY_YAML_TREE_H
#define SY_YAML_TREE_H

#include <stddef.h>
#include "diag.h"

#define SY_YAML_MAX_BYTES (1u << 20)  /* 1 MiB of policy text */
#define SY_YAML_MAX_DEPTH 64
#define SY_YAML_MAX_NODES 100000      /* after alias expansion */

typedef enum sy_ynode_kind { SY_YSCALAR, SY_YMAP, SY_YSEQ } sy_ynode_kind;

typedef struct sy_ynode sy_ynode;
typedef struct sy_ypair {
    sy_ynode *key; /* always a scalar */
    sy_ynode *value;
} sy_ypair;

struct sy_ynode {
    sy_ynode_kind kind;
    sy_loc loc;       /* 1-based; loc.file points at the document's file name */
    /* SY_YSCALAR */
    char *str;        /* NUL-terminated value as written (no ${VAR} expansion) */
    size_t len;
    int quoted;       /* 1 when single- or double-quoted in the source */
    int is_null;      /* plain "", "~" or "null" */
    /* SY_YMAP */
    sy_ypair *pairs;
    size_t n_pairs;
    /* SY_YSEQ */
    sy_ynode **items;
    size_t n_items;
};

typedef struct sy_ydoc {
    char *file;       /* owned */
    sy_ynode *root;   /* NULL for an empty document */
    void *arena;      /* all nodes live here; freed with the doc */
} sy_ydoc;

/* Load a file. Returns 0 and fills doc when the YAML is well formed; on any
 * problem adds diagnostics (with place) and returns -1. The text is also
 * registered with d for caret printing. On failure doc is left empty, so
 * sy_ydoc_free on it is harmless. An empty text (or only comments, or a bare
 * "---") gives root == NULL and returns 0.
 * Aliases are expanded by sharing: an alias to a mapping or list IS its
 * anchored node (the tree is then a DAG: never modify nodes), an alias to a
 * scalar is a copy placed at the alias. Merge keys (<<) are refused.
 * sy_ydoc_load_file refuses a file over SY_YAML_MAX_BYTES by its size, before
 * reading it. */
int sy_ydoc_load_file(sy_ydoc *doc, const char *path, sy_diags *d);
int sy_ydoc_load_buffer(sy_ydoc *doc, const char *name, const char *text, size_t len,
                        sy_diags *d);
void sy_ydoc_free(sy_ydoc *doc);

/* The value for key in a mapping node, or NULL. */
const sy_ynode *sy_ymap_get(const sy_ynode *map, const char *key);
const sy_ypair *sy_ymap_pair(const sy_ynode *map, const char *key);
const char *sy_ynode_kind_name(sy_ynode_kind k); /* "a scalar", "a mapping", "a list" */

#endif
