/*
 * loader.c - find, dlopen and check provider plugins (rules in loader.h).
 *
 * Every failure becomes one message that names the file, and every failure
 * path closes the handle. The descriptor's version fields are read first and
 * nothing past them is touched until they check out; no plugin callback is
 * called here (ELF constructors are the one thing dlopen runs, which is why
 * plugins must not have any).
 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "units.h"

#ifndef SY_BUILD_PLUGIN_DIR
#define SY_BUILD_PLUGIN_DIR ""
#endif
#ifndef SY_INSTALL_PLUGIN_DIR
#define SY_INSTALL_PLUGIN_DIR "/usr/local/lib/switchyard"
#endif

/* The descriptor size of each minor of ABI 1. When a field is added (minor
 * N+1), the entry for N becomes offsetof(sy_plugin, new_field) and the new
 * entry is sizeof(sy_plugin): a plugin built for an older minor is then read
 * only up to its own size. */
static const size_t desc_size_for_minor[SY_PLUGIN_ABI_MINOR + 1] = {
    [0] = offsetof(sy_plugin, health_request), /* 1.1 added a host service, not a field */
    [1] = offsetof(sy_plugin, health_request),
    [2] = offsetof(sy_plugin, ops),            /* 1.2 added health_request */
    [3] = sizeof(sy_plugin),                   /* 1.3 added ops (the Responses API) */
    [4] = sizeof(sy_plugin),                   /* 1.4 added sy_request.body_checked */
    [5] = sizeof(sy_plugin),                   /* 1.5 added sy_request.body_spans_known and
                                                * the model / stream_options value spans */
};

sy_plugin_health_fn sy_plugin_health_request(const sy_plugin *p)
{
    /* A 1.0 or 1.1 descriptor ends before the field: never read past it. */
    if (!p || p->abi_minor < 2 ||
        p->size < offsetof(sy_plugin, health_request) + sizeof p->health_request)
        return NULL;
    return p->health_request;
}

/* Keys the host itself reads at the provider and endpoint level of a policy;
 * a plugin may not declare them. */
static const char *const reserved_provider_keys[] = {"plugin",       "endpoints", "balance",
                                                     "health_check", "prices",    NULL};
static const char *const reserved_endpoint_keys[] = {"name", "base_url", "priority", NULL};

/* More keys than this in one array means the NULL-name terminator is missing. */
#define MAX_CONFIG_KEYS 128

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    return d;
}

/* ------------------------------------------------------------ config types */

const char *sy_config_type_name(sy_config_type t)
{
    switch (t) {
    case SY_CFG_STRING: return "string";
    case SY_CFG_SECRET: return "secret";
    case SY_CFG_INT: return "int";
    case SY_CFG_NUMBER: return "number";
    case SY_CFG_BOOL: return "bool";
    case SY_CFG_DURATION: return "duration";
    case SY_CFG_PERCENT: return "percent";
    case SY_CFG_URL: return "url";
    }
    return "unknown";
}

static int url_ok(const char *s)
{
    const char *rest = NULL;
    if (!strncmp(s, "http://", 7)) rest = s + 7;
    else if (!strncmp(s, "https://", 8)) rest = s + 8;
    if (!rest || !*rest || *rest == '/') return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return 0;
    return 1;
}

int sy_config_value_parse(sy_config_type t, const char *text, sy_config_value *out,
                          const char **why)
{
    sy_config_value v = {.set = 1, .s = text};
    const char *w = NULL;
    int rc = 0;
    if (!text) {
        if (why) *why = "no value";
        return -1;
    }
    switch (t) {
    case SY_CFG_STRING:
    case SY_CFG_SECRET:
        break;
    case SY_CFG_URL:
        if (!url_ok(text)) {
            w = "not an absolute http:// or https:// URL";
            rc = -1;
        }
        break;
    case SY_CFG_INT: rc = sy_parse_int(text, &v.i, &w); break;
    case SY_CFG_NUMBER: rc = sy_parse_number(text, &v.d, &w); break;
    case SY_CFG_PERCENT: rc = sy_parse_percent(text, &v.d, &w); break;
    case SY_CFG_DURATION: rc = sy_parse_duration_ms(text, &v.i, &w); break;
    case SY_CFG_BOOL: {
        int b = 0;
        rc = sy_parse_bool(text, &b, &w);
        v.i = b;
        break;
    }
    default:
        w = "unknown type";
        rc = -1;
    }
    if (rc != 0) {
        if (why) *why = w ? w : "bad value";
        return -1;
    }
    if (out) *out = v;
    return 0;
}

