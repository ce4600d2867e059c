/*
 * cmd_validate.c - `switchyard validate POLICY...`: the dry run.
 *
 * Each file is loaded as `serve` would load it (every key, unit, range and
 * reference checked, every plugin loaded and its keys checked, instances
 * created and endpoints resolved) but nothing is bound and nothing is sent.
 * Diagnostics go to stderr, gcc style; a good policy gets one line on stdout
 * saying what was checked. Exit 0 when every file is valid, 1 when any is
 * not, 2 on bad usage.
 *
 * Hidden: `--list-keys` prints every key path the parser knows (and the keys
 * of the plugins found on the plugin path), one per line, sorted; the schema
 * test compares it with policies/switchyard.schema.json. `--describe-keys`
 * adds type, default and help, tab-separated (what docs/policy.md is written
 * from).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loader.h"
#include "policy.h"
#include "policy_keys.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: switchyard validate POLICY...\n"
                 "  Check each policy as `serve` would load it, bind nothing.\n"
                 "  Exit 0: all valid; 1: a policy is invalid; 2: usage error.\n");
}

/* ------------------------------------------------------------ --list-keys */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static void strv_add(strv *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) abort();
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(str);
    if (!s->v[s->n]) abort();
    s->n++;
}

typedef struct key_list {
    strv keys;
    int describe; /* "path<TAB>type<TAB>default<TAB>help" instead of the path alone */
} key_list;

static void add_key(key_list *l, const char *path, const char *type, const char *def,
                    const char *help)
{
    if (!l->describe) {
        strv_add(&l->keys, path);
        return;
    }
    char line[1024];
    snprintf(line, sizeof line, "%s\t%s\t%s\t%s", path, type, def ? def : "",
             help ? help : "");
    strv_add(&l->keys, line);
}

static void on_path(void *ctx, const char *path, const sy_pkey *k)
{
    add_key(ctx, path, sy_pk_type_name(k), k->def, k->help);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_plugin_keys(key_list *l, const sy_plugin *pl, const sy_config_key *keys,
                            const char *prefix)
{
    char path[256], help[700];
    for (const sy_config_key *k = keys; k && k->name; k++) {
        snprintf(path, sizeof path, "%s%s", prefix, k->name);
        snprintf(help, sizeof help, "(plugin %s%s) %s", pl->name, k->required ? ", required" : "",
                 k->help ? k->help : "");
        add_key(l, path, sy_config_type_name(k->type), k->default_value, help);
    }
}

static int list_keys(int describe)
{
    key_list l = {.describe = describe};
    sy_policy_walk_keys(on_path, &l);

    /* The plugins' own keys sit beside the core keys of a provider and of
     * an endpoint. */
    sy_plugin_registry reg;
    sy_plugin_registry_init(&reg, NULL, 0);
    sy_plugin_load_all(&reg, NULL, NULL);
    for (size_t i = 0; i < reg.n_loaded; i++) {
        const sy_plugin *pl = reg.loaded[i].desc;
        add_plugin_keys(&l, pl, pl->config_keys, "providers.*.");
        add_plugin_keys(&l, pl, pl->endpoint_keys, "providers.*.endpoints[].");
    }
    sy_plugin_registry_free(&reg);

    strv *keys = &l.keys;
    qsort(keys->v, keys->n, sizeof *keys->v, cmp_str);
    for (size_t i = 0; i < keys->n; i++) {
        if (i == 0 || strcmp(keys->v[i], keys->v[i - 1])) puts(keys->v[i]);
    }
    for (size_t i = 0; i < keys->n; i++) free(keys->v[i]);
    free(keys->v);
    return 0;
}

/* ---------------------------------------------------------------- summary */

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void print_ok(const char *file, const sy_policy *p, const sy_diags *d)
{
    /* Plugin names, sorted and unique. */
    const char *names[64];
    size_t nn = 0;
    for (size_t i = 0; i < p->n_providers && nn < 64; i++) {
        const char *pn = p->providers[i].plugin_name;
        int seen = 0;
        for (size_t j = 0; j < nn; j++) seen |= !strcmp(names[j], pn);
        if (!seen) names[nn++] = pn;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    char plugins[512] = "";
    for (size_t i = 0; i < nn; i++) {
        if (i) strncat(plugins, ", ", sizeof plugins - strlen(plugins) - 1);
        strncat(plugins, names[i], sizeof plugins - strlen(plugins) - 1);
    }
    char migration[300] = "";
    const sy_migration_conf *m = &p->migration;
    if (m->enabled)
        snprintf(migration, sizeof migration, "; canary %s at %g%% of users, stable %s",
                 p->providers[m->canary].name, m->percent, p->providers[m->stable].name);
    char warnings[64];
    if (d->n_warnings)
        snprintf(warnings, sizeof warnings, "%zu %s", d->n_warnings,
                 plural(d->n_warnings, "warning", "warnings"));
    else
        snprintf(warnings, sizeof warnings, "no warnings");
    printf("%s: ok (%zu %s, %zu %s, %zu fallback %s, plugins: %s%s; %s)\n", file, p->n_providers,
           plural(p->n_providers, "provider", "providers"), p->n_endpoints_total,
           plural(p->n_endpoints_total, "endpoint", "endpoints"), p->n_fallbacks,
           plural(p->n_fallbacks, "chain", "chains"), plugins, migration, warnings);
}

static int validate_one(const char *file)
{
    sy_diags d;
    sy_diags_init(&d);
    sy_plugin_registry reg;
    sy_plugin_registry_init(&reg, NULL, 0);
    sy_policy *p = sy_policy_load(file, SY_LOAD_VALIDATE, &reg, &d);
    int ok = p != NULL;
    fflush(stdout);
    sy_diags_print(&d, stderr);
    if (p) {
        print_ok(file, p, &d);
    } else {
        fprintf(stderr, "%s: invalid (%zu %s, %zu %s)\n", file, d.n_errors,
                plural(d.n_errors, "error", "errors"), d.n_warnings,
                plural(d.n_warnings, "warning", "warnings"));
    }
    fflush(stdout);
    fflush(stderr);
    /* The policy first: its plugin instances run code from the registry. */
    sy_policy_unref(p);
    sy_plugin_registry_free(&reg);
    sy_diags_free(&d);
    return ok ? 0 : 1;
}

int cmd_validate(int argc, char **argv)
{
    int want_keys = 0, describe = 0, end_of_options = 0;
    size_t n_files = 0;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!end_of_options && !strcmp(a, "--")) {
            end_of_options = 1;
        } else if (!end_of_options && !strcmp(a, "--list-keys")) {
            want_keys = 1;
        } else if (!end_of_options && !strcmp(a, "--describe-keys")) {
            want_keys = describe = 1;
        } else if (!end_of_options && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!end_of_options && a[0] == '-' && a[1]) {
            fprintf(stderr, "switchyard validate: unknown option '%s'\n", a);
            usage(stderr);
            free(files);
            return 2;
        } else {
            files[n_files++] = a;
        }
    }
    if (want_keys) {
        free(files);
        return list_keys(describe);
    }
    if (n_files == 0) {
        fprintf(stderr, "switchyard validate: no policy file given\n");
        usage(stderr);
        free(files);
        return 2;
    }
    /* Diagnostics come in bursts of short writes: buffer them (each file's
     * are flushed before its summary line). */
    static char errbuf[1 << 16];
    setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
    int rc = 0;
    for (size_t i = 0; i < n_files; i++)
        if (validate_one(files[i]) != 0) rc = 1;
    fflush(stderr);
    free(files);
    return rc;
}
