/*
 * test_loader.c - the plugin loader: search directories, every failure
 * message (against the fixtures in FIXTURE_DIR), caching, the descriptor
 * checks, config value parsing and the host services table.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_host.h"
#include "loader.h"
#include "rng.h"

static sy_plugin_registry reg;
static char err[1024];

static void fixture_registry(void)
{
    char *dirs[] = {FIXTURE_DIR};
    sy_plugin_registry_init_dirs(&reg, dirs, 1);
    err[0] = '\0';
}

static void teardown(void) { sy_plugin_registry_free(&reg); }

TestSuite(loader, .init = fixture_registry, .fini = teardown);

#define assert_has(hay, needle) \
    cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

/* Load a fixture by name: it must fail, with a message naming its file and
 * containing want; afterwards the file must not be left mapped. */
static void expect_failure(const char *name, const char *want)
{
    const sy_plugin *p = sy_plugin_load(&reg, name, err, sizeof err);
    cr_assert_null(p, "%s loaded but should not have", name);
    char file[256];
    snprintf(file, sizeof file, "/sy_%s.so", name);
    assert_has(err, file);
    assert_has(err, want);
    cr_assert_eq(reg.n_loaded, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s%s", FIXTURE_DIR, file);
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_null(h, "%s is still loaded after the failure", path);
}

Test(loader, loads_a_good_plugin_and_caches_it)
{
    const sy_plugin *p = sy_plugin_load(&reg, "good", err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_str_eq(p->name, "good");
    cr_assert_eq(p->abi_major, SY_PLUGIN_ABI_MAJOR);
    cr_assert_eq(reg.n_loaded, 1);
    assert_has(reg.loaded[0].path, "/sy_good.so");
    cr_assert_eq(sy_plugin_load(&reg, "good", err, sizeof err), p);
    char path[1024];
    snprintf(path, sizeof path, "%s/sy_good.so", FIXTURE_DIR);
    cr_assert_eq(sy_plugin_load_path(&reg, path, err, sizeof err), p);
    cr_assert_eq(reg.n_loaded, 1);
}

Test(loader, not_found_lists_the_directories)
{
    cr_assert_null(sy_plugin_load(&reg, "nope", err, sizeof err));
    assert_has(err, "plugin 'nope' not found");
    assert_has(err, "sy_nope.so");
    assert_has(err, FIXTURE_DIR);
}

Test(loader, refuses_a_bad_name)
{
    cr_assert_null(sy_plugin_load(&reg, "../good", err, sizeof err));
    assert_has(err, "bad plugin name");
    cr_assert_null(sy_plugin_load(&reg, "", err, sizeof err));
}

Test(loader, text_file_is_not_a_shared_object)
{
    expect_failure("text", "not a shared object");
}

Test(loader, undefined_symbol_cannot_be_loaded)
{
    expect_failure("undefined", "cannot be loaded");
    assert_has(err, "sy_fixture_function_that_does_not_exist");
}

Test(loader, missing_descriptor_symbol)
{
    expect_failure("nosym", "no 'switchyard_plugin' descriptor symbol");
}

Test(loader, symbol_too_small_to_be_a_descriptor)
{
    expect_failure("tiny", "too small to be a plugin descriptor");
}

Test(loader, wrong_abi_major)
{
    char want[128];
    snprintf(want, sizeof want, "built for plugin ABI 2.x, this switchyard speaks %d.%d",
             SY_PLUGIN_ABI_MAJOR, SY_PLUGIN_ABI_MINOR);
    expect_failure("abi2", want);
}

Test(loader, newer_abi_minor)
{
    char want[128];
    snprintf(want, sizeof want, "built for plugin ABI 1.7, newer than this switchyard's %d.%d",
             SY_PLUGIN_ABI_MAJOR, SY_PLUGIN_ABI_MINOR);
    expect_failure("newminor", want);
}

Test(loader, descriptor_smaller_than_the_abi)
{
    expect_failure("small", "needs");
    assert_has(err, "descriptor is");
}

Test(loader, missing_create)
{
    expect_failure("nocreate", "plugin 'nocreate' has no create callback (required)");
}

Test(loader, missing_build_request)
{
    expect_failure("nobuild",
                   "has no build_request callback (required unless local_reply is set)");
}

Test(loader, duplicate_key)
{
    expect_failure("dupkey", "config key 'greeting' is declared twice");
}

Test(loader, unknown_key_type)
{
    expect_failure("badtype", "config key 'colour' has type 42");
}

Test(loader, empty_key_name)
{
    expect_failure("badkeyname", "config key #2 has a bad name");
}

Test(loader, default_of_the_wrong_type)
{
    expect_failure("baddefault", "default \"soon\" is not a valid duration");
}

Test(loader, reserved_key)
{
    expect_failure("reserved", "config key 'endpoints' is reserved by switchyard");
}

Test(loader, descriptor_name_must_match_the_file)
{
    expect_failure("misnamed", "descriptor names plugin 'other', but the file is named for "
                               "'misnamed'");
}

Test(loader, a_symlink_is_named_by_its_own_name)
{
    char dir[] = "/tmp/sy-loader-XXXXXX", link[256], target[1024];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(link, sizeof link, "%s/sy_alias.so", dir);
    snprintf(target, sizeof target, "%s/sy_good.so", FIXTURE_DIR);
    cr_assert_eq(symlink(target, link), 0);
    char *dirs[] = {dir};
    sy_plugin_registry_free(&reg);
    sy_plugin_registry_init_dirs(&reg, dirs, 1);
    cr_assert_null(sy_plugin_load(&reg, "alias", err, sizeof err));
    assert_has(err, "descriptor names plugin 'good', but the file is named for 'alias'");
    /* Also when the target is already loaded under its own name. */
    cr_assert_not_null(sy_plugin_load_path(&reg, target, err, sizeof err), "%s", err);
    cr_assert_null(sy_plugin_load(&reg, "alias", err, sizeof err));
    assert_has(err, "named for 'alias'");
    unlink(link);
    rmdir(dir);
}

Test(loader, load_path_reports_a_missing_file)
{
    cr_assert_null(sy_plugin_load_path(&reg, FIXTURE_DIR "/sy_absent.so", err, sizeof err));
    assert_has(err, "sy_absent.so: No such file or directory");
    cr_assert_null(sy_plugin_load_path(&reg, FIXTURE_DIR, err, sizeof err));
    assert_has(err, "not a regular file");
}

typedef struct seen {
    int n;
    char all[16384];
} seen;

static void collect(void *ctx, const char *path, const char *msg)
{
    seen *s = ctx;
    s->n++;
    cr_assert(strstr(msg, path) != NULL, "message does not name %s: %s", path, msg);
    strncat(s->all, msg, sizeof s->all - strlen(s->all) - 2);
    strcat(s->all, "\n");
}

Test(loader, load_all_loads_the_good_and_reports_each_broken_file)
{
    seen s = {0};
    size_t n = sy_plugin_load_all(&reg, collect, &s);
    /* good, and the good plugins built for ABI 1.0 and 1.1 (loaded in file order) */
    cr_assert_eq(n, 3, "loaded %zu", n);
    cr_assert_eq(reg.n_loaded, 3);
    cr_assert_str_eq(reg.loaded[0].name, "abi10");
    cr_assert_str_eq(reg.loaded[1].name, "abi11");
    cr_assert_str_eq(reg.loaded[2].name, "good");
    /* Every broken fixture, plus the text file. */
    cr_assert_eq(s.n, 15, "%d reports:\n%s", s.n, s.all);
    assert_has(s.all, "sy_abi2.so: built for plugin ABI 2.x");
    assert_has(s.all, "sy_text.so: not a shared object");
    /* A second pass finds the same plugins, already loaded. */
    cr_assert_eq(sy_plugin_load_all(&reg, NULL, NULL), 3);
    cr_assert_eq(reg.n_loaded, 3);
}

/* ---------------------------------------------------------- search dirs */

Test(search, environment_overrides_policy_dirs)
{
    setenv("SWITCHYARD_PLUGIN_PATH", "/nonexistent/a::" FIXTURE_DIR "/", 1);
    char *policy_dirs[] = {"/policy/dir"};
    sy_plugin_registry_init(&reg, policy_dirs, 1);
    cr_assert_eq(reg.n_dirs, 2);
    cr_assert_str_eq(reg.dirs[0], "/nonexistent/a");
    cr_assert_str_eq(reg.dirs[1], FIXTURE_DIR);
    cr_assert_str_eq(reg.dirs_from, "SWITCHYARD_PLUGIN_PATH");
    cr_assert_not_null(sy_plugin_load(&reg, "good", err, sizeof err), "%s", err);
    cr_assert_null(sy_plugin_load(&reg, "nope", err, sizeof err));
    assert_has(err, "/nonexistent/a, " FIXTURE_DIR);
    assert_has(err, "SWITCHYARD_PLUGIN_PATH");
    sy_plugin_registry_free(&reg);
}

Test(search, policy_dirs_override_the_default)
{
    unsetenv("SWITCHYARD_PLUGIN_PATH");
    char *policy_dirs[] = {FIXTURE_DIR};
    sy_plugin_registry_init(&reg, policy_dirs, 1);
    cr_assert_eq(reg.n_dirs, 1);
    cr_assert_str_eq(reg.dirs_from, "plugins.path");
    cr_assert_not_null(sy_plugin_load(&reg, "good", err, sizeof err), "%s", err);
    /* New policy dirs keep what is loaded. */
    char *other[] = {"/elsewhere"};
    sy_plugin_registry_set_dirs(&reg, other, 1);
    cr_assert_str_eq(reg.dirs[0], "/elsewhere");
    cr_assert_not_null(sy_plugin_load(&reg, "good", err, sizeof err));
    sy_plugin_registry_free(&reg);
}

Test(search, default_is_the_build_tree_when_run_from_it)
{
    unsetenv("SWITCHYARD_PLUGIN_PATH");
    sy_plugin_registry_init(&reg, NULL, 0);
    cr_assert_eq(reg.n_dirs, 1);
    cr_assert_str_eq(reg.dirs[0], BUILD_PLUGIN_DIR);
    cr_assert_str_eq(reg.dirs_from, "the build tree");
    cr_assert_not_null(sy_plugin_load(&reg, "mock", err, sizeof err), "%s", err);
    cr_assert_not_null(sy_plugin_load(&reg, "openai", err, sizeof err), "%s", err);
    cr_assert_not_null(sy_plugin_load(&reg, "holysheep", err, sizeof err), "%s", err);
    cr_assert_eq(reg.n_loaded, 3);
    sy_plugin_registry_free(&reg);
}

/* ------------------------------------------------- older ABI minors */

/* Plugins built against the 1.0 and 1.1 headers: their descriptors end before
 * health_request (1.2). They load, and the host never reads the field (the
 * symbol ends there: an ASan build would catch a read past it). */
Test(loader, plugins_built_for_older_minors_still_load)
{
    static const struct {
        const char *name;
        uint32_t minor;
    } old[] = {{"abi10", 0}, {"abi11", 1}};
    for (size_t i = 0; i < 2; i++) {
        const sy_plugin *p = sy_plugin_load(&reg, old[i].name, err, sizeof err);
        cr_assert_not_null(p, "%s: %s", old[i].name, err);
        cr_assert_eq(p->abi_minor, old[i].minor);
        cr_assert_eq(p->size, offsetof(sy_plugin, health_request));
        cr_assert_null(sy_plugin_health_request(p), "%s has no health_request", old[i].name);
        cr_assert_not_null(p->build_request);
    }
}

/* ------------------------------------------------- descriptor checks */

static int dummy_create(const sy_host_api *h, const sy_config_value *c, void **i, char *e,
                        size_t el)
{
    (void)h, (void)c, (void)e, (void)el;
    *i = NULL;
    return 0;
}
static void dummy_destroy(void *i) { (void)i; }
static int dummy_local(void *i, const sy_endpoint *ep, const sy_request *r, sy_local_reply *o)
{
    (void)i, (void)ep, (void)r, (void)o;
    return 0;
}

static sy_plugin local_only(const sy_config_key *keys)
{
    return (sy_plugin){SY_PLUGIN_HEADER, .name = "t", .version = "1", .config_keys = keys,
                       .create = dummy_create, .destroy = dummy_destroy,
                       .local_reply = dummy_local};
}

static int dummy_health(void *i, const sy_endpoint *ep, const char *path, sy_http_request *o,
                        char *e, size_t el)
{
    (void)i, (void)ep, (void)path, (void)o, (void)e, (void)el;
    return 0;
}

Test(check, descriptor_size_per_minor)
{
    /* 1.3, 1.4 and 1.5 (which added no descriptor field) need the whole
     * descriptor; 1.2 ends before ops; 1.0 and 1.1 end before health_request. */
    sy_plugin p = local_only(NULL);
    p.size = (uint32_t)offsetof(sy_plugin, ops);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "plugin ABI 1.5 needs");
    p.abi_minor = 4;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "plugin ABI 1.4 needs");
    p.size = (uint32_t)sizeof(sy_plugin); /* a plugin built for 1.4 loads in a 1.5 host */
    cr_assert_eq(sy_plugin_check(&p, err, sizeof err), 0, "1.4: %s", err);
    p.size = (uint32_t)offsetof(sy_plugin, ops);
    p.abi_minor = 3;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "plugin ABI 1.3 needs");
    p.abi_minor = 2;
    cr_assert_eq(sy_plugin_check(&p, err, sizeof err), 0, "1.2: %s", err);
    p.size = (uint32_t)offsetof(sy_plugin, health_request);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "plugin ABI 1.2 needs");
    for (uint32_t minor = 0; minor < 2; minor++) {
        p.abi_minor = minor;
        cr_assert_eq(sy_plugin_check(&p, err, sizeof err), 0, "1.%u: %s", minor, err);
        p.size = (uint32_t)offsetof(sy_plugin, health_request) - 1;
        cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0, "1.%u too small", minor);
        p.size = (uint32_t)offsetof(sy_plugin, health_request);
    }
}