/* -------------------------------------------------------------- the checks */

static int key_name_ok(const char *s)
{
    if (!*s || strlen(s) > 64) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return 0;
    return 1;
}

static int name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return 0;
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static int check_keys(const sy_config_key *keys, const char *which,
                      const char *const *reserved, char *err, size_t errlen)
{
    if (!keys) return 0;
    size_t n = 0;
    for (; keys[n].name; n++) {
        const sy_config_key *k = &keys[n];
        if (n >= MAX_CONFIG_KEYS) {
            set_err(err, errlen, "more than %d %s keys: is the list missing its {NULL} end?",
                    MAX_CONFIG_KEYS, which);
            return -1;
        }
        if (!key_name_ok(k->name)) {
            set_err(err, errlen,
                    "%s key #%zu has a bad name (use 1-64 of a-z, 0-9 and '_')", which, n + 1);
            return -1;
        }
        if (k->type < SY_CFG_STRING || k->type > SY_CFG_URL) {
            set_err(err, errlen, "%s key '%s' has type %d, which is not a known type", which,
                    k->name, (int)k->type);
            return -1;
        }
        if (in_list(k->name, reserved)) {
            set_err(err, errlen, "%s key '%s' is reserved by switchyard", which, k->name);
            return -1;
        }
        for (size_t j = 0; j < n; j++) {
            if (!strcmp(keys[j].name, k->name)) {
                set_err(err, errlen, "%s key '%s' is declared twice", which, k->name);
                return -1;
            }
        }
        if (k->default_value) {
            const char *why = NULL;
            if (k->required) {
                set_err(err, errlen, "%s key '%s' is required and also has a default", which,
                        k->name);
                return -1;
            }
            if (k->type == SY_CFG_SECRET) {
                set_err(err, errlen, "%s key '%s' is a secret and may not have a default",
                        which, k->name);
                return -1;
            }
            if (sy_config_value_parse(k->type, k->default_value, NULL, &why) != 0) {
                set_err(err, errlen, "%s key '%s': default \"%s\" is not a valid %s: %s", which,
                        k->name, k->default_value, sy_config_type_name(k->type), why);
                return -1;
            }
        }
    }
    return 0;
}

