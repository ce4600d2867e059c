/* helpers.c - see helpers.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

void tl_load(tload *t, const char *yaml, sy_load_mode mode, int with_plugins)
{
    memset(t, 0, sizeof *t);
    sy_diags_init(&t->d);
    if (with_plugins) {
        sy_plugin_registry_init(&t->reg, NULL, 0);
        t->has_reg = 1;
    }
    t->p = sy_policy_load_buffer("test.yaml", yaml, strlen(yaml), mode,
                                 with_plugins ? &t->reg : NULL, &t->d);
}

void tl_free(tload *t)
{
    sy_policy_unref(t->p); /* before the registry: instances run plugin code */
    t->p = NULL;
    if (t->has_reg) sy_plugin_registry_free(&t->reg);
    sy_diags_free(&t->d);
}

char *tl_printed(const sy_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    sy_diags_print(d, f);
    fclose(f);
    return buf;
}

const sy_diag *tl_find(const sy_diags *d, sy_diag_level level, const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        const sy_diag *g = &d->items[i];
        if (g->level != level) continue;
        if (!needle || strstr(g->msg, needle)) return g;
    }
    return NULL;
}