Test(check, health_request_is_read_only_when_the_descriptor_has_it)
{
    sy_plugin p = local_only(NULL);
    cr_assert_null(sy_plugin_health_request(&p), "none given");
    p.health_request = dummy_health;
    cr_assert_eq(sy_plugin_health_request(&p), dummy_health);
    /* The field is set in memory, but the descriptor says it ends before it
     * (or is of an older minor): the host must not use it. */
    p.size = (uint32_t)offsetof(sy_plugin, health_request);
    cr_assert_null(sy_plugin_health_request(&p));
    p.size = (uint32_t)sizeof(sy_plugin);
    p.abi_minor = 1;
    cr_assert_null(sy_plugin_health_request(&p));
    cr_assert_null(sy_plugin_health_request(NULL));
}

Test(check, local_reply_plugin_needs_no_build_request)
{
    sy_plugin p = local_only(NULL);
    cr_assert_eq(sy_plugin_check(&p, err, sizeof err), 0, "%s", err);
}

Test(check, refuses_what_the_loader_refuses)
{
    cr_assert_neq(sy_plugin_check(NULL, err, sizeof err), 0);
    sy_plugin p = local_only(NULL);
    p.name = NULL;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "descriptor has no name");
    p = local_only(NULL);
    p.name = "with space";
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    p = local_only(NULL);
    p.destroy = NULL;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "no destroy callback");
    p = local_only(NULL);
    p.version = NULL;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
}