int sy_plugin_check(const sy_plugin *p, char *err, size_t errlen)
{
    if (!p) {
        set_err(err, errlen, "no descriptor");
        return -1;
    }
    /* Version fields first: they protect the rest. */
    if (p->abi_major != SY_PLUGIN_ABI_MAJOR) {
        set_err(err, errlen, "built for plugin ABI %u.x, this switchyard speaks %d.%d",
                p->abi_major, SY_PLUGIN_ABI_MAJOR, SY_PLUGIN_ABI_MINOR);
        return -1;
    }
    if (p->abi_minor > SY_PLUGIN_ABI_MINOR) {
        set_err(err, errlen,
                "built for plugin ABI %u.%u, newer than this switchyard's %d.%d "
                "(upgrade switchyard or rebuild the plugin against this header)",
                p->abi_major, p->abi_minor, SY_PLUGIN_ABI_MAJOR, SY_PLUGIN_ABI_MINOR);
        return -1;
    }
    size_t need = desc_size_for_minor[p->abi_minor];
    if (p->size < need) {
        set_err(err, errlen,
                "descriptor is %u bytes, plugin ABI %u.%u needs %zu "
                "(start it with SY_PLUGIN_HEADER)",
                p->size, p->abi_major, p->abi_minor, need);
        return -1;
    }
    /* From here on every field of ABI 1.0 is there to read. */
    if (!name_ok(p->name)) {
        set_err(err, errlen, "descriptor has %s name (use 1-64 letters, digits, '_' and '-')",
                p->name ? "a bad" : "no");
        return -1;
    }
    if (!p->version) {
        set_err(err, errlen, "plugin '%s' has no version", p->name);
        return -1;
    }
    if (!p->create || !p->destroy) {
        set_err(err, errlen, "plugin '%s' has no %s callback (required)", p->name,
                !p->create ? "create" : "destroy");
        return -1;
    }
    if (!p->local_reply && (!p->build_request || !p->parse_response)) {
        set_err(err, errlen,
                "plugin '%s' has no %s callback (required unless local_reply is set)", p->name,
                !p->build_request ? "build_request" : "parse_response");
        return -1;
    }
    char kerr[384];
    if (check_keys(p->config_keys, "config", reserved_provider_keys, kerr, sizeof kerr) != 0 ||
        check_keys(p->endpoint_keys, "endpoint", reserved_endpoint_keys, kerr,
                   sizeof kerr) != 0) {
        set_err(err, errlen, "plugin '%s': bad declaration: %s", p->name, kerr);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- registry */

static void free_dirs(sy_plugin_registry *r)
{
    for (size_t i = 0; i < r->n_dirs; i++) free(r->dirs[i]);
    free(r->dirs);
    r->dirs = NULL;
    r->n_dirs = 0;
}

static void add_dir(sy_plugin_registry *r, const char *d, size_t len)
{
    if (len == 0) return; /* "a::b" and a trailing ':' add nothing */
    char **nd = realloc(r->dirs, (r->n_dirs + 1) * sizeof *nd);
    char *copy = strndup(d, len);
    if (!nd || !copy) {
        fputs("switchyard: out of memory\n", stderr);
        abort();
    }
    /* Strip trailing slashes (but keep "/"), so messages read cleanly. */
    while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
    nd[r->n_dirs++] = copy;
    r->dirs = nd;
}

/* 1 when this executable lives under the build tree (the folder above the
 * build plugin dir), so a freshly built switchyard finds freshly built plugins. */
static int running_from_build_tree(void)
{
    const char *bp = SY_BUILD_PLUGIN_DIR;
    if (!*bp) return 0;
    char root[PATH_MAX], rroot[PATH_MAX], exe[PATH_MAX];
    snprintf(root, sizeof root, "%s", bp);
    char *slash = strrchr(root, '/');
    if (!slash || slash == root) return 0;
    *slash = '\0';
    if (!realpath(root, rroot)) return 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    size_t rl = strlen(rroot);
    return strncmp(exe, rroot, rl) == 0 && exe[rl] == '/';
}

static void choose_dirs(sy_plugin_registry *r, char *const *policy_dirs, size_t n)
{
    free_dirs(r);
    const char *env = getenv("SWITCHYARD_PLUGIN_PATH");
    if (env && *env) {
        for (const char *p = env;;) {
            const char *c = strchr(p, ':');
            add_dir(r, p, c ? (size_t)(c - p) : strlen(p));
            if (!c) break;
            p = c + 1;
        }
        if (r->n_dirs) {
            r->dirs_from = "SWITCHYARD_PLUGIN_PATH";
            return;
        }
    }
    if (policy_dirs && n) {
        for (size_t i = 0; i < n; i++)
            if (policy_dirs[i]) add_dir(r, policy_dirs[i], strlen(policy_dirs[i]));
        if (r->n_dirs) {
            r->dirs_from = "plugins.path";
            return;
        }
    }
    if (running_from_build_tree()) {
        add_dir(r, SY_BUILD_PLUGIN_DIR, strlen(SY_BUILD_PLUGIN_DIR));
        r->dirs_from = "the build tree";
    } else {
        add_dir(r, SY_INSTALL_PLUGIN_DIR, strlen(SY_INSTALL_PLUGIN_DIR));
        r->dirs_from = "the install directory";
    }
}

void sy_plugin_registry_init(sy_plugin_registry *r, char *const *policy_dirs, size_t n)
{
    memset(r, 0, sizeof *r);
    choose_dirs(r, policy_dirs, n);
}

void sy_plugin_registry_init_dirs(sy_plugin_registry *r, char *const *dirs, size_t n)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++)
        if (dirs[i]) add_dir(r, dirs[i], strlen(dirs[i]));
    r->dirs_from = "the command line";
}

void sy_plugin_registry_set_dirs(sy_plugin_registry *r, char *const *policy_dirs, size_t n)
{
    choose_dirs(r, policy_dirs, n);
}

void sy_plugin_registry_free(sy_plugin_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_loaded; i++) {
        if (r->loaded[i].handle) dlclose(r->loaded[i].handle);
        free(r->loaded[i].name);
        free(r->loaded[i].path);
    }
    free(r->loaded);
    free_dirs(r);
    memset(r, 0, sizeof *r);
}

