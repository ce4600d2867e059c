/*
 * loader.h - finding, loading and checking provider plugins.
 *
 * A plugin named NAME is the file "sy_NAME.so" in one of the search
 * directories (SWITCHYARD_PLUGIN_PATH, colon-separated, overrides the policy's
 * plugins.path, which overrides the built-in default: the build tree's
 * plugins folder when run from the build tree, else the install libdir).
 *
 * Loading uses dlopen(RTLD_NOW | RTLD_LOCAL). Before any plugin code runs the
 * loader checks, in this order, and turns each failure into one message:
 * not found, not a shared object, missing descriptor symbol, wrong ABI major,
 * newer ABI minor, descriptor too small, a required callback missing, a bad
 * config key declaration. The handle is closed on every failure path.
 * Loaded plugins stay loaded until the registry is freed, so a policy reload
 * never unloads code that old requests may still run.
 */
#ifndef SY_PLUGIN_LOADER_H
#define SY_PLUGIN_LOADER_H

#include <stddef.h>
#include <switchyard/plugin.h>

typedef struct sy_loaded_plugin {
    char *name;
    char *path;
    void *handle;
    const sy_plugin *desc;
} sy_loaded_plugin;

typedef struct sy_plugin_registry {
    char **dirs;               /* search directories, in order */
    size_t n_dirs;
    sy_loaded_plugin *loaded;
    size_t n_loaded, cap_loaded;
    const char *dirs_from;     /* where dirs came from, for "not found" messages (static) */
} sy_plugin_registry;

/* A registry is not thread-safe: one thread loads (startup, reload); loaded
 * descriptors are read-only and usable from any thread until the registry is freed. */

/* dirs from the policy (may be NULL/0). Honours SWITCHYARD_PLUGIN_PATH. */
void sy_plugin_registry_init(sy_plugin_registry *r, char *const *policy_dirs, size_t n);
/* Exactly these directories, ignoring SWITCHYARD_PLUGIN_PATH (`plugins --path`). */
void sy_plugin_registry_init_dirs(sy_plugin_registry *r, char *const *dirs, size_t n);
void sy_plugin_registry_free(sy_plugin_registry *r);
/* Replace the search directories (policy dirs), keeping what is loaded. */
void sy_plugin_registry_set_dirs(sy_plugin_registry *r, char *const *policy_dirs, size_t n);

/* Find and load a plugin by name (cached). NULL with a message in err on failure. */
const sy_plugin *sy_plugin_load(sy_plugin_registry *r, const char *name, char *err, size_t errlen);
/* Load one file by path (for `plugins` and tests). */
const sy_plugin *sy_plugin_load_path(sy_plugin_registry *r, const char *path, char *err,
                                     size_t errlen);
/* Load every sy_*.so found in the search directories; failures are reported
 * through report (may be NULL). Returns the number loaded. */
size_t sy_plugin_load_all(sy_plugin_registry *r,
                          void (*report)(void *ctx, const char *path, const char *err), void *ctx);

/* Check a descriptor already in memory (the loader's checks minus dlopen). */
int sy_plugin_check(const sy_plugin *p, char *err, size_t errlen);

/* The plugin's health_request (ABI 1.2), or NULL when it has none or was
 * built for an older minor (its descriptor ends before the field, so the host
 * must not read it). */
typedef int (*sy_plugin_health_fn)(void *instance, const sy_endpoint *ep, const char *path,
                                   sy_http_request *out, char *err, size_t errlen);
sy_plugin_health_fn sy_plugin_health_request(const sy_plugin *p);

/* The host services table handed to plugins. */
const sy_host_api *sy_host_api_get(void);

const char *sy_config_type_name(sy_config_type t); /* "string", "secret", "duration", ... */

/* Parse a config value's YAML text as type t (units.h syntaxes; URL: absolute
 * http(s)). On success fills *out (s borrows text; may be NULL to only check)
 * and returns 0; else -1 with a static reason in *why. */
int sy_config_value_parse(sy_config_type t, const char *text, sy_config_value *out,
                          const char **why);

#endif