Test(check, key_declarations)
{
    const sy_config_key required_default[] = {{"a", SY_CFG_INT, "1", 1, ""}, {0}};
    sy_plugin p = local_only(required_default);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "'a' is required and also has a default");

    const sy_config_key secret_default[] = {{"k", SY_CFG_SECRET, "x", 0, ""}, {0}};
    p = local_only(secret_default);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "secret");

    const sy_config_key reserved_ep[] = {{"base_url", SY_CFG_URL, NULL, 0, ""}, {0}};
    p = local_only(NULL);
    p.endpoint_keys = reserved_ep;
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "endpoint key 'base_url' is reserved");

    const sy_config_key upper[] = {{"ApiKey", SY_CFG_STRING, NULL, 0, ""}, {0}};
    p = local_only(upper);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);

    const sy_config_key fine[] = {{"rate", SY_CFG_PERCENT, "99.5%", 0, "h"},
                                  {"url", SY_CFG_URL, "https://example.com/v1", 0, NULL},
                                  {"on", SY_CFG_BOOL, "true", 0, NULL},
                                  {0}};
    p = local_only(fine);
    cr_assert_eq(sy_plugin_check(&p, err, sizeof err), 0, "%s", err);
}

Test(check, an_unterminated_key_list_is_caught)
{
    static sy_config_key many[200];
    static char names[200][8];
    for (int i = 0; i < 199; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = (sy_config_key){names[i], SY_CFG_INT, NULL, 0, ""};
    }
    sy_plugin p = local_only(many);
    cr_assert_neq(sy_plugin_check(&p, err, sizeof err), 0);
    assert_has(err, "missing its {NULL} end");
}