static const sy_loaded_plugin *find_loaded_name(const sy_plugin_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n_loaded; i++)
        if (!strcmp(r->loaded[i].name, name)) return &r->loaded[i];
    return NULL;
}

static const sy_loaded_plugin *find_loaded_path(const sy_plugin_registry *r, const char *path)
{
    for (size_t i = 0; i < r->n_loaded; i++)
        if (!strcmp(r->loaded[i].path, path)) return &r->loaded[i];
    return NULL;
}

/* The NAME of ".../sy_NAME.so" (into buf), or NULL when the file is not named so. */
static const char *name_from_file(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len <= 6 || strncmp(base, "sy_", 3) != 0 || strcmp(base + len - 3, ".so") != 0)
        return NULL;
    if (len - 6 >= cap) return NULL;
    memcpy(buf, base + 3, len - 6);
    buf[len - 6] = '\0';
    return buf;
}

/* dlerror() starts with the path we gave it; keep what follows. */
static const char *dl_summary(const char *msg, const char *path)
{
    if (!msg) return "unknown error";
    size_t pl = strlen(path);
    if (!strncmp(msg, path, pl) && !strncmp(msg + pl, ": ", 2)) return msg + pl + 2;
    return msg;
}

static int looks_not_elf(const char *why)
{
    static const char *const marks[] = {"invalid ELF header", "file too short",
                                        "not an ELF", "ELF file", "ELFCLASS",
                                        "only ET_DYN and ET_EXEC", "ELF load command",
                                        NULL};
    for (size_t i = 0; marks[i]; i++)
        if (strstr(why, marks[i])) return 1;
    return 0;
}

/* The ELF symbol's own size, when the dynamic linker can tell (0 otherwise). */
static size_t symbol_size(const void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) return 0;
    if (info.dli_saddr != addr) return 0;
    return (size_t)sym->st_size;
}

static void name_mismatch(char *err, size_t errlen, const char *path, const char *has,
                          const char *want)
{
    set_err(err, errlen, "%s: descriptor names plugin '%s', but the file is named for '%s'", path,
            has, want);
}

