/*
 * yaml2json.c - print a YAML file as JSON, with YAML 1.2 core-schema typing
 * of plain scalars (null, true/false, integers, floats; the rest strings).
 * The schema test (test_schema.py) checks the shipped policies against
 * policies/switchyard.schema.json with it, as an editor would see them.
 * Exit 1 when the file is not YAML.
 */
#include <cjson/cJSON.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

static int matches(const char *re, const char *s)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0) return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static cJSON *convert(const sy_ynode *n)
{
    if (!n) return cJSON_CreateNull();
    switch (n->kind) {
    case SY_YMAP: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < n->n_pairs; i++)
            cJSON_AddItemToObject(o, n->pairs[i].key->str, convert(n->pairs[i].value));
        return o;
    }
    case SY_YSEQ: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n->n_items; i++) cJSON_AddItemToArray(a, convert(n->items[i]));
        return a;
    }
    case SY_YSCALAR:
        break;
    }
    const char *s = n->str ? n->str : "";
    if (n->quoted) return cJSON_CreateString(s);
    if (n->is_null) return cJSON_CreateNull();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return cJSON_CreateTrue();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return cJSON_CreateFalse();
    if (matches("^[-+]?[0-9]+$", s) ||
        matches("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", s))
        return cJSON_CreateNumber(strtod(s, NULL));
    return cJSON_CreateString(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: policy-yaml2json FILE.yaml\n");
        return 2;
    }
    sy_diags d;
    sy_diags_init(&d);
    sy_ydoc doc;
    int rc = 1;
    if (sy_ydoc_load_file(&doc, argv[1], &d) == 0) {
        cJSON *j = convert(doc.root);
        char *out = cJSON_PrintUnformatted(j);
        puts(out);
        free(out);
        cJSON_Delete(j);
        sy_ydoc_free(&doc);
        rc = 0;
    } else {
        sy_diags_print(&d, stderr);
    }
    sy_diags_free(&d);
    return rc;
}
