/*
 * cmd_plugins.c - `switchyard plugins [--path DIR]...`: list every plugin
 * found in the search directories with its ABI version and the config keys
 * it accepts, and every sy_*.so that failed to load with the reason.
 *
 * Exit 0 when at least one plugin loaded, 1 when none did, 2 on bad usage.
 * --path (repeatable, or colon-separated) replaces the search directories,
 * SWITCHYARD_PLUGIN_PATH included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loader.h"

typedef struct failure {
    char *path;
    char *err;
} failure;

typedef struct failures {
    failure *items;
    size_t n;
} failures;

static void on_failure(void *ctx, const char *path, const char *err)
{
    failures *f = ctx;
    failure *items = realloc(f->items, (f->n + 1) * sizeof *items);
    if (!items) return;
    f->items = items;
    f->items[f->n].path = strdup(path);
    f->items[f->n].err = strdup(err);
    if (f->items[f->n].path && f->items[f->n].err) f->n++;
    else {
        free(f->items[f->n].path);
        free(f->items[f->n].err);
    }
}

static void print_keys(FILE *out, const char *title, const sy_config_key *keys)
{
    if (!keys || !keys[0].name) {
        fprintf(out, "  %s: none\n", title);
        return;
    }
    fprintf(out, "  %s:\n", title);
    for (const sy_config_key *k = keys; k->name; k++) {
        fprintf(out, "    %s (%s", k->name, sy_config_type_name(k->type));
        if (k->required) fputs(", required", out);
        else if (k->default_value && k->type == SY_CFG_STRING)
            fprintf(out, ", default \"%s\"", k->default_value);
        else if (k->default_value)
            fprintf(out, ", default %s", k->default_value);
        else
            fputs(", optional", out);
        fputs(")\n", out);
        if (k->help && *k->help) fprintf(out, "        %s\n", k->help);
    }
}

static void usage(FILE *out)
{
    fputs("usage: switchyard plugins [--path DIR]...\n"
          "  list the plugins found, their ABI version and the config keys each accepts;\n"
          "  --path replaces the search directories (repeatable, or DIR:DIR)\n",
          out);
}

int cmd_plugins(int argc, char **argv)
{
    char **dirs = NULL;
    size_t n_dirs = 0;
    int rc = 2;
    failures fails = {0};
    sy_plugin_registry reg;
    int have_reg = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--path")) {
            if (i + 1 >= argc) {
                fputs("switchyard plugins: --path needs a directory\n", stderr);
                usage(stderr);
                goto out;
            }
            val = argv[++i];
        } else if (!strncmp(a, "--path=", 7)) {
            val = a + 7;
        } else {
            fprintf(stderr, "switchyard plugins: unknown argument '%s'\n", a);
            usage(stderr);
            goto out;
        }
        /* Each --path value may itself be a colon-separated list. */
        for (const char *p = val;;) {
            const char *c = strchr(p, ':');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            if (len) {
                char **nd = realloc(dirs, (n_dirs + 1) * sizeof *nd);
                char *d = strndup(p, len);
                if (!nd || !d) {
                    free(d);
                    free(nd ? nd : dirs);
                    dirs = NULL;
                    n_dirs = 0;
                    fputs("switchyard plugins: out of memory\n", stderr);
                    rc = 1;
                    goto out;
                }
                dirs = nd;
                dirs[n_dirs++] = d;
            }
            if (!c) break;
            p = c + 1;
        }
    }

    if (n_dirs) sy_plugin_registry_init_dirs(&reg, dirs, n_dirs);
    else sy_plugin_registry_init(&reg, NULL, 0);
    have_reg = 1;

    printf("plugin directories (from %s):\n", reg.dirs_from ? reg.dirs_from : "defaults");
    for (size_t i = 0; i < reg.n_dirs; i++) printf("  %s\n", reg.dirs[i]);
    printf("this switchyard speaks plugin ABI %d.%d\n", SY_PLUGIN_ABI_MAJOR, SY_PLUGIN_ABI_MINOR);

    size_t loaded = sy_plugin_load_all(&reg, on_failure, &fails);
    for (size_t i = 0; i < reg.n_loaded; i++) {
        const sy_loaded_plugin *lp = &reg.loaded[i];
        const sy_plugin *p = lp->desc;
        printf("\n%s %s (plugin ABI %u.%u)\n", p->name, p->version, p->abi_major, p->abi_minor);
        if (p->description && *p->description) printf("  %s\n", p->description);
        printf("  file: %s\n", lp->path);
        if (p->local_reply) printf("  answers locally (no upstream)\n");
        print_keys(stdout, "provider keys", p->config_keys);
        print_keys(stdout, "endpoint keys", p->endpoint_keys);
    }
    if (fails.n) {
        printf("\nnot loaded:\n");
        for (size_t i = 0; i < fails.n; i++) printf("  %s\n", fails.items[i].err);
    }
    if (loaded == 0) {
        fprintf(stderr, "switchyard plugins: no plugin could be loaded from %s\n",
                reg.n_dirs == 1 ? reg.dirs[0] : "the plugin directories");
        rc = 1;
    } else {
        rc = 0;
    }

out:
    if (have_reg) sy_plugin_registry_free(&reg);
    for (size_t i = 0; i < fails.n; i++) {
        free(fails.items[i].path);
        free(fails.items[i].err);
    }
    free(fails.items);
    for (size_t i = 0; i < n_dirs; i++) free(dirs[i]);
    free(dirs);
    return rc;
}