const sy_plugin *sy_plugin_load_path(sy_plugin_registry *r, const char *path, char *err,
                                     size_t errlen)
{
    char real[PATH_MAX];
    struct stat st;
    void *h = NULL;
    const sy_plugin *desc = NULL;
    char why[512];

    if (!path || !*path) {
        set_err(err, errlen, "empty plugin path");
        return NULL;
    }
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a shared object (not a regular file)", path);
        return NULL;
    }
    if (!realpath(path, real)) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* The name the file was asked for by: the path's own (a symlink's name,
     * not its target's), else the target's. */
    char fname[128];
    const char *expect = name_from_file(path, fname, sizeof fname);
    if (!expect) expect = name_from_file(real, fname, sizeof fname);

    const sy_loaded_plugin *have = find_loaded_path(r, real);
    if (have) {
        if (expect && strcmp(expect, have->desc->name) != 0) {
            name_mismatch(err, errlen, path, have->desc->name, expect);
            return NULL;
        }
        return have->desc;
    }

    dlerror();
    h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *s = dl_summary(dlerror(), real);
        if (looks_not_elf(s))
            set_err(err, errlen, "%s: not a shared object (%s)", path, s);
        else
            set_err(err, errlen, "%s: cannot be loaded: %s", path, s);
        return NULL;
    }
    dlerror();
    desc = dlsym(h, SY_PLUGIN_SYMBOL);
    if (!desc) {
        set_err(err, errlen,
                "%s: not a switchyard plugin: no '%s' descriptor symbol "
                "(export it with SY_PLUGIN_EXPORT)",
                path, SY_PLUGIN_SYMBOL);
        goto fail;
    }
    /* Before reading even the version fields, make sure the symbol is big
     * enough to hold them (a stray int named switchyard_plugin is not). */
    size_t ssz = symbol_size(desc);
    if (ssz != 0 && ssz < 3 * sizeof(uint32_t)) {
        set_err(err, errlen, "%s: '%s' is %zu bytes, too small to be a plugin descriptor",
                path, SY_PLUGIN_SYMBOL, ssz);
        goto fail;
    }
    if (ssz != 0 && desc->abi_major == SY_PLUGIN_ABI_MAJOR &&
        desc->abi_minor <= SY_PLUGIN_ABI_MINOR && ssz < desc->size) {
        set_err(err, errlen, "%s: descriptor claims %u bytes but the symbol has %zu", path,
                desc->size, ssz);
        goto fail;
    }
    if (sy_plugin_check(desc, why, sizeof why) != 0) {
        set_err(err, errlen, "%s: %s", path, why);
        goto fail;
    }
    if (expect && strcmp(expect, desc->name) != 0) {
        name_mismatch(err, errlen, path, desc->name, expect);
        goto fail;
    }
    have = find_loaded_name(r, desc->name);
    if (have) {
        set_err(err, errlen, "%s: a plugin named '%s' is already loaded from %s", path,
                desc->name, have->path);
        goto fail;
    }

    if (r->n_loaded == r->cap_loaded) {
        size_t cap = r->cap_loaded ? r->cap_loaded * 2 : 8;
        sy_loaded_plugin *nl = realloc(r->loaded, cap * sizeof *nl);
        if (!nl) {
            set_err(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        r->loaded = nl;
        r->cap_loaded = cap;
    }
    r->loaded[r->n_loaded++] = (sy_loaded_plugin){
        .name = xstrdup(desc->name), .path = xstrdup(real), .handle = h, .desc = desc};
    return desc;

fail:
    dlclose(h);
    return NULL;
}

const sy_plugin *sy_plugin_load(sy_plugin_registry *r, const char *name, char *err,
                                size_t errlen)
{
    if (!name_ok(name)) {
        set_err(err, errlen, "bad plugin name '%s' (use letters, digits, '_' and '-')",
                name ? name : "");
        return NULL;
    }
    const sy_loaded_plugin *have = find_loaded_name(r, name);
    if (have) return have->desc;

    char path[PATH_MAX];
    for (size_t i = 0; i < r->n_dirs; i++) {
        int n = snprintf(path, sizeof path, "%s/sy_%s.so", r->dirs[i], name);
        if (n < 0 || (size_t)n >= sizeof path) continue;
        if (access(path, F_OK) == 0) return sy_plugin_load_path(r, path, err, errlen);
    }

    /* Not found: say where we looked. */
    char dirs[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < r->n_dirs && used < sizeof dirs; i++) {
        int n = snprintf(dirs + used, sizeof dirs - used, "%s%s", i ? ", " : "", r->dirs[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    set_err(err, errlen, "plugin '%s' not found: no sy_%s.so in %s (directories from %s)", name,
            name, r->n_dirs ? dirs : "(no directories)",
            r->dirs_from ? r->dirs_from : "nowhere");
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t sy_plugin_load_all(sy_plugin_registry *r,
                          void (*report)(void *ctx, const char *path, const char *err), void *ctx)
{
    size_t count = 0;
    for (size_t i = 0; i < r->n_dirs; i++) {
        DIR *d = opendir(r->dirs[i]);
        if (!d) continue;
        char **files = NULL;
        size_t nf = 0, cap = 0;
        struct dirent *e;
        char namebuf[128];
        while ((e = readdir(d)) != NULL) {
            if (!name_from_file(e->d_name, namebuf, sizeof namebuf)) continue;
            if (nf == cap) {
                cap = cap ? cap * 2 : 16;
                char **nfiles = realloc(files, cap * sizeof *nfiles);
                if (!nfiles) break;
                files = nfiles;
            }
            files[nf++] = xstrdup(e->d_name);
        }
        closedir(d);
        if (nf) qsort(files, nf, sizeof *files, cmp_str);
        for (size_t j = 0; j < nf; j++) {
            char path[PATH_MAX], err[640];
            const char *nm = name_from_file(files[j], namebuf, sizeof namebuf);
            snprintf(path, sizeof path, "%s/%s", r->dirs[i], files[j]);
            free(files[j]);
            const sy_loaded_plugin *have = find_loaded_name(r, nm);
            if (have) {
                /* Already loaded: from this very file, or shadowed by an earlier directory. */
                char real[PATH_MAX];
                if (realpath(path, real) && !strcmp(real, have->path)) count++;
                continue;
            }
            if (sy_plugin_load_path(r, path, err, sizeof err)) count++;
            else if (report) report(ctx, path, err);
        }
        free(files);
    }
    return count;
}