/* ---------------------------------------------------------- config values */

Test(config, parses_each_type)
{
    sy_config_value v;
    const char *why;
    cr_assert_eq(sy_config_value_parse(SY_CFG_DURATION, "250ms", &v, &why), 0);
    cr_assert_eq(v.i, 250);
    cr_assert_eq(v.set, 1);
    cr_assert_str_eq(v.s, "250ms");
    cr_assert_eq(sy_config_value_parse(SY_CFG_DURATION, "2s", &v, &why), 0);
    cr_assert_eq(v.i, 2000);
    cr_assert_eq(sy_config_value_parse(SY_CFG_INT, "-7", &v, &why), 0);
    cr_assert_eq(v.i, -7);
    cr_assert_eq(sy_config_value_parse(SY_CFG_NUMBER, "0.25", &v, &why), 0);
    cr_assert_float_eq(v.d, 0.25, 1e-12);
    cr_assert_eq(sy_config_value_parse(SY_CFG_PERCENT, "99.5%", &v, &why), 0);
    cr_assert_float_eq(v.d, 99.5, 1e-12);
    cr_assert_eq(sy_config_value_parse(SY_CFG_BOOL, "true", &v, &why), 0);
    cr_assert_eq(v.i, 1);
    cr_assert_eq(sy_config_value_parse(SY_CFG_URL, "http://127.0.0.1:8080/v1", &v, &why), 0);

    cr_assert_neq(sy_config_value_parse(SY_CFG_DURATION, "soon", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse(SY_CFG_INT, "1.5", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse(SY_CFG_PERCENT, "150", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse(SY_CFG_URL, "ftp://x", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse(SY_CFG_URL, "https://", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse(SY_CFG_URL, "https://a b", &v, &why), 0);
    cr_assert_neq(sy_config_value_parse((sy_config_type)99, "x", &v, &why), 0);
    cr_assert_str_eq(sy_config_type_name(SY_CFG_SECRET), "secret");
    cr_assert_str_eq(sy_config_type_name((sy_config_type)99), "unknown");
}

/* ------------------------------------------------------------ host table */

Test(host, table_is_complete_and_random_is_the_seeded_rng)
{
    const sy_host_api *h = sy_host_api_get();
    cr_assert_eq(h->size, sizeof(sy_host_api));
    cr_assert_eq(h->abi_minor, SY_PLUGIN_ABI_MINOR);
    cr_assert(h->log && h->alloc && h->free && h->random_u64);
    void *p = h->alloc(16);
    cr_assert_not_null(p);
    h->free(p);
    sy_rng_seed(42);
    uint64_t a = h->random_u64(), b = h->random_u64();
    sy_rng_seed(42);
    cr_assert_eq(sy_rng_u64(), a);
    cr_assert_eq(sy_rng_u64(), b);
    cr_assert_neq(a, b);
}

Test(host, log_is_one_prefixed_line_on_stderr, .init = cr_redirect_stderr)
{
    const sy_host_api *h = sy_host_api_get();
    h->log(SY_LOG_WARN, "demo", "upstream said %s", "two\nlines");
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char line[2048] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    assert_has(line, "[plugin demo] upstream said two lines");
    assert_has(line, "warn");
    char more[64];
    cr_assert_null(fgets(more, sizeof more, f), "a second line: %s", more);
}
